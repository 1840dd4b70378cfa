/**
 * Running a tool of examples/tools (through `tsbpf run`) and a bpftrace
 * script side by side on the same workload, so a test can compare what
 * each saw. Both are started, each waited for until it is attached, then
 * the workload runs, then both are stopped and their output compared.
 */
import { readFileSync } from 'node:fs';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { howItEnded, spawnRun, type RunningCli, until } from '../support/cli.js';

export interface Bpftrace {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number>;
}

export const haveBpftrace = (): boolean => spawnSync('bpftrace', ['--version'], { stdio: 'ignore' }).status === 0;

const READY = '__tsbpf_bpftrace_ready__';

/**
 * Starts `bpftrace -e script` and waits until its probes are attached: bpftrace
 * prints "Attaching N probes..." before it attaches them, and runs BEGIN once
 * every probe is attached (a workload started between the two was seen by the
 * tool and not by bpftrace, and a SIGINT then was lost).
 */
export async function startBpftrace(script: string): Promise<Bpftrace> {
  const child = spawn('bpftrace', ['-e', `BEGIN { printf("${READY}\\n"); }\n${script}`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BPFTRACE_MAX_STRLEN: '128' } });
  const bt: Bpftrace = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code ?? -1))) };
  child.stdout!.on('data', (d) => (bt.stdout += d));
  child.stderr!.on('data', (d) => (bt.stderr += d));
  const ok = await until(bt as unknown as RunningCli, 480, (r) => r.stdout.includes(READY));
  if (!ok) throw new Error(`bpftrace did not attach: ${bt.stderr}`);
  return bt;
}

/** Stops bpftrace with SIGINT (it prints its maps then) and gives its output after the 'Attaching' line. */
export async function stopBpftrace(bt: Bpftrace): Promise<string> {
  // bpftrace 0.17 sometimes stays after one SIGINT (seen in the oomkill test: 10 minutes, its output all printed): again every 5 s, then SIGKILL.
  for (let i = 0; i < 6 && bt.child.exitCode === null && bt.child.signalCode === null; i++) {
    bt.child.kill('SIGINT');
    await Promise.race([bt.exited, new Promise((r) => setTimeout(r, 5000))]);
  }
  if (bt.child.exitCode === null && bt.child.signalCode === null) bt.child.kill('SIGKILL');
  await bt.exited;
  return bt.stdout.split('\n').filter((l) => !l.startsWith('Attaching') && l !== READY).join('\n');
}

/** Starts a tool and waits until it has printed `header` (main runs once every program is attached). */
export async function startTool(tool: string, args: string[], cacheDir: string, header: RegExp, runOptions: string[] = []): Promise<RunningCli> {
  const run = spawnRun([`examples/tools/${tool}.bpf.ts`, ...runOptions, '--', ...args], cacheDir);
  const ok = await until(run, 960, (r) => header.test(r.stdout));
  if (!ok) {
    run.child.kill('SIGKILL');
    throw new Error(`${tool} did not start (it ${howItEnded(run)}): ${run.stderr}`);
  }
  return run;
}

/** Stops a tool (SIGTERM, as Ctrl-C would) and gives its stdout. */
export async function stopTool(run: RunningCli): Promise<string> {
  run.child.kill('SIGTERM');
  const code = await run.exited;
  if (code !== 0) throw new Error(`the tool ${howItEnded(run)}: ${run.stderr}`);
  return run.stdout;
}

/** Waits until `done()` holds (up to `seconds`), polling. */
export async function eventually(seconds: number, done: () => boolean): Promise<boolean> {
  for (let i = 0; i < seconds * 4; i++) {
    if (done()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return done();
}

/**
 * Whether a process sleeps in read(2) (x86-64 syscall 0; /proc/PID/syscall's
 * first field), where it stays until its input comes: a workload that waits
 * there makes no scheduling events while tracers attach one after the other.
 */
export function sleepsInRead(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    return state === 'S' && readFileSync(`/proc/${pid}/syscall`, 'utf8').split(' ')[0] === '0';
  } catch {
    return false;
  }
}

/**
 * Runs bpftrace with `script` while `during` runs (the workload, and the
 * wait for it), and gives bpftrace's output. When anything fails, `tool`
 * (already started) is killed too, or it would outlive the test.
 */
export async function traceDuring(script: string, tool: RunningCli, during: (bt: Bpftrace) => Promise<void>): Promise<string> {
  let bt: Bpftrace;
  try {
    bt = await startBpftrace(script);
  } catch (e) {
    tool.child.kill('SIGKILL');
    throw e;
  }
  try {
    await during(bt);
  } catch (e) {
    await stopBpftrace(bt);
    tool.child.kill('SIGKILL');
    throw e;
  }
  return stopBpftrace(bt);
}
