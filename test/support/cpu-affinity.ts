/**
 * Pins the calling thread (the JS main thread, which makes every bpf()
 * call) to one CPU for the duration of `fn`, then restores its mask. Tests
 * whose effect lands in a per-CPU place (a perf ring, a per-CPU slot) would
 * otherwise see the scheduler move them between two syscalls.
 */
import { koffi, libc } from '../../src/syscall/libc.js';

const getAffinity = libc.func('int sched_getaffinity(int pid, size_t size, _Out_ uint8_t *mask)');
const setAffinity = libc.func('int sched_setaffinity(int pid, size_t size, const uint8_t *mask)');
const MASK_BYTES = 128; // 1024 CPUs

export function onOneCpu<T>(fn: () => T): T {
  const saved = new Uint8Array(MASK_BYTES);
  if ((getAffinity(0, MASK_BYTES, saved) as number) !== 0) throw new Error(`sched_getaffinity failed: errno ${koffi.errno()}`);
  const cpu = firstCpu(saved);
  const one = new Uint8Array(MASK_BYTES);
  one[cpu >> 3] = 1 << (cpu & 7);
  if ((setAffinity(0, MASK_BYTES, one) as number) !== 0) throw new Error(`sched_setaffinity failed: errno ${koffi.errno()}`);
  try {
    return fn();
  } finally {
    setAffinity(0, MASK_BYTES, saved);
  }
}

/** The lowest CPU set in an affinity mask. */
function firstCpu(mask: Uint8Array): number {
  for (let cpu = 0; cpu < mask.length * 8; cpu++) if (mask[cpu >> 3]! & (1 << (cpu & 7))) return cpu;
  throw new Error('empty CPU affinity mask');
}
