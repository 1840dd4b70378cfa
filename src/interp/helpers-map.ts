/** Map helpers: lookup/update/delete and the queue/stack push/pop/peek. */
import { BloomFilterMap } from './bloom-filter.js';
import type { Helper } from './helpers.js';
import { MapOfMaps } from './map-of-maps.js';
import { Errno, helperResult } from './maps.js';
import { PerfEventArrayMap } from './perf-event-array.js';
import { isQueueLike } from './queue-maps.js';

export const mapLookup: Helper = (ctx, map, key) => {
  const m = ctx.map(map);
  if (m instanceof MapOfMaps) {
    const inner = m.get(ctx.memory.slice(key, m.keySize, ctx.pc));
    return inner ? ctx.mapPointer(inner) : 0n;
  }
  const value = m.lookup(ctx.memory.slice(key, m.keySize, ctx.pc), ctx.cpu);
  return value === undefined ? 0n : ctx.pointerTo(value, `${m.type} map value`);
};

export const mapUpdate: Helper = (ctx, map, key, value, flags) => {
  const m = ctx.map(map);
  return helperResult(m.update(ctx.memory.slice(key, m.keySize, ctx.pc), ctx.memory.slice(value, m.valueSize, ctx.pc), flags, ctx.cpu));
};

export const mapDelete: Helper = (ctx, map, key) => {
  const m = ctx.map(map);
  return helperResult(m.delete(ctx.memory.slice(key, m.keySize, ctx.pc)));
};

export const mapPush: Helper = (ctx, map, value, flags) => {
  const m = ctx.map(map);
  if (m instanceof BloomFilterMap) return helperResult(m.push(ctx.memory.slice(value, m.valueSize, ctx.pc), flags));
  if (!isQueueLike(m)) return helperResult(-Errno.EINVAL);
  return helperResult(m.push(ctx.memory.slice(value, m.valueSize, ctx.pc), flags));
};

const popOrPeek =
  (remove: boolean): Helper =>
  (ctx, map, out) => {
    const m = ctx.map(map);
    // A bloom filter's peek tests membership of the value it is given.
    if (m instanceof BloomFilterMap) return helperResult(remove ? -Errno.EINVAL : m.test(ctx.memory.slice(out, m.valueSize, ctx.pc)));
    if (!isQueueLike(m)) return helperResult(-Errno.EINVAL);
    const dst = ctx.memory.slice(out, m.valueSize, ctx.pc, true);
    const v = remove ? m.pop() : m.peek();
    if (!v) return helperResult(-Errno.ENOENT);
    dst.set(v);
    return 0n;
  };

export const mapPop = popOrPeek(true);

/** Flags value selecting the current CPU's ring (BPF_F_CURRENT_CPU); the upper bits (skb data length) are ignored. */
const CURRENT_CPU = 0xffffffffn;

/** bpf_perf_event_output(ctx, map, flags, data, size). */
export const perfEventOutput: Helper = (ctx, _pctx, map, flags, data, size) => {
  const m = ctx.map(map);
  if (!(m instanceof PerfEventArrayMap)) return helperResult(-Errno.EINVAL);
  if (size > 0xffffn) return helperResult(-Errno.E2BIG);
  const index = flags & 0xffffffffn;
  return helperResult(m.output(index === CURRENT_CPU ? ctx.cpu : Number(index), ctx.memory.slice(data, Number(size), ctx.pc)));
};
export const mapPeek = popOrPeek(false);
