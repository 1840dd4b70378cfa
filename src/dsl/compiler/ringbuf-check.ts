/**
 * Ring-buffer reservations must be submitted or discarded on every path
 * (the verifier rejects an "unreleased reference"). A forward dataflow over
 * the IR finds the reservations still outstanding at some `ret`, so the
 * author sees the TypeScript line of the reserve() instead of a verifier log.
 */
import { Helper } from '../../asm/helpers.js';
import type { SourceSpan } from '../../asm/instruction.js';
import type { IrFunction, VReg } from './ir.js';
import { successors } from './passes.js';

export interface LeakedReservation {
  span: SourceSpan | undefined;
}

export function findLeakedReservations(fn: IrFunction): LeakedReservation[] {
  const ops = fn.ops;
  // Which reservation (by the index of its reserve call) a register holds.
  const reservationOf = new Map<VReg, number>();
  ops.forEach((op, i) => {
    if (op.op === 'call' && op.helper === Helper.ringbuf_reserve && op.dst !== undefined) reservationOf.set(op.dst, i);
  });
  if (reservationOf.size === 0) return [];
  let grew = true;
  while (grew) {
    grew = false;
    for (const op of ops) {
      if (op.op === 'mov' && op.src.kind === 'reg' && reservationOf.has(op.src.reg) && !reservationOf.has(op.dst)) {
        reservationOf.set(op.dst, reservationOf.get(op.src.reg)!);
        grew = true;
      }
    }
  }
  const succ = successors(ops);
  const labelIndex = new Map<string, number>();
  ops.forEach((op, i) => {
    if (op.op === 'label') labelIndex.set(op.label, i);
  });
  // state[i]: reservations possibly outstanding before op i.
  const state: Array<Set<number> | undefined> = new Array(ops.length);
  const work: Array<[number, Set<number>]> = [[0, new Set()]];
  const leaks = new Set<number>();
  while (work.length) {
    const [i, incoming] = work.pop()!;
    const prev = state[i];
    if (prev && [...incoming].every((r) => prev.has(r))) continue;
    const cur = new Set([...(prev ?? []), ...incoming]);
    state[i] = cur;
    const op = ops[i]!;
    const out = new Set(cur);
    if (op.op === 'call') {
      if (op.helper === Helper.ringbuf_reserve) out.add(i);
      if ((op.helper === Helper.ringbuf_submit || op.helper === Helper.ringbuf_discard) && op.args[0]?.kind === 'reg') {
        const r = reservationOf.get(op.args[0].reg);
        if (r !== undefined) out.delete(r);
      }
    }
    if (op.op === 'ret') {
      for (const r of out) leaks.add(r);
      continue;
    }
    if (op.op === 'br' && op.b.kind === 'imm' && op.b.value === 0n && (op.cmp === 'eq' || op.cmp === 'ne') && reservationOf.has(op.a)) {
      // The edge where the reservation is null releases nothing, but nothing is outstanding either.
      const r = reservationOf.get(op.a)!;
      const nullSide = new Set(out);
      nullSide.delete(r);
      const taken = labelIndex.get(op.target)!;
      work.push([taken, op.cmp === 'eq' ? nullSide : out]);
      if (i + 1 < ops.length) work.push([i + 1, op.cmp === 'eq' ? out : nullSide]);
      continue;
    }
    for (const s of succ[i]!) work.push([s, out]);
  }
  return [...leaks].map((i) => ({ span: ops[i]!.span }));
}
