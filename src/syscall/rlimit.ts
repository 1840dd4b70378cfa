/** prlimit(2) on this process: reading and setting one resource limit. */
import { SyscallError } from './bpf.js';
import { lastErrno, libc } from './libc.js';

const prlimitRaw = libc.func('int prlimit(int pid, int resource, void *newLimit, _Out_ void *oldLimit)');

export const Rlimit = { MEMLOCK: 8 } as const;
/** RLIM_INFINITY (all bits set). */
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

export interface ResourceLimit {
  soft: bigint;
  hard: bigint;
}

/** The current soft and hard limit of `resource` for this process. */
export function getResourceLimit(resource: number): ResourceLimit {
  const out = new BigUint64Array(2);
  if ((prlimitRaw(0, resource, null, out) as number) < 0) throw new SyscallError('prlimit (read)', lastErrno());
  return { soft: out[0]!, hard: out[1]! };
}

/** Sets the soft and hard limit of `resource` for this process. */
export function setResourceLimit(resource: number, limit: ResourceLimit): void {
  const value = new BigUint64Array([limit.soft, limit.hard]);
  if ((prlimitRaw(0, resource, value, null) as number) < 0) throw new SyscallError('prlimit (set)', lastErrno());
}
