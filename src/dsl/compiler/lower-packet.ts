/**
 * Packet access for packet programs: `ctx.packet.at(Header, offset)` with the
 * bounds check the verifier needs, `byte()`, `length`; skb loads where
 * direct access is not allowed (socket filters).
 */
import type { Node } from 'ts-morph';
import { Helper } from '../../asm/helpers.js';
import { type CType, I64, INT_TYPES, sizeOf, U32, U64 } from './ctypes.js';
import { entryMoves, imm, reg, type SpannedOp, type VReg } from './ir.js';
import type { FunctionLowering } from './lower.js';
import { PROGRAM_KINDS } from './program-kinds.js';
import type { Value } from './values.js';

/** The verifier's limit on a packet pointer's variable offset (MAX_PACKET_OFF). */
const MAX_PACKET_OFFSET = 0xffffn;

export function packetMethod(l: FunctionLowering, method: string, args: Node[], node: Node): Value {
  const info = PROGRAM_KINDS[l.program.kind];
  if (method === 'at') {
    if (args.length < 2) l.fail(node, 'TSBPF_ARGS', 'packet.at(Header, offset)');
    const h = l.expr(args[0]!);
    if (h.k !== 'header') return l.fail(args[0]!, 'TSBPF_HEADER', 'packet.at needs a header type made by header<T>() (EthHdr, IpHdr, …)');
    const hType = h.struct;
    const off = l.int(args[1]!);
    return packetAt(l, hType, off, node);
  }
  if (method === 'byte') {
    const off = l.int(l.argAt(args, 0, node));
    const p = packetAt(l, INT_TYPES.u8!, off, node);
    if (p.k !== 'ptr') throw new Error('unreachable');
    const dst = l.newReg();
    const done = l.newLabel();
    l.emit({ op: 'mov', dst, src: imm(-1), bits: 64 });
    if (p.nullIf) l.emit({ op: 'br', cmp: 'gt', bits: 64, a: p.nullIf.a, b: reg(p.nullIf.b), target: done });
    else l.emit({ op: 'br', cmp: 'eq', bits: 64, a: p.reg, b: imm(0), target: done });
    l.emit({ op: 'load', dst, base: p.reg, off: 0, size: 1 });
    l.label(done);
    return { k: 'int', op: reg(dst), t: I64 };
  }
  void info;
  return l.fail(node, 'TSBPF_METHOD', `packets have at() and byte(), not ${method}`);
}

/** The packet bytes at `off` viewed as `t`, or null: emits the bounds check the verifier needs. */
export function packetAt(l: FunctionLowering, t: CType, off: Extract<Value, { k: 'int' }>, node: Node): Value {
  const info = PROGRAM_KINDS[l.program.kind];
  const size = sizeOf(t);
  l.at(node);
  if (info.packet === 'loadBytes') {
    const result = l.newReg();
    const done = l.newLabel('pkt');
    const s = l.slot(size, node);
    const buf = l.newReg();
    l.emit({ op: 'frame', dst: buf, slot: s, off: 0 });
    const r = l.call(Helper.skb_load_bytes, [reg(l.ctxReg), l.convert(off, U32, node).op, reg(buf), imm(size)], node)!;
    l.emit({ op: 'mov', dst: result, src: imm(0), bits: 64 });
    l.emit({ op: 'br', cmp: 'ne', bits: 64, a: r, b: imm(0), target: done });
    l.emit({ op: 'mov', dst: result, src: reg(buf), bits: 64 });
    l.label(done);
    return { k: 'ptr', reg: result, to: t, space: 'stack' };
  }
  if (!info.packet) return l.fail(node, 'TSBPF_PACKET', `${l.program.kind} programs have no packet`);
  const { data, end } = packetBounds(l);
  const p = l.newReg();
  const o = l.convert(off, U64, node);
  let offset = o.op;
  // The header's end must stay within the verifier's range too.
  const limit = MAX_PACKET_OFFSET - BigInt(size);
  if (offset.kind === 'imm' && (offset.value < 0n || offset.value > limit)) {
    // A compile-time constant is checked; one the compiler folded (a loop variable) is clamped like a run-time offset.
    if (!o.folded) return l.fail(node, 'TSBPF_PACKET_OFFSET', `packet offset ${offset.value} is outside 0…${limit}`);
    offset = imm(limit);
  }
  if (offset.kind === 'reg') {
    // The verifier wants a bounded offset: clamp (a header that far out is never inside the packet anyway).
    const bounded = l.newReg();
    const ok = l.newLabel('off');
    l.emit({ op: 'mov', dst: bounded, src: offset, bits: 64 });
    l.emit({ op: 'br', cmp: 'le', bits: 64, a: bounded, b: imm(limit), target: ok });
    l.emit({ op: 'mov', dst: bounded, src: imm(limit), bits: 64 });
    l.label(ok);
    offset = reg(bounded);
  }
  l.emit({ op: 'alu', alu: 'add', bits: 64, dst: p, a: reg(data), b: offset });
  l.packetPointers.add(p);
  const q = l.newReg();
  l.emit({ op: 'alu', alu: 'add', bits: 64, dst: q, a: reg(p), b: imm(size) });
  return { k: 'ptr', reg: p, to: t, space: 'packet', nullIf: { a: q, b: end }, refs: [l.lifetimes.acquire({ kind: 'header' })] };
}


/**
 * Registers holding ctx->data and ctx->data_end, loaded once at the
 * function's entry, after the copies of its argument registers (so they
 * dominate every use), and reloaded after helpers that move the packet.
 */
export function packetBounds(l: FunctionLowering): { data: VReg; end: VReg } {
  if (l.packetBoundsCache) return l.packetBoundsCache;
  const info = PROGRAM_KINDS[l.program.kind];
  if (!info.packet || info.packet === 'loadBytes') throw new Error('internal: no direct packet access');
  const data = l.newReg();
  const end = l.newReg();
  const loads: SpannedOp[] = [
    { op: 'load', dst: data, base: l.ctxReg, off: info.packet.data, size: 4 },
    { op: 'load', dst: end, base: l.ctxReg, off: info.packet.dataEnd, size: 4 },
  ];
  const entrySpan = l.ops[0]?.span;
  l.ops.splice(entryMoves(l.ops), 0, ...loads.map((o) => (entrySpan ? { ...o, span: entrySpan } : o)));
  l.packetBoundsCache = { data, end };
  l.packetPointers.add(data);
  return l.packetBoundsCache;
}

/**
 * After a helper that may move packet data (`what`, at `call`): headers are
 * released, and the bounds reloaded. The registers are made now if they do
 * not exist yet: their loads at the entry would hold the bounds from before the helper.
 */
export function reloadPacketBounds(l: FunctionLowering, what: string, call: Node): void {
  l.movesPacket = true;
  l.lifetimes.release({ kind: 'headers' }, what, call);
  const info = PROGRAM_KINDS[l.program.kind];
  if (!info.packet || info.packet === 'loadBytes') return;
  packetBounds(l);
  if (!l.packetBoundsCache) return;
  l.emit({ op: 'load', dst: l.packetBoundsCache.data, base: l.ctxReg, off: info.packet.data, size: 4 });
  l.emit({ op: 'load', dst: l.packetBoundsCache.end, base: l.ctxReg, off: info.packet.dataEnd, size: 4 });
}

export function packetLength(l: FunctionLowering, node: Node): Value {
  const info = PROGRAM_KINDS[l.program.kind];
  if (info.packet === 'loadBytes' || !info.packet) {
    if (!('len' in info.fields)) return l.fail(node, 'TSBPF_PACKET', `${l.program.kind} programs have no packet`);
    return l.load(l.ctxReg, 0, U32);
  }
  const { data, end } = packetBounds(l);
  const dst = l.newReg();
  l.emit({ op: 'alu', alu: 'sub', bits: 64, dst, a: reg(end), b: reg(data) });
  return { k: 'int', op: reg(dst), t: U32 };
}
