/**
 * `tsbpf run` start-up and footprint (issue 14): a module that counts execve
 * calls by process name, against the bpftrace one-liner doing the same
 * (`tracepoint:syscalls:sys_enter_execve { @[comm] = count(); }`).
 *
 * - "Attached" is the first moment the probe is live, the same test for
 *   both sides: after the process says so (tsbpf: the `{"attached":…}` line
 *   of `tsbpf run --json`; bpftrace: "Attaching 1 probe...", which it prints
 *   just before loading and attaching), the bench polls the file descriptors
 *   of the process tree with BPF_TASK_FD_QUERY until one is a tracepoint
 *   perf event with a BPF program on it. Then the process group gets SIGINT
 *   (Ctrl-C) and the bench waits for the exit.
 * - Each figure: wall time and CPU time to attached (CPU summed over the
 *   process tree's threads from /proc/PID/task/TID/schedstat), CPU time of
 *   the whole process to its exit and its peak memory (user + system time
 *   and maximum RSS from getrusage of the process tree). Wall time counts
 *   from the fork of the command, not from the bench's spawn of its wrapper.
 * - Cold = an empty build cache (a private TSBPF_CACHE_DIR per run) holding
 *   only the compiler's start-up snapshot (src/cli/compiler-snapshot.ts),
 *   which the first compile after an install builds in the background; first
 *   = the first run after an install: no build cache and no snapshot (the
 *   background build it starts counts while it overlaps the run, and the
 *   next sample waits for it); cached = a cache filled by an earlier run of
 *   the same module; edit = the module with one line changed (its map's
 *   maxEntries) since the last run, the cache otherwise warm.
 *   TSBPF_COMPILER_SNAPSHOT=0 measures the compile without the snapshot.
 * - Entry points: the installed binary (`node dist/cli/bin.js`: what a global
 *   or linked install and `npx` start; `npm run build` first) and the
 *   README's command as typed, `npx tsbpf run …` in the package directory
 *   (`--no-install`, so that npx never fetches a package of that name).
 * - Rounds alternate between the sides; each figure is the median.
 * `npx tsx bench/run-start.ts` runs it alone; TSBPF_BENCH_RUNS sets the count.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bpfSyscallRaw } from '../src/syscall/bpf.js';
import { Attr, BpfCommand } from '../src/syscall/layouts.generated.js';
import { type BenchRow, forkedAt, median, readRusage, rusageWrapper } from './row.js';

const RUNS = Number(process.env.TSBPF_BENCH_RUNS ?? 5);
const ATTACH_TIMEOUT_MS = 120_000;
const SNAPSHOT_TIMEOUT_MS = 300_000;
/** TSBPF_COMPILER_SNAPSHOT=0 (passed on to tsbpf) measures the compile in the CLI's own process, as before the snapshot. */
const SNAPSHOT = process.env.TSBPF_COMPILER_SNAPSHOT !== '0';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BPFTRACE_SCRIPT = 'tracepoint:syscalls:sys_enter_execve { @[comm] = count(); }';
const ANCHOR_NAME = `bpftrace -e '${BPFTRACE_SCRIPT}'`;

/** The tsbpf module equivalent to the bpftrace one-liner; `maxEntries` is the line an edit changes. */
export const moduleText = (maxEntries = 1024) => `import { bpf, type CStr, hashMap, tracepoint, type u64 } from 'tsbpf/dsl';

export const execsByComm = hashMap<CStr<16>, u64>({ maxEntries: ${maxEntries} });

export const countExecve = tracepoint('syscalls/sys_enter_execve', () => {
  let comm!: CStr<16>;
  bpf.currentComm(comm);
  execsByComm.increment(comm);
  return 0;
});
`;

export interface StartSample {
  /** Milliseconds from spawn to the probe being live. */
  wall: number;
  /** CPU milliseconds (user + system) the process tree had used by then. */
  cpu: number;
  /** CPU milliseconds of the whole process tree, to its exit (getrusage). */
  cpuTotal: number;
  /** Peak resident memory in MB (getrusage maxrss: the largest process of the tree). */
  peakMb: number;
}

/** The process and every descendant (npx runs the CLI in a child process). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        try {
          const children = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
          if (children) out.push(...children.split(' ').map(Number));
        } catch {
          // the thread exited meanwhile
        }
      }
    } catch {
      // the process exited meanwhile
    }
  }
  return out;
}

/**
 * CPU milliseconds a live process tree has used so far: the sum over its
 * threads of /proc/PID/task/TID/schedstat (nanoseconds on the CPU), which is
 * finer than the clock ticks of /proc/PID/stat, plus the CPU of children the
 * tree's processes have already reaped (cutime + cstime of /proc/PID/stat, in
 * clock ticks): a cold run compiles in a child process that exits before
 * the attach.
 */
function cpuMs(pids: number[]): number {
  let ns = 0;
  let reapedTicks = 0;
  for (const pid of pids) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try {
          ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
        } catch {
          // the thread exited meanwhile
        }
      }
      // Fields after the command's closing parenthesis: state is field 3, cutime and cstime 16 and 17.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      reapedTicks += Number(fields[13]) + Number(fields[14]);
    } catch {
      // the process exited meanwhile
    }
  }
  return ns / 1e6 + (reapedTicks * 1000) / CLOCK_TICKS;
}

/** Clock ticks per second of /proc/PID/stat's times. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

const BPF_FD_TYPE_TRACEPOINT = 1;
const LIVE_POLL_MS = 1;

/**
 * Whether a process holds a tracepoint perf event with a BPF program attached
 * (BPF_TASK_FD_QUERY on each of its file descriptors).
 */
function hasLiveTracepoint(pid: number): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  const layout = Attr.taskFdQuery;
  const attr = new Uint8Array(layout.size);
  const view = new DataView(attr.buffer);
  for (const fd of fds) {
    attr.fill(0);
    view.setUint32(layout.pid, pid, true);
    view.setUint32(layout.fd, Number(fd), true);
    if (bpfSyscallRaw(BpfCommand.TASK_FD_QUERY, attr, layout.size) !== 0) continue;
    if (view.getUint32(layout.prog_id, true) !== 0 && view.getUint32(layout.fd_type, true) === BPF_FD_TYPE_TRACEPOINT) return true;
  }
  return false;
}

/** Ctrl-C to the process group; SIGKILL if that is not enough. Resolves at exit. */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolveStop) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // gone already
      }
    };
    const kill = setTimeout(() => signal('SIGKILL'), 60_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolveStop();
    });
    signal('SIGINT');
  });
}

/**
 * Spawns a command (under rusageWrapper, in its own process group) and
 * measures until a line of its output satisfies `attached` and a probe of
 * its process tree is live; then stops it and reads its rusage.
 */
async function timeToAttach(cmd: string[], opts: { env: NodeJS.ProcessEnv; cwd?: string }, attached: (line: string) => boolean): Promise<StartSample> {
  const usage = join(mkdtempSync(join(tmpdir(), 'tsbpf-bench-usage-')), 'rusage');
  const [wrapper, ...wrapperArgs] = rusageWrapper(usage);
  const child = spawn(wrapper!, [...wrapperArgs, ...cmd], { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  try {
    let settled = false;
    const partial = await new Promise<Pick<StartSample, 'wall' | 'cpu'>>((resolvePromise, rejectPromise) => {
      const resolveSample = (sample: Pick<StartSample, 'wall' | 'cpu'>) => {
        settled = true;
        resolvePromise(sample);
      };
      const reject = (e: Error) => {
        settled = true;
        rejectPromise(e);
      };
      const timer = setTimeout(() => reject(new Error(`${cmd.join(' ')}: not attached after ${ATTACH_TIMEOUT_MS} ms\n${output}`)), ATTACH_TIMEOUT_MS);
      let done = false;
      const watch = (stream: NodeJS.ReadableStream) => {
        let pending = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          if (done) return;
          output += chunk;
          pending += chunk;
          const lines = pending.split('\n');
          pending = lines.pop()!;
          if (!lines.some(attached)) return;
          done = true;
          // Said so; now wait until the probe is really live.
          const poll = () => {
            const tree = processTree(child.pid!).slice(1); // not the rusage wrapper itself
            if (!tree.some(hasLiveTracepoint)) {
              if (child.exitCode === null && child.signalCode === null) setTimeout(poll, LIVE_POLL_MS);
              return;
            }
            const wall = Number(process.hrtime.bigint() - forkedAt(usage)!) / 1e6;
            clearTimeout(timer);
            resolveSample({ wall, cpu: cpuMs(tree) });
          };
          poll();
        });
      };
      watch(child.stdout!);
      watch(child.stderr!);
      child.once('error', (e) => reject(e));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!settled) reject(new Error(`${cmd.join(' ')} exited (${code ?? signal}) before its probe was live:\n${output}`));
      });
    });
    await stopChild(child);
    try {
      const whole = readRusage(usage);
      return { ...partial, cpuTotal: whole.cpu, peakMb: whole.peakMb };
    } catch (e) {
      // The wrapper was killed (a stop that needed SIGKILL): the figures to attached still count.
      process.stderr.write(`bench run: no rusage for ${cmd.join(' ')} (${(e as Error).message}); whole-process figures of this sample left out\n`);
      return { ...partial, cpuTotal: NaN, peakMb: NaN };
    }
  } finally {
    await stopChild(child);
    rmSync(dirname(usage), { recursive: true, force: true });
  }
}

/** Waits until the compiler's start-up snapshot a cold compile started building is in the cache (it builds in the background). */
async function snapshotBuilt(cache: string): Promise<void> {
  if (!SNAPSHOT) return;
  const dir = join(cache, 'snapshot');
  const deadline = Date.now() + SNAPSHOT_TIMEOUT_MS;
  for (;;) {
    const files = existsSync(dir) ? readdirSync(dir) : [];
    if (files.some((f) => f.endsWith('.blob')) && !files.some((f) => f.endsWith('.lock'))) return;
    if (Date.now() > deadline) throw new Error(`no compiler snapshot in ${dir} after ${SNAPSHOT_TIMEOUT_MS} ms (files: ${files.join(', ') || 'none'})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A `{"attached": …}` JSON line from `tsbpf run --json`. */
function tsbpfAttached(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    return typeof (JSON.parse(line) as { attached?: unknown }).attached === 'string';
  } catch {
    return false;
  }
}

const bpftraceAttached = (line: string): boolean => /^Attaching \d+ probes?\.\.\./.test(line);

function preconditions(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root (bpf() and tracepoints)';
  if (!existsSync('/usr/bin/bpftrace') && !process.env.PATH?.split(':').some((p) => existsSync(join(p, 'bpftrace')))) {
    return 'bpftrace is not installed (apt-get install bpftrace)';
  }
  if (!existsSync(join(root, 'dist/cli/bin.js'))) return 'dist/cli/bin.js is missing: run `npm run build` first';
  return null;
}

/** A figure of the table: which samples, what they are, and the target ratio per measure. */
interface Figure {
  key: string;
  label: string;
  targets: Partial<Record<Measure, string>>;
}
type Measure = 'cpu' | 'wall' | 'cpuTotal' | 'peakMb';
const MEASURES: Array<{ m: Measure; what: string; unit: string }> = [
  { m: 'cpu', what: 'CPU time to attached', unit: 'ms' },
  { m: 'wall', what: 'wall time to attached', unit: 'ms' },
  { m: 'cpuTotal', what: 'CPU time, whole process', unit: 'ms' },
  { m: 'peakMb', what: 'peak memory', unit: 'MB' },
];

const COLD = { cpu: '<= 2.0', wall: '<= 2.0', cpuTotal: '<= 2.0', peakMb: '<= 1.0' };
const CACHED = { cpu: '<= 1.0', wall: '<= 1.0', cpuTotal: '<= 1.0', peakMb: '<= 0.75' };
const EDIT = { cpu: '<= 1.5', wall: '<= 1.5', cpuTotal: '<= 1.5' };
const FIGURES: Figure[] = [
  { key: 'installed cold', label: 'run cold (tsbpf installed: node dist/cli/bin.js)', targets: COLD },
  { key: 'installed first', label: 'first run after install: no build cache, no snapshot yet (tsbpf installed)', targets: COLD },
  { key: 'installed cached', label: 'run cached (tsbpf installed)', targets: CACHED },
  { key: 'installed edit', label: 'run after a one-line edit (tsbpf installed)', targets: EDIT },
  { key: 'npx cold', label: 'run cold as typed (npx tsbpf run …)', targets: COLD },
  { key: 'npx cached', label: 'run cached as typed (npx tsbpf run …)', targets: CACHED },
];

export async function benchRunStart(): Promise<BenchRow[]> {
  const missing = preconditions();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bench-run-'));
  try {
    const modulePath = join(dir, 'execve-by-comm.bpf.ts');
    const editPath = join(dir, 'edited.bpf.ts');
    writeFileSync(modulePath, moduleText());
    writeFileSync(editPath, moduleText());
    const warmCache = join(dir, 'cache-warm');
    const envWith = (cacheDir: string): NodeJS.ProcessEnv => ({ ...process.env, TSBPF_CACHE_DIR: cacheDir, NO_COLOR: '1' });
    const args = (file: string) => ['run', file, '--json'];
    const entries: Record<string, (file: string) => string[]> = {
      installed: (file) => [process.execPath, join(root, 'dist/cli/bin.js'), ...args(file)],
      npx: (file) => ['npx', '--no-install', 'tsbpf', ...args(file)],
    };
    const bpftrace = ['bpftrace', '-e', BPFTRACE_SCRIPT];
    const run = (entry: string, file: string, cache: string) => timeToAttach(entries[entry]!(file), { env: envWith(cache), cwd: root }, tsbpfAttached);

    // Fill the warm cache (and the OS page cache) once per entry point. An
    // entry point that cannot attach is reported and left out.
    const working: string[] = [];
    for (const entry of Object.keys(entries)) {
      try {
        await run(entry, modulePath, warmCache);
        working.push(entry);
      } catch (e) {
        process.stderr.write(`bench run: ${entry} entry point left out: ${(e as Error).message}\n`);
      }
    }
    if (working.length === 0) throw new Error('tsbpf run did not attach from any entry point');
    await run(working[0]!, editPath, warmCache);
    await snapshotBuilt(warmCache);
    await timeToAttach(bpftrace, { env: process.env }, bpftraceAttached);
    /** An empty build cache with the snapshot the warm runs built. */
    const coldCache = () => {
      const cache = mkdtempSync(join(dir, 'cache-cold-'));
      if (!SNAPSHOT) return cache;
      cpSync(join(warmCache, 'snapshot'), join(cache, 'snapshot'), { recursive: true });
      chmodSync(join(cache, 'snapshot'), 0o700);
      for (const f of readdirSync(join(cache, 'snapshot'))) chmodSync(join(cache, 'snapshot', f), 0o600);
      return cache;
    };

    const samples: Record<string, StartSample[]> = { bpftrace: [] };
    const add = (key: string, s: StartSample) => (samples[key] ??= []).push(s);
    for (let i = 0; i < RUNS; i++) {
      add('bpftrace', await timeToAttach(bpftrace, { env: process.env }, bpftraceAttached));
      for (const entry of working) {
        // Other work on a shared tree can rebuild dist/ or edit the sources
        // mid-run: a run that fails then is reported and dropped, not counted.
        try {
          add(`${entry} cold`, await run(entry, modulePath, coldCache()));
          if (entry === 'installed') {
            const empty = mkdtempSync(join(dir, 'cache-first-'));
            add(`${entry} first`, await run(entry, modulePath, empty));
            await snapshotBuilt(empty);
          }
          // A cached run that wrote a new cache entry missed (the compiler's
          // sources changed under it): that sample is not a cached start.
          const entriesBefore = readdirSync(warmCache).length;
          const cached = await run(entry, modulePath, warmCache);
          if (readdirSync(warmCache).length === entriesBefore) add(`${entry} cached`, cached);
          else process.stderr.write(`bench run: ${entry} cached run ${i + 1} missed the cache (compiler sources changed); sample dropped\n`);
          if (entry === 'installed') {
            writeFileSync(editPath, moduleText(1025 + i));
            add(`${entry} edit`, await run(entry, editPath, warmCache));
          }
        } catch (e) {
          process.stderr.write(`bench run: ${entry} run ${i + 1} failed, dropped: ${(e as Error).message.split('\n')[0]}\n`);
        }
      }
    }

    const rows: BenchRow[] = [];
    for (const { m, what, unit } of MEASURES) {
      const anchor = median(samples.bpftrace!.map((s) => s[m]));
      for (const f of FIGURES) {
        const got = samples[f.key];
        if (!got) continue;
        const ours = median(got.map((s) => s[m]));
        rows.push({
          name: `${f.label}, ${what}`,
          ours: Math.round(ours * 10) / 10,
          anchor: Math.round(anchor * 10) / 10,
          ratio: ours / anchor,
          unit,
          anchorName: 'bpftrace one-liner',
          target: f.targets[m] ?? 'report',
        });
      }
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(`anchor: ${ANCHOR_NAME}, ${RUNS} runs each, medians\n`);
  for (const r of await benchRunStart()) {
    process.stdout.write(
      `${r.name.padEnd(72)} tsbpf ${String(r.ours).padStart(7)} ${r.unit}  bpftrace ${String(r.anchor).padStart(7)} ${r.unit}  ratio ${r.ratio.toFixed(2)}x (target ${r.target})\n`,
    );
  }
}
