/**
 * IR passes: constant propagation and folding, then dead code removal
 * (unreachable ops, jumps to the next op, unused labels, unused results).
 * Liveness is shared with the register allocator.
 */
import { I64, U64 } from './ctypes.js';
import { type CmpName, def, hasSideEffects, imm, type IrFunction, type Operand, type SpannedOp, uses, type VReg } from './ir.js';
import { foldAlu } from './lower.js';

/** Successor op indexes of each op. */
export function successors(ops: readonly SpannedOp[]): number[][] {
  const labels = new Map<string, number>();
  ops.forEach((op, i) => {
    if (op.op === 'label') labels.set(op.label, i);
  });
  return ops.map((op, i) => {
    if (op.op === 'ret') return [];
    if (op.op === 'jmp') return [labels.get(op.target)!];
    const next = i + 1 < ops.length ? [i + 1] : [];
    if (op.op === 'br') return [...next, labels.get(op.target)!];
    return next;
  });
}

/** Live-in and live-out sets (as bitsets) of each op. */
export interface Liveness {
  liveIn: Uint32Array[];
  liveOut: Uint32Array[];
  has(set: Uint32Array, v: VReg): boolean;
}

export function liveness(fn: IrFunction): Liveness {
  const n = fn.ops.length;
  const words = Math.ceil(fn.vregCount / 32) || 1;
  const liveIn = Array.from({ length: n }, () => new Uint32Array(words));
  const liveOut = Array.from({ length: n }, () => new Uint32Array(words));
  const succ = successors(fn.ops);
  const useSets = fn.ops.map(uses);
  const defs = fn.ops.map(def);
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      const out = liveOut[i]!;
      for (const s of succ[i]!) {
        const sin = liveIn[s]!;
        for (let w = 0; w < words; w++) {
          const merged = (out[w]! | sin[w]!) >>> 0;
          if (merged !== out[w]) {
            out[w] = merged;
            changed = true;
          }
        }
      }
      const inn = liveIn[i]!;
      const next = out.slice();
      const d = defs[i];
      if (d !== undefined) next[d >> 5]! &= ~(1 << (d & 31));
      for (const u of useSets[i]!) next[u >> 5]! |= 1 << (u & 31);
      for (let w = 0; w < words; w++) {
        if (next[w] !== inn[w]) {
          inn[w] = next[w]!;
          changed = true;
        }
      }
    }
  }
  return { liveIn, liveOut, has: (set, v) => (set[v >> 5]! & (1 << (v & 31))) !== 0 };
}

/** Replaces uses of registers that always hold one constant by that constant, and folds. */
export function propagateConstants(fn: IrFunction): boolean {
  const defCount = new Map<VReg, number>();
  const constant = new Map<VReg, { value: bigint; bits: 32 | 64 }>();
  for (const op of fn.ops) {
    const d = def(op);
    if (d === undefined) continue;
    defCount.set(d, (defCount.get(d) ?? 0) + 1);
    if (op.op === 'mov' && op.src.kind === 'imm') constant.set(d, { value: op.src.value, bits: op.bits });
  }
  for (const [r] of constant) if (defCount.get(r) !== 1) constant.delete(r);
  // A constant's register value as 64 bits: 32-bit moves zero-extend.
  const valueOf = (r: VReg): bigint | undefined => {
    const c = constant.get(r);
    if (!c) return undefined;
    return c.bits === 32 ? BigInt.asUintN(32, c.value) : BigInt.asIntN(64, c.value);
  };
  const sub = (x: Operand): Operand => {
    if (x.kind !== 'reg') return x;
    const v = valueOf(x.reg);
    return v === undefined ? x : imm(v);
  };
  let changed = false;
  fn.ops = fn.ops.map((op) => {
    let out: SpannedOp = op;
    switch (op.op) {
      case 'mov': {
        const src = sub(op.src);
        if (src !== op.src) out = { ...op, src };
        break;
      }
      case 'alu': {
        const b = sub(op.b);
        const a = sub(op.a);
        if (a.kind === 'imm' && b.kind === 'imm') {
          const t = op.bits === 64 ? (op.alu === 'sdiv' || op.alu === 'smod' || op.alu === 'arsh' ? I64 : U64) : op.alu === 'sdiv' || op.alu === 'smod' || op.alu === 'arsh' ? { ...I64, bits: 32 as const, signed: true } : { ...U64, bits: 32 as const };
          const av = t.signed ? BigInt.asIntN(t.bits, a.value) : BigInt.asUintN(t.bits, a.value);
          const bv = t.signed ? BigInt.asIntN(t.bits, b.value) : BigInt.asUintN(t.bits, b.value);
          const f = op.alu === 'neg' ? -av : foldAlu(op.alu, av, bv, t);
          if (f !== undefined) out = { op: 'mov', dst: op.dst, src: imm(BigInt.asUintN(op.bits, f)), bits: op.bits, ...(op.span ? { span: op.span } : {}) };
        } else if (b !== op.b && b.kind === 'imm' && fitsImm32(b.value, op.bits)) {
          // The verifier rejects a constant divisor 0 and shifts by the width or more: keep the register
          // (eBPF gives 0, the dividend, the amount modulo the width), or take the amount modulo the width.
          if (SHIFTS.has(op.alu)) out = { ...op, b: imm(BigInt.asUintN(64, b.value) % BigInt(op.bits)) };
          else if (!(DIVISIONS.has(op.alu) && BigInt.asUintN(op.bits, b.value) === 0n)) out = { ...op, b };
        }
        break;
      }
      case 'store': {
        const value = sub(op.value);
        if (value !== op.value && value.kind === 'imm' && fitsImm32(value.value, op.size === 8 ? 64 : 32)) out = { ...op, value };
        break;
      }
      case 'call': {
        const args = op.args.map(sub);
        if (args.some((a, i) => a !== op.args[i])) out = { ...op, args };
        break;
      }
      case 'br': {
        const b = sub(op.b);
        const av = valueOf(op.a);
        if (av !== undefined && b.kind === 'imm') {
          if (compareConst(op.cmp, op.bits, av, b.value)) out = { op: 'jmp', target: op.target, ...(op.span ? { span: op.span } : {}) };
          else out = { op: 'label', label: `__dead${Math.random().toString(36).slice(2)}` };
        } else if (b !== op.b && b.kind === 'imm' && fitsImm32(b.value, op.bits)) out = { ...op, b };
        break;
      }
      case 'ret': {
        const value = sub(op.value);
        if (value !== op.value) out = { ...op, value };
        break;
      }
      default: break;
    }
    if (out !== op) changed = true;
    return out;
  });
  return changed;
}

/** Whether an immediate can be encoded in the 32-bit imm field for an operation of `bits`. */
export function fitsImm32(v: bigint, bits: 32 | 64): boolean {
  if (bits === 32) return BigInt.asIntN(32, v) === BigInt.asIntN(32, BigInt.asUintN(32, v)) && (v >= -(1n << 31n) && v < 1n << 32n);
  const s = BigInt.asIntN(64, v);
  return s >= -(1n << 31n) && s < 1n << 31n;
}

function compareConst(cmp: string, bits: 32 | 64, a: bigint, b: bigint): boolean {
  const u = (x: bigint) => BigInt.asUintN(bits, x);
  const s = (x: bigint) => BigInt.asIntN(bits, x);
  switch (cmp) {
    case 'eq': return u(a) === u(b);
    case 'ne': return u(a) !== u(b);
    case 'gt': return u(a) > u(b);
    case 'ge': return u(a) >= u(b);
    case 'lt': return u(a) < u(b);
    case 'le': return u(a) <= u(b);
    case 'sgt': return s(a) > s(b);
    case 'sge': return s(a) >= s(b);
    case 'slt': return s(a) < s(b);
    case 'sle': return s(a) <= s(b);
    default: return (u(a) & u(b)) !== 0n;
  }
}

/** Removes unreachable ops, redundant jumps, unused labels and unused pure results. */
export function removeDeadCode(fn: IrFunction): boolean {
  let changed = false;
  // Unreachable: walk the CFG from the entry.
  const succ = successors(fn.ops);
  const reached = new Uint8Array(fn.ops.length);
  const stack = fn.ops.length ? [0] : [];
  while (stack.length) {
    const i = stack.pop()!;
    if (reached[i]) continue;
    reached[i] = 1;
    for (const s of succ[i]!) if (s !== undefined && !reached[s]) stack.push(s);
  }
  let ops = fn.ops.filter((_, i) => reached[i]);
  if (ops.length !== fn.ops.length) changed = true;
  // Jumps to the label right after them.
  ops = ops.filter((op, i) => {
    if (op.op !== 'jmp' && op.op !== 'br') return true;
    for (let j = i + 1; j < ops.length; j++) {
      const n = ops[j]!;
      if (n.op !== 'label') break;
      if (n.label === op.target) {
        changed = true;
        return op.op === 'br' && false;
      }
    }
    return true;
  });
  const referenced = new Set<string>();
  for (const op of ops) if (op.op === 'jmp' || op.op === 'br') referenced.add(op.target);
  const before = ops.length;
  ops = ops.filter((op) => op.op !== 'label' || referenced.has(op.label));
  if (ops.length !== before) changed = true;
  fn.ops = ops;
  // Pure results nobody reads.
  const live = liveness(fn);
  const kept = fn.ops.filter((op, i) => {
    const d = def(op);
    if (d === undefined || hasSideEffects(op)) return true;
    if (op.op === 'mov' && op.src.kind === 'reg' && op.src.reg < 0) return true;
    return live.has(live.liveOut[i]!, d);
  });
  if (kept.length !== fn.ops.length) {
    fn.ops = kept;
    changed = true;
  }
  return changed;
}

const SHIFTS = new Set(['lsh', 'rsh', 'arsh']);
const DIVISIONS = new Set(['div', 'sdiv', 'mod', 'smod']);
const IDENTITY_ZERO = new Set(['add', 'sub', 'or', 'xor', 'lsh', 'rsh', 'arsh']);

/** Strength reduction: `x + 0`, `x | 0`, `x * 1`… become moves. */
export function simplifyIdentities(fn: IrFunction): boolean {
  let changed = false;
  fn.ops = fn.ops.map((op) => {
    if (op.op !== 'alu' || op.b.kind !== 'imm' || op.a.kind !== 'reg') return op;
    const v = op.b.value;
    if ((v === 0n && IDENTITY_ZERO.has(op.alu)) || (v === 1n && (op.alu === 'mul' || op.alu === 'div'))) {
      changed = true;
      return { op: 'mov', dst: op.dst, src: op.a, bits: op.bits, ...(op.span ? { span: op.span } : {}) };
    }
    return op;
  });
  return changed;
}

function defCounts(fn: IrFunction): Map<VReg, number> {
  const counts = new Map<VReg, number>();
  for (const op of fn.ops) {
    const d = def(op);
    if (d !== undefined) counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  return counts;
}

function renameUses(op: SpannedOp, from: VReg, to: VReg): SpannedOp {
  const r = (x: Operand): Operand => (x.kind === 'reg' && x.reg === from ? { kind: 'reg', reg: to } : x);
  const v = (x: VReg): VReg => (x === from ? to : x);
  switch (op.op) {
    case 'mov': return { ...op, src: r(op.src) };
    case 'alu': return { ...op, a: r(op.a), b: r(op.b) };
    case 'bswap': return { ...op, src: r(op.src) };
    case 'load': case 'coreLoad': return { ...op, base: v(op.base) };
    case 'store': return { ...op, base: v(op.base), value: r(op.value) };
    case 'atomicAdd': return { ...op, base: v(op.base), value: v(op.value) };
    case 'call': return { ...op, args: op.args.map(r) };
    case 'br': return { ...op, a: v(op.a), b: r(op.b) };
    case 'ret': return { ...op, value: r(op.value) };
    default: return op;
  }
}

/**
 * Copy propagation between single-definition registers: the source's
 * definition dominates the copy, which dominates every use of the copy.
 */
export function propagateCopies(fn: IrFunction): boolean {
  const counts = defCounts(fn);
  let changed = false;
  for (let i = 0; i < fn.ops.length; i++) {
    const op = fn.ops[i]!;
    if (op.op !== 'mov' || op.bits !== 64 || op.src.kind !== 'reg' || op.src.reg < 0) continue;
    const from = op.dst;
    const to = op.src.reg;
    if (counts.get(from) !== 1 || counts.get(to) !== 1) continue;
    fn.ops = fn.ops.map((o, j) => (j === i ? o : renameUses(o, from, to)));
    changed = true;
  }
  return changed;
}

/**
 * `p = base + k; load [p + off]` → `load [base + k + off]` when base is not redefined in between.
 * The relation survives labels when p and base are each defined once before the first label
 * (they run at most once, so no path can change one without the other).
 */
export function foldAddresses(fn: IrFunction): boolean {
  const counts = defCounts(fn);
  const known = new Map<VReg, { base: VReg; add: number; once: boolean }>();
  const definedOnceUpFront = new Set<VReg>();
  for (const op of fn.ops) {
    if (op.op === 'label') break;
    const d = def(op);
    if (d !== undefined && counts.get(d) === 1) definedOnceUpFront.add(d);
  }
  let changed = false;
  fn.ops = fn.ops.map((op) => {
    let out: SpannedOp = op;
    const fold = (base: VReg, off: number): [VReg, number] => {
      const k = known.get(base);
      if (!k) return [base, off];
      const next = off + k.add;
      if (next < -32768 || next > 32767) return [base, off];
      changed = true;
      return [k.base, next];
    };
    if (op.op === 'load') {
      const [base, off] = fold(op.base, op.off);
      if (base !== op.base) out = { ...op, base, off };
    } else if (op.op === 'store') {
      const [base, off] = fold(op.base, op.off);
      if (base !== op.base) out = { ...op, base, off };
    } else if (op.op === 'atomicAdd') {
      const [base, off] = fold(op.base, op.off);
      if (base !== op.base) out = { ...op, base, off };
    } else if (op.op === 'alu' && op.alu === 'add' && op.bits === 64 && op.a.kind === 'reg' && op.b.kind === 'imm' && fitsImm32(op.b.value, 64)) {
      // (x + a) + b → x + (a + b)
      const [base, off] = fold(op.a.reg, Number(op.b.value));
      if (base !== op.a.reg) out = { ...op, a: { kind: 'reg', reg: base }, b: { kind: 'imm', value: BigInt(off) } };
    }
    if (op.op === 'label') for (const [k, v] of known) if (!v.once) known.delete(k);
    const d = def(op);
    if (d !== undefined) {
      for (const [k, v] of known) if (v.base === d || k === d) known.delete(k);
      if (out.op === 'alu' && out.alu === 'add' && out.bits === 64 && out.a.kind === 'reg' && out.a.reg >= 0 && out.b.kind === 'imm' && counts.get(d) === 1 && fitsImm32(out.b.value, 64)) {
        known.set(d, { base: out.a.reg, add: Number(out.b.value), once: definedOnceUpFront.has(d) && definedOnceUpFront.has(out.a.reg) });
      }
    }
    return out;
  });
  return changed;
}

/** `t = a op b; x = t` with t used only there → `x = a op b` (assignments to variables). */
export function sinkIntoMoves(fn: IrFunction): boolean {
  const counts = defCounts(fn);
  const useCount = new Map<VReg, number>();
  for (const op of fn.ops) for (const u of uses(op)) useCount.set(u, (useCount.get(u) ?? 0) + 1);
  let changed = false;
  const out: SpannedOp[] = [];
  for (let i = 0; i < fn.ops.length; i++) {
    const op = fn.ops[i]!;
    const next = fn.ops[i + 1];
    const t = def(op);
    if (
      t !== undefined && next?.op === 'mov' && next.bits === 64 && next.src.kind === 'reg' && next.src.reg === t &&
      (op.op === 'alu' || op.op === 'load' || op.op === 'bswap') && counts.get(t) === 1 && useCount.get(t) === 1
    ) {
      out.push({ ...op, dst: next.dst });
      i++;
      changed = true;
      continue;
    }
    out.push(op);
  }
  fn.ops = out;
  return changed;
}

const INVERSE: Record<string, CmpName | undefined> = {
  eq: 'ne', ne: 'eq', gt: 'le', le: 'gt', ge: 'lt', lt: 'ge', sgt: 'sle', sle: 'sgt', sge: 'slt', slt: 'sge', set: undefined,
};

/**
 * Control-flow cleanups: returns of one constant become jumps to a single
 * `ret` (tail merging), `if c goto L1; goto L2; L1:` becomes
 * `if !c goto L2`, and a branch to the next op goes.
 */
export function mergeReturnsAndJumps(fn: IrFunction): boolean {
  let changed = false;
  const isRetOf = (o: SpannedOp | undefined, v: bigint) => o?.op === 'ret' && o.value.kind === 'imm' && o.value.value === v;
  const labels = new Set(fn.ops.flatMap((o) => (o.op === 'label' ? [o.label] : [])));
  // The one `ret v` the others jump to: the one an earlier round labelled (a later round can find a `ret v`
  // that constant folding made ahead of it: that one must jump too, not take the label a second time), or the first.
  const target = new Map<bigint, { index: number; label: string; placed: boolean }>();
  const name = (v: bigint) => `__ret${v < 0n ? 'm' : ''}${v < 0n ? -v : v}`;
  fn.ops.forEach((op, i) => {
    if (op.op !== 'label' || !op.label.startsWith('__ret')) return;
    const next = fn.ops[i + 1];
    if (next?.op === 'ret' && next.value.kind === 'imm' && op.label === name(next.value.value) && !target.has(next.value.value)) {
      target.set(next.value.value, { index: i + 1, label: op.label, placed: true });
    }
  });
  fn.ops.forEach((op, i) => {
    if (op.op !== 'ret' || op.value.kind !== 'imm' || target.has(op.value.value)) return;
    let label = name(op.value.value);
    for (let n = 2; labels.has(label); n++) label = `${name(op.value.value)}_${n}`;
    target.set(op.value.value, { index: i, label, placed: false });
  });
  const out: SpannedOp[] = [];
  fn.ops.forEach((op, i) => {
    if (op.op === 'ret' && op.value.kind === 'imm') {
      const value = op.value.value;
      const t = target.get(value)!;
      if (t.index === i) {
        if (!t.placed && fn.ops.some((o, j) => j !== i && isRetOf(o, value))) out.push({ op: 'label', label: t.label });
        out.push(op);
        return;
      }
      out.push({ op: 'jmp', target: t.label, ...(op.span ? { span: op.span } : {}) });
      changed = true;
      return;
    }
    out.push(op);
  });
  // if c goto L1; jmp L2; L1:  →  if !c goto L2; L1:
  const ops: SpannedOp[] = [];
  for (let i = 0; i < out.length; i++) {
    const op = out[i]!;
    const next = out[i + 1];
    const after = out[i + 2];
    // A branch or jump to the very next op goes nowhere else.
    if ((op.op === 'br' || op.op === 'jmp') && next?.op === 'label' && next.label === op.target) {
      changed = true;
      continue;
    }
    if (op.op === 'br' && next?.op === 'jmp' && after?.op === 'label' && after.label === op.target && INVERSE[op.cmp]) {
      ops.push({ ...op, cmp: INVERSE[op.cmp]!, target: next.target });
      i++;
      changed = true;
      continue;
    }
    ops.push(op);
  }
  fn.ops = ops;
  return changed;
}

/** Runs the IR passes to a fixed point. */
export function optimize(fn: IrFunction): void {
  for (let round = 0; round < 10; round++) {
    const a = propagateConstants(fn);
    const s = simplifyIdentities(fn);
    const c = propagateCopies(fn);
    const f = foldAddresses(fn);
    const m = sinkIntoMoves(fn);
    const j = mergeReturnsAndJumps(fn);
    const b = removeDeadCode(fn);
    if (!a && !b && !s && !c && !f && !m && !j) break;
  }
}
