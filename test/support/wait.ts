/**
 * Waiting in tests: for the event itself, never for a fixed time. The
 * deadlines here only turn a hang into a clear failure; they are generous for a
 * loaded 2-core machine and scaled for software emulation in the dev VMs.
 */
import type { ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';

/** How much slower than the host the tests may run: the dev VMs (TSBPF_VM=1) emulate the CPU (TCG), ~10x slower. */
export const SLOWDOWN = process.env.TSBPF_VM === '1' ? 10 : 1;

/** A mocha timeout or a deadline of `ms` on the host, scaled for emulation. */
export const patience = (ms: number): number => ms * SLOWDOWN;

/**
 * How long a test lets a child process run before calling it hung: just
 * inside mocha's timeout (120 s, 1200 s in the dev VMs). Starting Node under
 * tsx takes ~12 s under emulation and minutes on a starved host; a deadline is
 * only there to turn a hang into a clear failure.
 */
export const CHILD_DEADLINE = patience(110_000);

/**
 * A wall-clock budget for something that must happen promptly (a reaction to
 * a signal): `ms` on an idle machine, stretched by how oversubscribed the CPUs
 * are now (load average per CPU) and by emulation. A process that gets a
 * fraction of a CPU takes that much longer for the same work.
 */
export const budget = (ms: number): number => Math.round(patience(ms) * Math.max(1, loadavg()[0]! / availableParallelism()));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `cond` (every 10 ms) until it holds; throws naming `what` if it does
 * not within `ms` (default 30 s, scaled). For effects that land
 * asynchronously (softirq packet delivery, RCU frees).
 */
export async function waitFor(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + patience(ms);
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${patience(ms)} ms waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Resolves when `text()` (output a child writes, collected by the caller)
 * includes `needle`, checked on each chunk of the child's stdout and stderr;
 * rejects if the child ends first (its streams closed), with what it wrote.
 * Call it right after spawning.
 */
export function untilOutput(child: ChildProcess, text: () => string, needle: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (!text().includes(needle)) return;
      done();
      resolve();
    };
    const exited = (code: number | null, signal: NodeJS.Signals | null): void => {
      done();
      if (text().includes(needle)) resolve();
      else reject(new Error(`the child exited (${code ?? signal}) before writing '${needle}'; it wrote:\n${text().slice(-2000)}`));
    };
    const done = (): void => {
      child.stdout?.off('data', later);
      child.stderr?.off('data', later);
      child.off('close', exited);
    };
    // 'data' listeners run in the order added: check after the caller's collector has appended the chunk.
    const later = (): void => void setImmediate(check);
    child.stdout?.on('data', later);
    child.stderr?.on('data', later);
    child.on('close', exited);
    check();
  });
}
