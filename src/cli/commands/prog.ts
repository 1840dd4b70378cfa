/** `tsbpf prog list`: the programs loaded in the kernel, like `bpftool prog list`. */
import { parseArgs } from 'node:util';
import { listPrograms, progTypeName } from '../../kernel/index.js';
import { bootTimeToDate, formatTime, lowerName } from '../kernel-format.js';
import { CliError, bold, dim, printJson } from '../output.js';

export const help = `usage: tsbpf prog [list] [--json]

Lists every BPF program loaded in the kernel (needs root or CAP_BPF):
id, type, name, tag, load time, sizes, verified instructions and maps.

options:
  --json    one JSON object per program, one per line
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  const sub = positionals[0] ?? 'list';
  if (sub !== 'list' && sub !== 'show') throw new CliError(`unknown 'prog' subcommand '${sub}' (try: list)`, 2);
  if (positionals.length > 1) throw new CliError(`unexpected argument '${positionals[1]}'`, 2);
  for (const p of listPrograms()) {
    const type = lowerName(progTypeName(p.type));
    const loadedAt = formatTime(bootTimeToDate(p.loadTime));
    if (values.json) {
      printJson({
        id: p.id, type, name: p.name, tag: p.tag, gpl_compatible: p.gplCompatible, loaded_at: loadedAt, uid: p.createdByUid,
        bytes_xlated: p.xlatedProgLen, jited: p.jitedProgLen > 0, bytes_jited: p.jitedProgLen, verified_insns: p.verifiedInsns,
        map_ids: p.mapIds, btf_id: p.btfId, run_time_ns: p.runTimeNs, run_cnt: p.runCount,
      });
      continue;
    }
    process.stdout.write(`${bold(`${p.id}:`)} ${type}  ${p.name ? `name ${p.name}  ` : ''}tag ${p.tag}${p.gplCompatible ? '  gpl' : ''}\n`);
    process.stdout.write(`\t${dim(`loaded_at ${loadedAt}  uid ${p.createdByUid}`)}\n`);
    const maps = p.mapIds.length ? `  map_ids ${p.mapIds.join(',')}` : '';
    const btf = p.btfId ? `  btf_id ${p.btfId}` : '';
    process.stdout.write(`\txlated ${p.xlatedProgLen}B  jited ${p.jitedProgLen}B  verified_insns ${p.verifiedInsns}${maps}${btf}\n`);
  }
  return 0;
}
