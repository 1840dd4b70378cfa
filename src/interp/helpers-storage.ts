/** Local storage helpers (bpf_task_storage_get/delete) and the task pointer they are keyed by. */
import type { Helper, HelperContext } from './helpers.js';
import { LocalStorageMap } from './local-storage.js';
import { Errno, helperResult } from './maps.js';

/** BPF_LOCAL_STORAGE_GET_F_CREATE: the only flag get accepts. */
const GET_F_CREATE = 1n;

/**
 * What bpf_get_current_task(_btf) gives in the interpreter: an address that
 * names the run's task (by its thread id) and points at nothing, so storage
 * is per task while reads through it fault.
 */
export const taskPointer = (ctx: HelperContext): bigint => 0xffff_8880_0000_0000n + BigInt(ctx.task.pid >>> 0) * 0x4000n;

/** (map, owner, value, flags): the owner's value, created when flags say so; NULL otherwise. */
export const localStorageGet: Helper = (ctx, map, owner, value, flags) => {
  const m = ctx.map(map);
  if (!(m instanceof LocalStorageMap) || (flags & ~GET_F_CREATE) !== 0n || owner === 0n) return 0n;
  const initial = value !== 0n ? ctx.memory.slice(value, m.valueSize, ctx.pc) : undefined;
  const v = m.get(owner, (flags & GET_F_CREATE) !== 0n, initial);
  return v ? ctx.pointerTo(v, `${m.type} value`) : 0n;
};

export const localStorageDelete: Helper = (ctx, map, owner) => {
  const m = ctx.map(map);
  if (!(m instanceof LocalStorageMap)) return helperResult(-Errno.EINVAL);
  return helperResult(m.remove(owner));
};
