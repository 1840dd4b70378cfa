/**
 * Where a cold `tsbpf run` spends its CPU before the load: each phase timed
 * with process.cpuUsage() in a fresh Node process running the built CLI's
 * modules (dist/), for the module of bench/run-start.ts. CPU milliseconds of
 * a phase depend on the CPU, not on what else runs on the machine (wall time
 * does), so these are the figures to compare across machines. Each row's
 * ratio is the phase's share of the sum; medians of TSBPF_BENCH_RUNS runs.
 *
 * A cold `tsbpf run` compiles in the compiler's start-up snapshot
 * (src/cli/compiler-snapshot.ts) once one is built: the second table times
 * that process (`node --snapshot-blob`): Node's start-up with the heap's
 * deserialization, the compile, and the whole process's CPU and peak memory.
 * The first table is the compile in the CLI's own process, which a run
 * without a snapshot (the first after an install) still takes.
 *
 * Run directly: npx tsx bench/start-phases.ts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BenchRow, median, readRusage, rusageWrapper } from './row.js';
import { moduleText } from './run-start.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.TSBPF_BENCH_RUNS ?? 5);

/** The child: CPU ms at each step, as JSON. */
const probe = (entry: string) => {
  const dist = (p: string) => JSON.stringify(pathToFileURL(join(root, 'dist', p)).href);
  return `
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const t0 = cpu();
// As bin.js: run's bundle when it is current (main loads the command, a chunk of it), else dist/ module by module.
const { currentBundle } = await import(${dist('cli/bundle-record.js')});
if (currentBundle(${JSON.stringify(join(root, 'dist/cli/tsbpf-cli-run.js'))})) {
  const { main } = await import(${dist('cli/tsbpf-cli-run.js')});
  const write = process.stdout.write;
  process.stdout.write = () => true;
  await main(['run', '--help']);
  process.stdout.write = write;
} else await import(${dist('cli/commands/run.js')});
const t1 = cpu();
const { compile, openModule } = await import(${dist('dsl/compiler/compile.js')});
const { nodeCompileOptions } = await import(${dist('cli/dsl-host.js')});
const t2 = cpu();
const opts = nodeCompileOptions(${JSON.stringify(entry)});
const { project, entry } = openModule(opts);
const program = project.getProgram().compilerObject;
program.getTypeChecker();
program.getSemanticDiagnostics(entry.compilerNode);
const t3 = cpu();
compile(opts);
const t4 = cpu();
process.stdout.write(JSON.stringify({ start: t0, cli: t1 - t0, importCompiler: t2 - t1, typescript: t3 - t2, lower: t4 - t3, peakMb: process.resourceUsage().maxRSS / 1024 }));
`;
};

type Phase = 'start' | 'cli' | 'importCompiler' | 'typescript' | 'lower';
const PHASES: Array<[Phase, string]> = [
  ['start', 'Node start-up (to the first line of the CLI)'],
  ['cli', 'import the run command (CLI, kernel layer, koffi; from the bundle when current)'],
  ['importCompiler', 'import the compiler (ts-morph + TypeScript)'],
  ['typescript', 'TypeScript program over lib + DSL + module: parse, bind, type check'],
  ['lower', 'lowering, IR passes, register allocation, emission'],
];

/** The compile in the start-up snapshot: a blob built here, then the snapshot process timed per phase. */
async function snapshotPhases(dir: string, entry: string): Promise<BenchRow[]> {
  const dist = (p: string) => pathToFileURL(join(root, 'dist', p)).href;
  const { nodeCompileOptions } = (await import(dist('cli/dsl-host.js'))) as typeof import('../src/cli/dsl-host.js');
  const { snapshotBlobPath, SNAPSHOT_BUNDLE, SNAPSHOT_NODE_FLAGS } = (await import(dist('cli/compiler-snapshot.js'))) as typeof import('../src/cli/compiler-snapshot.js');
  const { dslRoot, dslAliases = [] } = nodeCompileOptions(entry);
  const blob = snapshotBlobPath(join(dir, 'cache'), { dslRoot, dslAliases });
  if (!blob) throw new Error('dist/cli/compiler-snapshot.cjs is missing: run `npm run build` first');
  mkdirSync(dirname(blob), { recursive: true, mode: 0o700 });
  const env = { ...process.env, TSBPF_SNAPSHOT_DSL: JSON.stringify({ dslRoot, dslAliases }) };
  const built = spawnSync(process.execPath, [...SNAPSHOT_NODE_FLAGS, '--snapshot-blob', blob, '--build-snapshot', SNAPSHOT_BUNDLE], { env, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`building the compiler snapshot failed: ${built.stderr}`);
  chmodSync(blob, 0o600);
  const samples: Array<{ ready: number; compile: number; rest: number; total: number; peakMb: number }> = [];
  for (let i = 0; i < RUNS; i++) {
    const usage = join(dir, `rusage-${i}`);
    const [wrapper, ...args] = rusageWrapper(usage);
    const r = spawnSync(wrapper!, [...args, process.execPath, ...SNAPSHOT_NODE_FLAGS, '--snapshot-blob', blob], { input: JSON.stringify({ entry, dslRoot, dslAliases, timing: true }), encoding: 'utf8', maxBuffer: 1 << 28 });
    const answer = JSON.parse(r.stdout) as { module?: string; cpuMs?: { ready: number; compiled: number } };
    if (!answer.module || !answer.cpuMs) throw new Error(`the compiler snapshot did not compile the module: ${r.stdout.slice(0, 400)} ${r.stderr}`);
    const { cpu, peakMb } = readRusage(usage);
    samples.push({ ready: answer.cpuMs.ready, compile: answer.cpuMs.compiled - answer.cpuMs.ready, rest: cpu - answer.cpuMs.compiled, total: cpu, peakMb });
  }
  const total = median(samples.map((s) => s.total));
  const row = (name: string, ms: number): BenchRow => ({ name: `snapshot compile: ${name}`, ours: Math.round(ms), anchor: Math.round(total), ratio: ms / total, unit: 'ms CPU', anchorName: 'the snapshot process, whole', target: 'breakdown' });
  return [
    row('Node start-up and deserializing the heap (TypeScript, the parsed lib and DSL)', median(samples.map((s) => s.ready))),
    row('compile of the module (program, check, lowering, emission, answer as JSON)', median(samples.map((s) => s.compile))),
    row('the rest (writing the answer, exit)', median(samples.map((s) => s.rest))),
    { name: 'snapshot compile: peak memory of the process', ours: Math.round(median(samples.map((s) => s.peakMb))), anchor: NaN, ratio: NaN, unit: 'MB', target: 'breakdown' },
  ];
}

export async function benchStartPhases(): Promise<BenchRow[]> {
  if (!existsSync(join(root, 'dist/dsl/compiler/compile.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bench-phases-'));
  try {
    const entry = join(dir, 'execve-by-comm.bpf.ts');
    writeFileSync(entry, moduleText());
    const samples: Array<Record<Phase | 'peakMb', number>> = [];
    for (let i = 0; i < RUNS; i++) {
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', probe(entry)], { cwd: root, encoding: 'utf8' });
      samples.push(JSON.parse(out) as Record<Phase | 'peakMb', number>);
    }
    const medians = PHASES.map(([p]) => median(samples.map((s) => s[p])));
    const total = medians.reduce((a, b) => a + b, 0);
    const rows: BenchRow[] = PHASES.map(([, label], i) => ({
      name: `cold compile path: ${label}`,
      ours: Math.round(medians[i]!),
      anchor: Math.round(total),
      ratio: medians[i]! / total,
      unit: 'ms CPU',
      anchorName: 'sum of the phases',
      target: 'breakdown',
    }));
    rows.push({ name: 'cold compile path: peak memory of the process', ours: Math.round(median(samples.map((s) => s.peakMb))), anchor: NaN, ratio: NaN, unit: 'MB', target: 'breakdown' });
    rows.push(...(await snapshotPhases(dir, entry)));
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await benchStartPhases()) process.stdout.write(`${r.name.padEnd(96)} ${String(r.ours).padStart(6)} ${r.unit}  ${Number.isNaN(r.ratio) ? '' : `${(r.ratio * 100).toFixed(0)} %`}\n`);
}
