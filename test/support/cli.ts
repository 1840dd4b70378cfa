/**
 * The `tsbpf` command as a child process, run from the sources through tsx
 * with colour off, the way a user's shell runs it. Each run starts node and
 * tsx (a second or two): tests keep their number small.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { untilOutput } from './wait.js';

/** TSBPF_TEST_CLI=dist: the built CLI instead (node dist/cli/bin.js, from its bundle while that is current; npm run build first). */
const BUILT = process.env.TSBPF_TEST_CLI === 'dist';
export const CLI_BIN = fileURLToPath(new URL(BUILT ? '../../dist/cli/bin.js' : '../../src/cli/bin.ts', import.meta.url));
const NODE_ARGS = BUILT ? [] : ['--import', 'tsx'];

export interface CliRun<Output> {
  /** The exit status; -1 when the process died of a signal or did not start. */
  status: number;
  stdout: Output;
  stderr: string;
}

function runCli(args: string[], input: string | Uint8Array | undefined): CliRun<Buffer> {
  const r = spawnSync(process.execPath, [...NODE_ARGS, CLI_BIN, ...args], { input, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** `tsbpf ...args`, its output as text. */
export function tsbpf(...args: string[]): CliRun<string> {
  const r = runCli(args, undefined);
  return { ...r, stdout: r.stdout.toString() };
}

/** `tsbpf ...args` with `input` on its standard input, its output as bytes (for binary output). */
export function tsbpfBinary(args: string[], input?: string | Uint8Array): CliRun<Buffer> {
  return runCli(args, input);
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningCli {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number>;
}

/** `tsbpf run ...args` as a child process (with its own cache directory), its output collected as it arrives. */
export function spawnRun(args: string[], cacheDir: string): RunningCli {
  const child = spawn(process.execPath, [...NODE_ARGS, CLI_BIN, 'run', ...args], {
    cwd: ROOT, env: { ...process.env, NO_COLOR: '1', TSBPF_CACHE_DIR: cacheDir },
  });
  const run: RunningCli = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code ?? -1))) };
  child.stdout.on('data', (d) => (run.stdout += d));
  child.stderr.on('data', (d) => (run.stderr += d));
  return run;
}

/**
 * How a run ended, for a failure message: its exit status, or the signal that
 * killed it. A SIGKILL nobody in the test sent is most often the kernel's OOM
 * killer (a dev VM has 2 GiB), a SIGSEGV names the faulting object: the kernel
 * log carries both, so quote it.
 */
export function howItEnded(run: RunningCli): string {
  const { exitCode, signalCode } = run.child;
  if (signalCode === null) return exitCode === null ? 'is still running' : `exited ${exitCode}`;
  // The kernel logs why: an OOM kill, or the faulting address and the object it fell in ("segfault at … in libX.so").
  const logged = spawnSync('dmesg', [], { encoding: 'utf8' }).stdout?.split('\n').filter((l) => /Out of memory|oom-kill|Killed process|segfault at|general protection|trap /.test(l)).slice(-3) ?? [];
  const available = /MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  return `was killed by ${signalCode}${logged.length ? ` (kernel log: ${logged.join(' / ').trim()})` : ''}; ${Math.round(Number(available) / 1024)} MiB available now`;
}

/** Waits (up to `polls` quarter-seconds) until `done(run)` holds or the run exits. */
export async function until(run: RunningCli, polls: number, done: (run: RunningCli) => boolean): Promise<boolean> {
  let exited = false;
  void run.exited.then(() => (exited = true));
  for (let i = 0; i < polls && !exited; i++) {
    if (done(run)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return done(run);
}

/** Waits until the run has reported an attached program with --json (rejects if it exits first). */
export const untilAttached = (run: RunningCli): Promise<void> => untilOutput(run.child, () => run.stdout, '"attached"');
