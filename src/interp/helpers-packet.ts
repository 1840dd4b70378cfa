/** Packet helpers: bpf_skb/xdp_load_bytes and store_bytes, bpf_xdp_adjust_head/tail, bpf_l3/l4_csum_replace. */
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

/** Folds a ones' complement sum to 16 bits. */
function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The 16-bit halves of a 32-bit value, summed (how a 32-bit field enters a 16-bit checksum). */
const halves = (v: bigint): number => Number(v & 0xffffn) + Number((v >> 16n) & 0xffffn);

const HDR_FIELD_MASK = 0xfn;
const F_MARK_MANGLED_0 = 0x20n;
const L4_FLAGS = HDR_FIELD_MASK | 0x10n /* BPF_F_PSEUDO_HDR */ | F_MARK_MANGLED_0 | 0x40n /* BPF_F_MARK_ENFORCE */;

/**
 * The checksum at `offset` updated for a field changing from `from` to `to`
 * (`flags & 0xf`: its size, 2 or 4; 0 when `to` is a precomputed difference),
 * as bpf_l3_csum_replace/bpf_l4_csum_replace do; the values are in the byte
 * order of the packet, so the sum is kept in that order too.
 */
function csumReplace(ctx: HelperContext, offset: bigint, from: bigint, to: bigint, flags: bigint, allowed: bigint): bigint {
  if ((flags & ~allowed) !== 0n) return helperResult(-Errno.EINVAL);
  if (offset > 0xffffn || (offset & 1n) !== 0n) return helperResult(-Errno.EFAULT);
  const field = packetRange(ctx, offset, 2n);
  if (!field) return helperResult(-Errno.EFAULT);
  const size = flags & HDR_FIELD_MASK;
  if (size !== 0n && size !== 2n && size !== 4n) return helperResult(-Errno.EINVAL);
  const old = field[0]! | (field[1]! << 8);
  // A UDP checksum of 0 means "none": left alone when the program says so.
  if ((flags & F_MARK_MANGLED_0) !== 0n && old === 0) return 0n;
  const mask = size === 2n ? 0xffffn : 0xffffffffn;
  const removed = size === 0n ? 0 : 0xffff * (size === 2n ? 1 : 2) - halves(from & mask);
  let sum = fold((~old & 0xffff) + removed + halves(to & (size === 0n ? 0xffffffffn : mask)));
  sum = ~sum & 0xffff;
  if ((flags & F_MARK_MANGLED_0) !== 0n && sum === 0) sum = 0xffff;
  field[0] = sum & 0xff;
  field[1] = sum >> 8;
  return 0n;
}

/** bpf_l3_csum_replace(skb, offset, from, to, flags): 0 or a negative errno. */
export const l3CsumReplace: Helper = (ctx, _skb, offset, from, to, flags) => csumReplace(ctx, offset, from, to, flags, HDR_FIELD_MASK);

/** bpf_l4_csum_replace(skb, offset, from, to, flags): 0 or a negative errno (BPF_F_PSEUDO_HDR only matters to skb->csum, which the interpreter has not). */
export const l4CsumReplace: Helper = (ctx, _skb, offset, from, to, flags) => csumReplace(ctx, offset, from, to, flags, L4_FLAGS);
