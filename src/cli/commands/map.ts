/**
 * `tsbpf map <subcommand>`: maps loaded in the kernel. Each subcommand is
 * one entry of `subcommands`; `list` lives here, `dump` is added next to it.
 */
import { parseArgs } from 'node:util';
import { listMaps, mapTypeName } from '../../kernel/index.js';
import { lowerName } from '../kernel-format.js';
import { dump, dumpHelp } from '../map-dump.js';
import { elemHelp, lookup, remove, update } from '../map-elem.js';
import { CliError, bold, printJson } from '../output.js';

export const help = `usage: tsbpf map list [--json]
       tsbpf map dump id ID | pinned PATH | name NAME [--json]
       tsbpf map lookup|update|delete MAP key KEY [value VALUE] [--json]

subcommands:
  list      every BPF map in the kernel: id, type, name, key/value sizes,
            max entries, flags (needs root or CAP_BPF)
${dumpHelp}
${elemHelp}

options:
  --json    one JSON object per map, one per line
`;

type Subcommand = (argv: string[]) => Promise<number>;

async function list(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (positionals.length) throw new CliError(`unexpected argument '${positionals[0]}'`, 2);
  for (const m of listMaps()) {
    const type = lowerName(mapTypeName(m.type));
    if (values.json) {
      printJson({
        id: m.id, type, name: m.name, flags: m.flags, bytes_key: m.keySize, bytes_value: m.valueSize, max_entries: m.maxEntries,
        btf_id: m.btfId, ...(m.mapExtra ? { map_extra: Number(m.mapExtra) } : {}), // a number, and only when set, as bpftool
      });
      continue;
    }
    const name = m.name ? `  name ${m.name}` : '';
    const flags = `  flags 0x${m.flags.toString(16)}`;
    process.stdout.write(`${bold(`${m.id}:`)} ${type}${name}${flags}\n`);
    process.stdout.write(`\tkey ${m.keySize}B  value ${m.valueSize}B  max_entries ${m.maxEntries}${m.btfId ? `  btf_id ${m.btfId}` : ''}\n`);
  }
  return 0;
}

/** Subcommands by name; add new ones here. */
export const subcommands: Record<string, Subcommand> = { list, dump, lookup, update, delete: remove };

export async function run(argv: string[]): Promise<number> {
  const [name = 'list', ...rest] = argv[0]?.startsWith('-') ? ['list', ...argv] : argv;
  const sub = subcommands[name];
  if (!sub) throw new CliError(`unknown 'map' subcommand '${name}' (try: ${Object.keys(subcommands).join(', ')})`, 2);
  return sub(rest);
}
