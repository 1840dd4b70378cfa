/**
 * syscall-top: which processes make the most system calls, as a table of
 * the top N refreshed every interval (like `top`, or bpftrace's
 * `interval:s:1 { print(@, 10); clear(@); }`). The user-space half reads and
 * clears the map each interval through typed handles:
 *   sudo npx tsbpf run examples/syscall-top.bpf.ts -- --interval 2 --top 5
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { bpf, hashMap, tracepoint, type CStr, type u64 } from 'tsbpf/dsl';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as top from './syscall-top.bpf.js';

export const byComm = hashMap<CStr<16>, u64>({ maxEntries: 10240 });

export const onSyscall = tracepoint('raw_syscalls/sys_enter', () => {
  let comm!: CStr<16>;
  bpf.currentComm(comm);
  byComm.increment(comm);
  return 0;
});

export const options = {
  interval: { type: 'string', default: '1' },
  top: { type: 'string', default: '10' },
  /** Stop after this many tables (default: until Ctrl-C or --duration). */
  count: { type: 'string' },
} as const;

export async function main(live: LiveModule<typeof top>, args: ModuleArgs): Promise<void> {
  const seconds = Number(args.values.interval);
  const n = Number(args.values.top);
  const count = typeof args.values.count === 'string' ? Number(args.values.count) : Infinity;
  if (!(seconds > 0) || !(n > 0)) throw new Error('--interval and --top take positive numbers');
  for (let round = 0; round < count; round++) {
    try {
      await sleep(seconds * 1000, undefined, { signal: args.signal });
    } catch {
      return; // stopped (Ctrl-C, --duration)
    }
    const rows = [...live.maps.byComm].sort((a, b) => b[1] - a[1]).slice(0, n);
    live.maps.byComm.clear();
    const total = rows.reduce((s, [, c]) => s + c, 0);
    process.stdout.write(`${new Date().toTimeString().slice(0, 8)}  top ${n} by system calls in ${seconds}s\n`);
    process.stdout.write(`${'COMM'.padEnd(16)} ${'CALLS'.padStart(10)} ${'PER SEC'.padStart(10)}\n`);
    for (const [comm, calls] of rows) {
      process.stdout.write(`${comm.padEnd(16)} ${String(calls).padStart(10)} ${(calls / seconds).toFixed(0).padStart(10)}\n`);
    }
    process.stdout.write(`${'(shown)'.padEnd(16)} ${String(total).padStart(10)}\n\n`);
  }
}
