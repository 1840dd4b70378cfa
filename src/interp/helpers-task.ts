/** Helpers about the current task and reading memory: pid/tgid, uid/gid, comm, the task pointer, probe_read*. */
import { InterpError } from './errors.js';
import type { Helper } from './helpers.js';
import { Errno, helperResult } from './maps.js';

export const currentPidTgid: Helper = (ctx) => (BigInt(ctx.task.tgid >>> 0) << 32n) | BigInt(ctx.task.pid >>> 0);
export const currentUidGid: Helper = (ctx) => (BigInt(ctx.task.gid >>> 0) << 32n) | BigInt(ctx.task.uid >>> 0);

/**
 * What bpf_get_current_task(_btf) gives in the interpreter: an address that
 * names the run's task (by its thread id) and points at nothing, so task
 * storage is per task while reads through it fault.
 */
export const taskPointer: Helper = (ctx) => 0xffff_8880_0000_0000n + BigInt(ctx.task.pid >>> 0) * 0x4000n;

export const currentComm: Helper = (ctx, buf, size) => {
  if (size === 0n || size > 4096n) return helperResult(-Errno.EINVAL);
  const dst = ctx.memory.slice(buf, Number(size), ctx.pc, true);
  dst.fill(0);
  const name = new TextEncoder().encode(ctx.task.comm).subarray(0, dst.length - 1);
  dst.set(name);
  return 0n;
};

/** Reads from a pointer that may be bad: the destination must be valid, the source may fault (-EFAULT, zeroed). */
function source(ctx: Parameters<Helper>[0], ptr: bigint, size: number): Uint8Array | undefined {
  try {
    return ctx.memory.slice(ptr, size, ctx.pc);
  } catch (e) {
    if (e instanceof InterpError) return undefined;
    throw e;
  }
}

export const probeRead: Helper = (ctx, dstPtr, size, src) => {
  if (size > 0x7fffffffn) return helperResult(-Errno.EINVAL);
  const n = Number(size);
  const dst = ctx.memory.slice(dstPtr, n, ctx.pc, true);
  const from = source(ctx, src, n);
  if (!from) {
    dst.fill(0);
    return helperResult(-Errno.EFAULT);
  }
  dst.set(from);
  return 0n;
};

/** Copies up to a NUL (included) or size-1 bytes plus a NUL; returns the length with the NUL. */
export const probeReadStr: Helper = (ctx, dstPtr, size, src) => {
  if (size === 0n || size > 0x7fffffffn) return helperResult(size === 0n ? 0 : -Errno.EINVAL);
  const n = Number(size);
  const dst = ctx.memory.slice(dstPtr, n, ctx.pc, true);
  const available = ctx.memory.availableAt(src, n);
  const from = available > 0 ? source(ctx, src, available) : undefined;
  if (!from) {
    dst[0] = 0;
    return helperResult(-Errno.EFAULT);
  }
  const nul = from.indexOf(0);
  const len = Math.min(nul >= 0 ? nul : from.length, n - 1);
  dst.set(from.subarray(0, len));
  dst[len] = 0;
  return BigInt(len + 1);
};
