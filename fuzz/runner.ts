/**
 * Runs a fuzz target over inputs 0..count-1 of a seed in child processes
 * (a new one every `chunk` inputs), with a watchdog: an input that runs
 * past the target's time bound (CPU time of the child, so a busy machine
 * does not make hangs up) is a hang (the child is killed and the run
 * resumes after it), a child that dies of a signal or an exit code is a
 * crash on the input it had started, and so is any error that is not the
 * module's typed one. Each finding is written out as a reproducer file
 * (replay it with `npm run fuzz -- TARGET --replay FILE`).
 */
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inputRandom } from './random.js';
import { loadTarget } from './targets.js';
import type { FuzzInput, FuzzTarget } from './target.js';

export type ChildMessage =
  /** Sent before each input, with the child's counts so far. */
  | { kind: 'start'; index: number; ok: number; rejected: number }
  | { kind: 'crash'; index: number; error: string; stack: string }
  | { kind: 'done'; ok: number; rejected: number; slowest: { index: number; ms: number } };

export interface Finding {
  kind: 'crash' | 'hang' | 'signal';
  index: number;
  error: string;
  /** The reproducer file. */
  file: string;
}

export interface FuzzSummary {
  target: string;
  seed: number;
  count: number;
  ok: number;
  rejected: number;
  findings: Finding[];
  seconds: number;
  /** The slowest input that finished, in milliseconds. */
  slowest: { index: number; ms: number };
  timeoutMs: number;
}

export interface FuzzOptions {
  target: string;
  seed: number;
  count: number;
  /** First input index (default 0): inputs start..start+count-1 run. */
  start?: number;
  /** Overrides the target's per-input time bound. */
  timeoutMs?: number;
  /** Where reproducers go (default fuzz/findings). */
  outDir?: string;
  /** Progress lines (default none). */
  progress?: (line: string) => void;
  /** Extra node flags for the children (default a 2 GiB heap). */
  nodeFlags?: string[];
}

const CHILD = new URL('./child.ts', import.meta.url).pathname;

/** A hang that sleeps instead of spinning is caught when wall time passes this many bounds. */
const WALL_SLACK = 20;
const TICKS_PER_MS = 100 / 1000; // USER_HZ

/** CPU time (user + system) a process has used, from /proc; undefined where there is no /proc. */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_MS;
  } catch {
    return undefined;
  }
}

/** Writes input `index` of the run as a reproducer, with what happened next to it. */
function writeReproducer(target: FuzzTarget, seed: number, index: number, outDir: string, report: string): string {
  mkdirSync(outDir, { recursive: true });
  let input: FuzzInput;
  try {
    input = target.generate(inputRandom(seed, index));
  } catch (e) {
    input = { variant: 'generator-failed', data: String((e as Error)?.stack ?? e) };
  }
  const file = join(outDir, `${target.name}-seed${seed}-${index}.${input.variant}`);
  writeFileSync(file, input.data);
  writeFileSync(`${file}.log`, `${report}\nreplay: npm run fuzz -- ${target.name} --replay ${file}\nregenerate: npm run fuzz -- ${target.name} --seed ${seed} --start ${index} --count 1\n`);
  return file;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const target = await loadTarget(options.target);
  const timeoutMs = options.timeoutMs ?? target.timeoutMs;
  const outDir = options.outDir ?? new URL('./findings', import.meta.url).pathname;
  const summary: FuzzSummary = { target: target.name, seed: options.seed, count: options.count, ok: 0, rejected: 0, findings: [], seconds: 0, slowest: { index: -1, ms: 0 }, timeoutMs };
  const started = performance.now();
  let lastProgress = started;
  const find = (kind: Finding['kind'], index: number, error: string, stack = '') => {
    const file = writeReproducer(target, options.seed, index, outDir, `${kind} on input ${index} of ${target.name} seed ${options.seed}: ${error}\n${stack}`);
    summary.findings.push({ kind, index, error, file });
    options.progress?.(`${kind} on input ${index}: ${error} -> ${file}`);
  };

  const first = options.start ?? 0;
  const last = first + options.count;
  let next = first;
  while (next < last) {
    const end = Math.min(last, next + target.chunk);
    // One child for [next, end); returns where the following child starts.
    next = await new Promise<number>((resolve, reject) => {
      const child = fork(CHILD, [target.name, String(options.seed), String(next), String(end)], {
        execArgv: ['--import', 'tsx', ...(options.nodeFlags ?? ['--max-old-space-size=2048'])],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      let current = next - 1;
      let counts = { ok: 0, rejected: 0 };
      let since = performance.now();
      let done = false;
      let hung = false;
      let cpuAtStart = 0;
      const watchdog = setInterval(() => {
        const now = performance.now();
        // CPU time, not wall time: on a loaded machine a niced child can wait seconds for a core.
        const cpu = cpuMs(child.pid);
        const spent = cpu === undefined ? now - since : Math.max(cpu - cpuAtStart, (now - since) / WALL_SLACK);
        if (!done && current >= next && spent > timeoutMs) {
          hung = true;
          child.kill('SIGKILL');
        }
        if (options.progress && now - lastProgress > 10_000) {
          lastProgress = now;
          options.progress(`${target.name}: ${Math.max(current - first, 0)}/${options.count} inputs, ${summary.findings.length} findings, ${((now - started) / 1000).toFixed(0)} s`);
        }
      }, Math.min(250, Math.max(20, timeoutMs / 4)));
      child.on('message', (m: ChildMessage) => {
        if (m.kind === 'start') {
          current = m.index;
          counts = { ok: m.ok, rejected: m.rejected };
          since = performance.now();
          cpuAtStart = cpuMs(child.pid) ?? 0;
        } else if (m.kind === 'crash') {
          find('crash', m.index, m.error, m.stack);
        } else {
          done = true;
          counts = { ok: m.ok, rejected: m.rejected };
          if (m.slowest.ms > summary.slowest.ms) summary.slowest = m.slowest;
        }
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        clearInterval(watchdog);
        summary.ok += counts.ok;
        summary.rejected += counts.rejected;
        if (done && code === 0) return resolve(end);
        if (current < next) return reject(new Error(`fuzz child did not start (exit ${code ?? signal}): ${stderr}`));
        if (hung) find('hang', current, `still running after ${timeoutMs} ms of CPU time`);
        else find('signal', current, signal ? `killed by ${signal}` : `exit code ${code}`, stderr);
        resolve(current + 1);
      });
    });
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}
