/**
 * The program's input: what r1 (and r2) point at when a run starts. The
 * conformance convention (mem in r1, its length in r2), a raw context, or
 * the kernel's network contexts (struct xdp_md, struct __sk_buff) whose
 * data/data_end fields read as pointers into the packet.
 */
import type { Memory, Region } from './memory.js';
import { SKB_SK, type SocketInfo, socketRegion } from './socket.js';

export interface ProgramInput {
  /** Input memory: r1 points at it and r2 holds its length (the conformance convention); also the packet of ld_abs/ld_ind. */
  mem?: Uint8Array;
  /** Context bytes for r1 (a tracepoint record, a perf event...), when the program takes a context instead of mem. */
  ctx?: Uint8Array;
  /**
   * Run as an XDP program: r1 is a struct xdp_md whose data/data_end point into `packet` (modified in place;
   * after bpf_xdp_adjust_head/tail the packet is a new array, RunResult.packet).
   */
  xdp?: { packet: Uint8Array; ingressIfindex?: number; rxQueueIndex?: number };
  /**
   * Run as a socket filter / tc / cgroup skb program: r1 is a struct __sk_buff over `packet` (len, protocol, data,
   * data_end...); `sk` is the packet's socket (__sk_buff.sk), none by default.
   */
  skb?: { packet: Uint8Array; ifindex?: number; mark?: number; priority?: number; sk?: SocketInfo };
}

/** struct xdp_md and struct __sk_buff (uapi bpf.h): sizes and the offsets the interpreter fills in. */
const XDP_MD = { size: 24, data: 0, dataEnd: 4, dataMeta: 8, ingressIfindex: 12, rxQueueIndex: 16 } as const;
const SK_BUFF = { size: 192, len: 0, mark: 8, protocol: 16, priority: 32, ingressIfindex: 36, ifindex: 40, data: 76, dataEnd: 80, dataMeta: 140 } as const;

/** Room an XDP program may grow its packet by at the front (XDP_PACKET_HEADROOM) and, here, at the back. */
export const XDP_HEADROOM = 256;
export const XDP_TAILROOM = 256;
/** bpf_xdp_adjust_head/tail never shrink a packet below an Ethernet header. */
const MIN_PACKET = 14;

/**
 * The packet of a network run. bpf_xdp_adjust_head/tail replace it with a
 * resized copy (a new region; old packet pointers stay readable but stale,
 * as the verifier makes programs re-derive them).
 */
export class PacketState {
  private headroom = XDP_HEADROOM;
  private tailroom = XDP_TAILROOM;

  constructor(
    private readonly memory: Memory,
    public region: Region,
    private readonly fields: Map<number, bigint> | undefined,
    private readonly offsets: { data: number; dataEnd: number; dataMeta: number } | undefined,
  ) {}

  get bytes(): Uint8Array {
    return this.region.bytes;
  }

  /** Grows (negative head / positive tail) or shrinks the packet; 0 or -EINVAL (22). */
  resize(headDelta: number, tailDelta: number): number {
    if (!this.fields || !this.offsets) return -22;
    const old = this.region.bytes;
    const length = old.length - headDelta + tailDelta;
    if (this.headroom + headDelta < 0 || this.tailroom - tailDelta < 0 || length < MIN_PACKET) return -22;
    const next = new Uint8Array(length);
    // Bytes kept: those from max(0, headDelta) to min(old.length, old.length + tailDelta), placed after any new head bytes.
    const from = Math.max(0, headDelta);
    const to = Math.min(old.length, old.length + tailDelta);
    if (to > from) next.set(old.subarray(from, to), Math.max(0, -headDelta));
    this.headroom += headDelta;
    this.tailroom -= tailDelta;
    this.region = this.memory.add(next, { name: 'packet' });
    this.fields.set(this.offsets.data, this.region.base);
    this.fields.set(this.offsets.dataMeta, this.region.base);
    this.fields.set(this.offsets.dataEnd, this.region.base + BigInt(length));
    return 0;
  }
}

/** Points r1 (and r2 for mem) at the program's input; returns the packet (mem, or the xdp/skb packet). */
export function setUpContext(memory: Memory, R: BigUint64Array, options: ProgramInput): PacketState | undefined {
  const given = [options.mem, options.ctx, options.xdp, options.skb].filter((x) => x !== undefined).length;
  if (given > 1) throw new RangeError('give at most one of mem, ctx, xdp and skb');
  if (options.mem) {
    const mem = memory.add(options.mem, { name: 'mem' });
    R[1] = mem.base;
    R[2] = BigInt(options.mem.length);
    return new PacketState(memory, mem, undefined, undefined);
  }
  if (options.ctx) {
    R[1] = memory.add(options.ctx, { name: 'ctx' }).base;
    return undefined;
  }
  const net = options.xdp ?? options.skb;
  if (!net) return undefined;
  const packet = memory.add(net.packet, { name: 'packet' });
  const start = packet.base;
  const end = packet.base + BigInt(net.packet.length);
  let ctx: Uint8Array;
  let fields: Map<number, bigint>;
  if (options.xdp) {
    ctx = new Uint8Array(XDP_MD.size);
    const v = new DataView(ctx.buffer);
    v.setUint32(XDP_MD.ingressIfindex, options.xdp.ingressIfindex ?? 1, true);
    v.setUint32(XDP_MD.rxQueueIndex, options.xdp.rxQueueIndex ?? 0, true);
    fields = new Map([[XDP_MD.data, start], [XDP_MD.dataEnd, end], [XDP_MD.dataMeta, start]]);
  } else {
    const skb = options.skb!;
    ctx = new Uint8Array(SK_BUFF.size);
    const v = new DataView(ctx.buffer);
    v.setUint32(SK_BUFF.len, net.packet.length, true);
    v.setUint32(SK_BUFF.mark, skb.mark ?? 0, true);
    // skb->protocol is the ethertype in network byte order.
    if (net.packet.length >= 14) v.setUint32(SK_BUFF.protocol, net.packet[12]! | (net.packet[13]! << 8), true);
    v.setUint32(SK_BUFF.priority, skb.priority ?? 0, true);
    v.setUint32(SK_BUFF.ingressIfindex, skb.ifindex ?? 1, true);
    v.setUint32(SK_BUFF.ifindex, skb.ifindex ?? 1, true);
    if (skb.sk) v.setBigUint64(SKB_SK, socketRegion(memory, skb.sk), true);
    fields = new Map([[SK_BUFF.data, start], [SK_BUFF.dataEnd, end], [SK_BUFF.dataMeta, start]]);
  }
  // __sk_buff has fields programs may write (mark, priority, cb); xdp_md has none.
  R[1] = memory.add(ctx, { name: options.xdp ? 'xdp_md' : '__sk_buff', writable: !options.xdp, pointerFields: fields }).base;
  return new PacketState(memory, packet, options.xdp ? fields : undefined, options.xdp ? XDP_MD : undefined);
}
