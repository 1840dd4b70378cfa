/**
 * `tsbpf run` start-up: wall time from spawn to "attached" for a module that
 * counts execve calls by process name, against the bpftrace one-liner doing
 * the same (`tracepoint:syscalls:sys_enter_execve { @[comm] = count(); }`).
 *
 * - "Attached" is the first moment the probe is live, the same test for
 *   both sides: after the process says so (tsbpf: the `{"attached":…}` line
 *   of `tsbpf run --json`; bpftrace: "Attaching 1 probe...", which it prints
 *   just before loading and attaching), the bench polls the process's file
 *   descriptors with BPF_TASK_FD_QUERY until one is a tracepoint perf event
 *   with a BPF program on it.
 *
 * Cold = an empty build cache (a private TSBPF_CACHE_DIR per run), cached = a
 * cache filled by an earlier run of the same module. Both are measured for the
 * built CLI (`node dist/cli/bin.js`, what `npx tsbpf` runs; `npm run build`
 * first) and for the sources through tsx. Each process is stopped with
 * SIGINT once attached. Runs alternate between the sides and each figure is
 * the median; CPU time of the process up to "attached" (all its threads, from
 * /proc) is shown too, as it is less disturbed by other work on a shared
 * machine.
 * `npx tsx bench/run-start.ts` runs it alone; TSBPF_BENCH_RUNS sets the count.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bpfSyscallRaw } from '../src/syscall/bpf.js';
import { Attr, BpfCommand } from '../src/syscall/layouts.generated.js';
import { type BenchRow, median } from './row.js';

const RUNS = Number(process.env.TSBPF_BENCH_RUNS ?? 5);
const ATTACH_TIMEOUT_MS = 60_000;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BPFTRACE_SCRIPT = 'tracepoint:syscalls:sys_enter_execve { @[comm] = count(); }';
const ANCHOR_NAME = `bpftrace -e '${BPFTRACE_SCRIPT}'`;

/** The tsbpf module equivalent to the bpftrace one-liner. */
const MODULE = `import { bpf, type CStr, hashMap, tracepoint, type u64 } from 'tsbpf/dsl';

export const execsByComm = hashMap<CStr<16>, u64>({ maxEntries: 1024 });

export const countExecve = tracepoint('syscalls/sys_enter_execve', () => {
  let comm!: CStr<16>;
  bpf.currentComm(comm);
  execsByComm.increment(comm);
  return 0;
});
`;

interface Sample {
  /** Milliseconds from spawn to the "attached" signal. */
  wall: number;
  /** CPU milliseconds (user + system) the process had used by then. */
  cpu: number;
}

/**
 * CPU milliseconds a live process has used so far: the sum over its threads of
 * /proc/PID/task/TID/schedstat (nanoseconds on the CPU), which is finer than
 * the clock ticks of /proc/PID/stat. NaN once the process is gone.
 */
function cpuMs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread exited meanwhile
      }
    }
    return ns / 1e6;
  } catch {
    return NaN;
  }
}

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

/** Resolves when the child has exited; SIGKILLs it if SIGINT is not enough. */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolveStop) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolveStop();
    });
    child.kill('SIGINT');
  });
}

/**
 * Spawns a command and measures until a line of its stdout or stderr
 * satisfies `attached` and its probe is live; then stops it and waits for it
 * to exit.
 */
async function timeToAttach(cmd: string[], env: NodeJS.ProcessEnv, attached: (line: string) => boolean): Promise<Sample> {
  const start = performance.now();
  const child = spawn(cmd[0]!, cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  try {
    let settled = false;
    return await new Promise<Sample>((resolvePromise, rejectPromise) => {
      const resolveSample = (sample: Sample) => {
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
          const pid = child.pid!;
          const poll = () => {
            if (!hasLiveTracepoint(pid)) {
              if (child.exitCode === null && child.signalCode === null) setTimeout(poll, LIVE_POLL_MS);
              return;
            }
            const wall = performance.now() - start;
            clearTimeout(timer);
            resolveSample({ wall, cpu: cpuMs(pid) });
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
  } finally {
    await stopChild(child);
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

export async function benchRunStart(): Promise<BenchRow[]> {
  const missing = preconditions();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bench-run-'));
  try {
    const modulePath = join(dir, 'execve-by-comm.bpf.ts');
    writeFileSync(modulePath, MODULE);
    const warmCache = join(dir, 'cache-warm');
    const envWith = (cacheDir: string): NodeJS.ProcessEnv => ({ ...process.env, TSBPF_CACHE_DIR: cacheDir, NO_COLOR: '1' });
    const cliArgs = ['run', modulePath, '--json'];
    const entries = {
      dist: [process.execPath, join(root, 'dist/cli/bin.js'), ...cliArgs],
      tsx: [process.execPath, '--import', 'tsx', join(root, 'src/cli/bin.ts'), ...cliArgs],
    };
    const bpftrace = ['bpftrace', '-e', BPFTRACE_SCRIPT];

    // Fill the warm cache (and the OS page cache) once per entry point. An
    // entry point that cannot attach (e.g. sources mid-edit) is reported and
    // left out; the others still give their figures.
    const working: Array<[string, string[]]> = [];
    for (const [entry, cmd] of Object.entries(entries)) {
      try {
        await timeToAttach(cmd, envWith(warmCache), tsbpfAttached);
        working.push([entry, cmd]);
      } catch (e) {
        process.stderr.write(`bench run: ${entry} entry point left out: ${(e as Error).message}\n`);
      }
    }
    if (working.length === 0) throw new Error('tsbpf run did not attach from any entry point');
    await timeToAttach(bpftrace, process.env, bpftraceAttached);

    const samples: Record<string, Sample[]> = { bpftrace: [] };
    for (let i = 0; i < RUNS; i++) {
      samples.bpftrace!.push(await timeToAttach(bpftrace, process.env, bpftraceAttached));
      for (const [entry, cmd] of working) {
        // Other work on a shared tree can rebuild dist/ or edit the sources
        // mid-run: a run that fails then is reported and dropped, not counted.
        try {
          const coldCache = mkdtempSync(join(dir, 'cache-cold-'));
          (samples[`${entry} cold`] ??= []).push(await timeToAttach(cmd, envWith(coldCache), tsbpfAttached));
          // A cached run that wrote a new cache entry missed (the compiler's
          // sources changed under it): that sample is not a cached start.
          const entriesBefore = readdirSync(warmCache).length;
          const cached = await timeToAttach(cmd, envWith(warmCache), tsbpfAttached);
          if (readdirSync(warmCache).length === entriesBefore) (samples[`${entry} cached`] ??= []).push(cached);
          else process.stderr.write(`bench run: ${entry} cached run ${i + 1} missed the cache (compiler sources changed); sample dropped\n`);
        } catch (e) {
          process.stderr.write(`bench run: ${entry} run ${i + 1} failed, dropped: ${(e as Error).message.split('\n')[0]}\n`);
        }
      }
    }

    const anchorWall = median(samples.bpftrace!.map((s) => s.wall));
    const anchorCpu = median(samples.bpftrace!.map((s) => s.cpu));
    const rows: BenchRow[] = [];
    const figures = [
      { key: 'dist cold', label: 'run cold build → attached (node dist/cli/bin.js)', target: '<= 1.0' },
      { key: 'dist cached', label: 'run cached build → attached (node dist/cli/bin.js)', target: '<= 0.25' },
      { key: 'tsx cold', label: 'run cold build → attached (tsx src/cli/bin.ts)', target: '<= 1.0' },
      { key: 'tsx cached', label: 'run cached build → attached (tsx src/cli/bin.ts)', target: '<= 0.25' },
    ];
    for (const [kind, anchor, pick] of [
      ['wall time', anchorWall, (s: Sample) => s.wall],
      ['cpu time', anchorCpu, (s: Sample) => s.cpu],
    ] as const) {
      for (const f of figures) {
        const got = samples[f.key];
        if (!got) continue;
        const ours = median(got.map(pick));
        rows.push({
          name: `${f.label}, ${kind}`,
          ours: Math.round(ours),
          anchor: Math.round(anchor),
          ratio: ours / anchor,
          unit: 'ms',
          anchorName: 'bpftrace one-liner',
          target: f.target,
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
      `${r.name.padEnd(62)} tsbpf ${String(r.ours).padStart(6)} ${r.unit}  bpftrace ${String(r.anchor).padStart(6)} ${r.unit}  ratio ${r.ratio.toFixed(2)}x (target ${r.target})\n`,
    );
  }
}
