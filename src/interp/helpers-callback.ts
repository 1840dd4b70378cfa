/** Helpers that call back into the program: bpf_loop and bpf_for_each_map_elem. */
import type { Helper } from './helpers.js';
import { Errno, helperResult, LruHashMap } from './maps.js';

/** The kernel's bound on bpf_loop iterations (BPF_MAX_LOOPS). */
const MAX_LOOPS = 1 << 23;

/** bpf_loop(nr, callback(i, ctx), ctx, flags): runs until nr calls or the callback returns 1; returns the calls made. */
export const loop: Helper = (ctx, nr, fn, cbCtx, flags) => {
  if (flags !== 0n) return helperResult(-Errno.EINVAL);
  if (nr > BigInt(MAX_LOOPS)) return helperResult(-Errno.E2BIG);
  const count = Number(nr);
  let i = 0;
  while (i < count) {
    const ret = ctx.call(fn, BigInt(i), cbCtx);
    i++;
    if (ret === 1n) break;
  }
  return BigInt(i);
};

/** bpf_for_each_map_elem(map, callback(map, key, value, ctx), ctx, flags): returns the elements visited. */
export const forEachMapElem: Helper = (ctx, mapPtr, fn, cbCtx, flags) => {
  if (flags !== 0n) return helperResult(-Errno.EINVAL);
  const m = ctx.map(mapPtr);
  let visited = 0;
  for (const key of m.keys()) {
    // The kernel walks the elements as they are: an LRU map's order is not touched.
    const value = m instanceof LruHashMap ? m.peek(key) : m.lookup(key, ctx.cpu);
    if (!value) continue;
    visited++;
    const keyPtr = ctx.memory.add(key.slice(), { name: `${m.type} map key`, writable: false }).base;
    if (ctx.call(fn, mapPtr, keyPtr, ctx.pointerTo(value, `${m.type} map value`), cbCtx) === 1n) break;
  }
  return BigInt(visited);
};
