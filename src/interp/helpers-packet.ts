/** Packet helpers: bpf_skb/xdp_load_bytes and store_bytes, bpf_xdp_adjust_head/tail. */
import type { Helper, HelperContext } from './helpers.js';
import { Errno, helperResult } from './maps.js';

/** The packet range [offset, offset + len), or undefined when the run has no packet or the range leaves it. */
function packetRange(ctx: HelperContext, offset: bigint, len: bigint): Uint8Array | undefined {
  const packet = ctx.packet;
  if (!packet || offset > 0xffffffffn || len > 0xffffffffn) return undefined;
  const start = Number(offset);
  const end = start + Number(len);
  return end <= packet.length ? packet.subarray(start, end) : undefined;
}

/** (ctx, offset, to, len): copies packet bytes to program memory; 0 or -EFAULT. */
export const packetLoadBytes: Helper = (ctx, _pctx, offset, to, len) => {
  const from = packetRange(ctx, offset, len);
  if (!from) return helperResult(-Errno.EFAULT);
  ctx.memory.slice(to, from.length, ctx.pc, true).set(from);
  return 0n;
};

/** (ctx, offset, from, len[, flags]): copies program memory into the packet; 0 or -EFAULT. */
export const packetStoreBytes: Helper = (ctx, _pctx, offset, from, len) => {
  const to = packetRange(ctx, offset, len);
  if (!to) return helperResult(-Errno.EFAULT);
  to.set(ctx.memory.slice(from, to.length, ctx.pc));
  return 0n;
};

const delta = (v: bigint): number => Number(BigInt.asIntN(32, v));

/** bpf_xdp_adjust_head(xdp_md, delta): moves the start of the packet (negative: grow). */
export const xdpAdjustHead: Helper = (ctx, _xdp, d) => helperResult(ctx.resizePacket(delta(d), 0));

/** bpf_xdp_adjust_tail(xdp_md, delta): moves the end of the packet (positive: grow). */
export const xdpAdjustTail: Helper = (ctx, _xdp, d) => helperResult(ctx.resizePacket(0, delta(d)));
