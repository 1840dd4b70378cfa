/** Map helpers: lookup/update/delete and the queue/stack push/pop/peek. */
import type { Helper } from './helpers.js';
import { Errno } from './maps.js';
import { isQueueLike } from './queue-maps.js';

const result = (v: number): bigint => BigInt.asUintN(64, BigInt(v));

export const mapLookup: Helper = (ctx, map, key) => {
  const m = ctx.map(map);
  const value = m.lookup(ctx.memory.slice(key, m.keySize, ctx.pc), ctx.cpu);
  return value === undefined ? 0n : ctx.pointerTo(value, `${m.type} map value`);
};

export const mapUpdate: Helper = (ctx, map, key, value, flags) => {
  const m = ctx.map(map);
  return result(m.update(ctx.memory.slice(key, m.keySize, ctx.pc), ctx.memory.slice(value, m.valueSize, ctx.pc), flags, ctx.cpu));
};

export const mapDelete: Helper = (ctx, map, key) => {
  const m = ctx.map(map);
  return result(m.delete(ctx.memory.slice(key, m.keySize, ctx.pc)));
};

export const mapPush: Helper = (ctx, map, value, flags) => {
  const m = ctx.map(map);
  if (!isQueueLike(m)) return result(-Errno.EINVAL);
  return result(m.push(ctx.memory.slice(value, m.valueSize, ctx.pc), flags));
};

const popOrPeek =
  (remove: boolean): Helper =>
  (ctx, map, out) => {
    const m = ctx.map(map);
    if (!isQueueLike(m)) return result(-Errno.EINVAL);
    const dst = ctx.memory.slice(out, m.valueSize, ctx.pc, true);
    const v = remove ? m.pop() : m.peek();
    if (!v) return result(-Errno.ENOENT);
    dst.set(v);
    return 0n;
  };

export const mapPop = popOrPeek(true);
export const mapPeek = popOrPeek(false);
