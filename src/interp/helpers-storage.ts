/** Local storage helpers: bpf_{task,sk,inode,cgrp}_storage_get/delete. */
import type { Helper } from './helpers.js';
import { LocalStorageMap } from './local-storage.js';
import { Errno, helperResult } from './maps.js';
import { storageOwner } from './socket.js';

/** BPF_LOCAL_STORAGE_GET_F_CREATE: the only flag get accepts. */
const GET_F_CREATE = 1n;

/** (map, owner, value, flags): the owner's value, created when flags say so; NULL otherwise. */
export const localStorageGet: Helper = (ctx, map, owner, value, flags) => {
  const m = ctx.map(map);
  if (!(m instanceof LocalStorageMap) || (flags & ~GET_F_CREATE) !== 0n || owner === 0n) return 0n;
  const initial = value !== 0n ? ctx.memory.slice(value, m.valueSize, ctx.pc) : undefined;
  const v = m.get(storageOwner(ctx.memory, owner), (flags & GET_F_CREATE) !== 0n, initial);
  return v ? ctx.pointerTo(v, `${m.type} value`) : 0n;
};

export const localStorageDelete: Helper = (ctx, map, owner) => {
  const m = ctx.map(map);
  if (!(m instanceof LocalStorageMap)) return helperResult(-Errno.EINVAL);
  return helperResult(m.remove(storageOwner(ctx.memory, owner)));
};
