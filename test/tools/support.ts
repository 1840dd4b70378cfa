/**
 * Running a tool of examples/tools (through `tsbpf run`) and a bpftrace
 * script side by side on the same workload, so a test can compare what
 * each saw. Both are started, each waited for until it is attached, then
 * the workload runs, then both are stopped and their output compared.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { spawnRun, type RunningCli, until } from '../support/cli.js';

export interface Bpftrace {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number>;
}

export const haveBpftrace = (): boolean => spawnSync('bpftrace', ['--version'], { stdio: 'ignore' }).status === 0;

/** Starts `bpftrace -e script` and waits until its probes are attached. */
export async function startBpftrace(script: string): Promise<Bpftrace> {
  const child = spawn('bpftrace', ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BPFTRACE_MAX_STRLEN: '128' } });
  const bt: Bpftrace = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code ?? -1))) };
  child.stdout!.on('data', (d) => (bt.stdout += d));
  child.stderr!.on('data', (d) => (bt.stderr += d));
  const ok = await until(bt as unknown as RunningCli, 480, (r) => r.stdout.includes('Attaching'));
  if (!ok) throw new Error(`bpftrace did not attach: ${bt.stderr}`);
  return bt;
}

/** Stops bpftrace with SIGINT (it prints its maps then) and gives its output after the 'Attaching' line. */
export async function stopBpftrace(bt: Bpftrace): Promise<string> {
  bt.child.kill('SIGINT');
  await bt.exited;
  return bt.stdout.split('\n').filter((l) => !l.startsWith('Attaching')).join('\n');
}

/** Starts a tool and waits until it has printed `header` (main runs once every program is attached). */
export async function startTool(tool: string, args: string[], cacheDir: string, header: RegExp, runOptions: string[] = []): Promise<RunningCli> {
  const run = spawnRun([`examples/tools/${tool}.bpf.ts`, ...runOptions, '--', ...args], cacheDir);
  const ok = await until(run, 960, (r) => header.test(r.stdout));
  if (!ok) {
    run.child.kill('SIGKILL');
    throw new Error(`${tool} did not start: ${run.stderr}`);
  }
  return run;
}

/** Stops a tool (SIGTERM, as Ctrl-C would) and gives its stdout. */
export async function stopTool(run: RunningCli): Promise<string> {
  run.child.kill('SIGTERM');
  const code = await run.exited;
  if (code !== 0) throw new Error(`the tool exited ${code}: ${run.stderr}`);
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
