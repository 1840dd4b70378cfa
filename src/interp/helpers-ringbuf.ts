/** Ring buffer helpers: output, reserve, submit, discard, query. */
import { InterpError } from './errors.js';
import type { Helper, HelperContext } from './helpers.js';
import { Errno, type InterpMap, helperResult } from './maps.js';
import { RingBufMap } from './ringbuf.js';

function ringbuf(ctx: HelperContext, handle: bigint): RingBufMap {
  const m: InterpMap = ctx.map(handle);
  if (!(m instanceof RingBufMap)) throw new InterpError('E_HELPER', `${m.type} map is not a ring buffer`, ctx.pc);
  return m;
}

export const ringbufOutput: Helper = (ctx, map, data, size) => {
  const rb = ringbuf(ctx, map);
  if (size > 0xffffffffn) return helperResult(-Errno.EINVAL);
  return helperResult(rb.output(ctx.memory.slice(data, Number(size), ctx.pc)));
};

export const ringbufReserve: Helper = (ctx, map, size) => {
  const rb = ringbuf(ctx, map);
  const bytes = size > 0xffffffffn ? undefined : rb.reserve(Number(size));
  return bytes ? ctx.memory.add(bytes, { name: 'ringbuf record', tag: rb }).base : 0n;
};

const commit =
  (discard: boolean): Helper =>
  (ctx, ptr) => {
    const region = ctx.memory.regionAt(ptr);
    const rb = region?.tag;
    if (!region || ptr !== region.base || !(rb instanceof RingBufMap) || !rb.commit(region.bytes, discard)) {
      throw new InterpError('E_HELPER', `bpf_ringbuf_${discard ? 'discard' : 'submit'}: 0x${ptr.toString(16)} is not a pending ring buffer record`, ctx.pc);
    }
    return 0n;
  };

export const ringbufSubmit = commit(false);
export const ringbufDiscard = commit(true);

/** BPF_RB_AVAIL_DATA (0) and the ring size (1); other queries give 0. */
export const ringbufQuery: Helper = (ctx, map, flags) => {
  const rb = ringbuf(ctx, map);
  if (flags === 0n) return BigInt(rb.usedBytes);
  if (flags === 1n) return BigInt(rb.maxEntries);
  return 0n;
};
