/**
 * The program's input: what r1 (and r2) point at when a run starts. The
 * conformance convention (mem in r1, its length in r2), a raw context, or
 * the kernel's network contexts (struct xdp_md, struct __sk_buff) whose
 * data/data_end fields read as pointers into the packet.
 */
import type { Memory, Region } from './memory.js';

export interface ProgramInput {
  /** Input memory: r1 points at it and r2 holds its length (the conformance convention); also the packet of ld_abs/ld_ind. */
  mem?: Uint8Array;
  /** Context bytes for r1 (a tracepoint record, a perf event...), when the program takes a context instead of mem. */
  ctx?: Uint8Array;
  /** Run as an XDP program: r1 is a struct xdp_md whose data/data_end point into `packet` (modified in place). */
  xdp?: { packet: Uint8Array; ingressIfindex?: number; rxQueueIndex?: number };
  /** Run as a socket filter / tc program: r1 is a struct __sk_buff over `packet` (len, protocol, data, data_end...). */
  skb?: { packet: Uint8Array; ifindex?: number; mark?: number; priority?: number };
}

/** struct xdp_md and struct __sk_buff (uapi bpf.h): sizes and the offsets the interpreter fills in. */
const XDP_MD = { size: 24, data: 0, dataEnd: 4, dataMeta: 8, ingressIfindex: 12, rxQueueIndex: 16 } as const;
const SK_BUFF = { size: 192, len: 0, mark: 8, protocol: 16, priority: 32, ingressIfindex: 36, ifindex: 40, data: 76, dataEnd: 80, dataMeta: 140 } as const;

/** Points r1 (and r2 for mem) at the program's input; returns the packet legacy ld_abs/ld_ind read. */
export function setUpContext(memory: Memory, R: BigUint64Array, options: ProgramInput): Region | undefined {
  const given = [options.mem, options.ctx, options.xdp, options.skb].filter((x) => x !== undefined).length;
  if (given > 1) throw new RangeError('give at most one of mem, ctx, xdp and skb');
  if (options.mem) {
    const mem = memory.add(options.mem, { name: 'mem' });
    R[1] = mem.base;
    R[2] = BigInt(options.mem.length);
    return mem;
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
    fields = new Map([[SK_BUFF.data, start], [SK_BUFF.dataEnd, end], [SK_BUFF.dataMeta, start]]);
  }
  // __sk_buff has fields programs may write (mark, priority, cb); xdp_md has none.
  R[1] = memory.add(ctx, { name: options.xdp ? 'xdp_md' : '__sk_buff', writable: !options.xdp, pointerFields: fields }).base;
  return packet;
}
