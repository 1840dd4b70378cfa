/** `tsbpf prog list`: the programs loaded in the kernel, like `bpftool prog list`. */
import { parseArgs } from 'node:util';
import { Program, SyscallError, listPrograms, progTypeName, type ProgInfo } from '../../kernel/index.js';
import { bootTimeToDate, formatTime, lowerName } from '../kernel-format.js';
import { CliError, bold, dim, printJson } from '../output.js';
import { progRun, runHelp } from '../prog-run.js';
import { dumpHelp, progDump } from '../prog-dump.js';

export const help = `usage: tsbpf prog [list] [--json]
       tsbpf prog show ID [--json]
       tsbpf prog run id ID | pinned PATH | name NAME data_in FILE [...]
       tsbpf prog dump xlated|jited id ID | pinned PATH | name NAME [file FILE]

Lists every BPF program loaded in the kernel (needs root or CAP_BPF), or
the one with id ID: id, type, name, tag, load time, sizes, verified
instructions and maps.

${runHelp}
${dumpHelp}

options:
  --json    one JSON object per program, one per line
`;

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'run') return progRun(argv.slice(1));
  if (argv[0] === 'dump') return progDump(argv.slice(1));
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  const sub = positionals[0] ?? 'list';
  if (sub !== 'list' && sub !== 'show') throw new CliError(`unknown 'prog' subcommand '${sub}' (try: list, show, run, dump)`, 2);
  if (positionals.length > (sub === 'show' ? 2 : 1)) throw new CliError(`unexpected argument '${positionals.at(-1)}'`, 2);
  let programs: ProgInfo[];
  if (sub === 'show') {
    const id = Number(positionals[1]);
    if (!Number.isInteger(id) || id <= 0) throw new CliError(`prog show needs a program id, got '${positionals[1] ?? ''}'`, 2);
    try {
      using p = Program.fromId(id);
      programs = [p.info()];
    } catch (e) {
      if (e instanceof SyscallError && e.errnoName === 'ENOENT') throw new CliError(`no program with id ${id}`);
      throw e;
    }
  } else {
    programs = listPrograms();
  }
  for (const p of programs) {
    const type = lowerName(progTypeName(p.type));
    const loadedDate = bootTimeToDate(p.loadTime);
    const loadedAt = formatTime(loadedDate);
    if (values.json) {
      // Field names and loaded_at (Unix seconds) as in `bpftool prog list -j`.
      printJson({
        id: p.id, type, name: p.name, tag: p.tag, gpl_compatible: p.gplCompatible, loaded_at: Math.floor(loadedDate.getTime() / 1000), uid: p.createdByUid,
        bytes_xlated: p.xlatedProgLen, jited: p.jitedProgLen > 0, bytes_jited: p.jitedProgLen, verified_insns: p.verifiedInsns,
        map_ids: p.mapIds, btf_id: p.btfId,
        // Numbers, and only once the program has run (kernel.bpf_stats_enabled), as bpftool.
        ...(p.runTimeNs ? { run_time_ns: Number(p.runTimeNs), run_cnt: Number(p.runCount) } : {}),
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
