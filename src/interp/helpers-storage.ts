/** Local storage helpers (bpf_{task,sk,inode,cgrp}_storage_get/delete) and spin locks on map values. */
import { InterpError } from './errors.js';
import type { Helper, HelperContext } from './helpers.js';
import { LocalStorageMap } from './local-storage.js';
import { Errno, helperResult } from './maps.js';

/** BPF_LOCAL_STORAGE_GET_F_CREATE: the only flag get accepts. */
const GET_F_CREATE = 1n;

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

/**
 * bpf_spin_lock / bpf_spin_unlock on one CPU: the lock word is 1 while held
 * (0 again after the unlock, as user space reads it from the kernel), and
 * taking a held lock or releasing a free one is the program's bug, which a
 * kernel would deadlock on or the verifier refuse.
 */
export const spinLock: Helper = (ctx, lock) => setLock(ctx, lock, true);
export const spinUnlock: Helper = (ctx, lock) => setLock(ctx, lock, false);

function setLock(ctx: HelperContext, lock: bigint, take: boolean): bigint {
  const word = ctx.memory.slice(lock, 4, ctx.pc, true);
  const held = word.some((b) => b !== 0);
  if (held === take) throw new InterpError('E_HELPER', take ? 'bpf_spin_lock: the lock is already held' : 'bpf_spin_unlock: the lock is not held', ctx.pc);
  word.fill(0);
  if (take) word[0] = 1;
  return 0n;
}
