/**
 * IR passes: constant propagation and folding, then dead code removal
 * (unreachable ops, jumps to the next op, unused labels, unused results).
 * Liveness is shared with the register allocator.
 */
import { I64, U64 } from './ctypes.js';
import { type CmpName, def, entryMoves, type FrameAddress, formatOperand, hasSideEffects, imm, type IrFunction, reg, type Operand, type SpannedOp, uses, type VReg } from './ir.js';
import { foldAlu } from './lower.js';
import { Helper } from '../../asm/helpers.js';

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

/** Whether no op can run twice in one run of the function (no loop: a jump back to a shared return is none). */
export function acyclic(ops: readonly SpannedOp[]): boolean {
  const succ = successors(ops);
  const state = new Uint8Array(ops.length); // 0 unseen, 1 on the path, 2 done
  for (let root = 0; root < ops.length; root++) {
    if (state[root]) continue;
    const stack: Array<[number, number]> = [[root, 0]];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const next = succ[top[0]]![top[1]++];
      if (next === undefined) {
        state[top[0]] = 2;
        stack.pop();
      } else if (state[next] === 1) return false;
      else if (state[next] === 0) {
        state[next] = 1;
        stack.push([next, 0]);
      }
    }
  }
  return true;
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
  // A helper's result nobody reads: the call stays, its result needs no register.
  fn.ops = fn.ops.map((op, i) => {
    if (op.op !== 'call' || op.dst === undefined || live.has(live.liveOut[i]!, op.dst)) return op;
    changed = true;
    const { dst: _unused, ...call } = op;
    return call;
  });
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

/** How many times each virtual register is read. */
function useCounts(fn: IrFunction): Map<VReg, number> {
  const counts = new Map<VReg, number>();
  for (const op of fn.ops) for (const u of uses(op)) counts.set(u, (counts.get(u) ?? 0) + 1);
  return counts;
}

/** Registers defined once, by a `frame` op: each holds that stack address wherever it is read. */
export function frameAddresses(fn: IrFunction, counts = defCounts(fn)): Map<VReg, FrameAddress> {
  const frames = new Map<VReg, FrameAddress>();
  for (const op of fn.ops) if (op.op === 'frame' && counts.get(op.dst) === 1) frames.set(op.dst, { slot: op.slot, off: op.off });
  return frames;
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
  // Without a loop every op runs at most once: a register set once keeps its value from there on.
  const straight = acyclic(fn.ops);
  for (const op of fn.ops) {
    if (op.op === 'label' && !straight) break;
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

/** `p = &slot + k; q = p + c` → `q = &slot + (k + c)`: a stack address plus a constant is another stack address. */
export function foldFrameOffsets(fn: IrFunction): boolean {
  const frames = frameAddresses(fn);
  let changed = false;
  fn.ops = fn.ops.map((op) => {
    if (op.op !== 'alu' || op.alu !== 'add' || op.bits !== 64 || op.a.kind !== 'reg' || op.b.kind !== 'imm') return op;
    const f = frames.get(op.a.reg);
    if (!f || !fitsImm32(op.b.value, 64)) return op;
    const off = f.off + Number(op.b.value);
    if (off < -32768 || off > 32767) return op;
    changed = true;
    return { op: 'frame', dst: op.dst, slot: f.slot, off, ...(op.span ? { span: op.span } : {}) };
  });
  return changed;
}

/** Helper arguments that are pointers the helper only reads (the key of a lookup, update or delete; the value of an update). */
const READ_ONLY_ARGUMENTS = new Map<number, readonly number[]>([
  [Helper.map_lookup_elem, [1]],
  [Helper.map_update_elem, [1, 2]],
  [Helper.map_delete_elem, [1]],
]);

/**
 * Stack copies of one register (a map key built from a local before each
 * map call) become one slot written once, right after the register's only
 * definition, as clang keeps an address-taken local in its stack home:
 * `m.lookup(sk)` … `m.delete(sk)` store `sk` once, not before every call.
 * Only slots whose one store is at their start, of a register defined
 * once (the same size in every slot of a group), and whose address is otherwise only read (loads, read-only helper
 * arguments), so the slot holds that register's value wherever it is read.
 */
export function shareRegisterCopies(fn: IrFunction): boolean {
  const counts = defCounts(fn);
  const frameOf = frameAddresses(fn, counts);
  const spoiled = new Set<number>();
  for (const op of fn.ops) if (op.op === 'frame' && !frameOf.has(op.dst)) spoiled.add(op.slot);
  const stores = new Map<number, { index: number; value: VReg; size: number }[]>();
  fn.ops.forEach((op, i) => {
    const readOnly = op.op === 'call' && !op.atomic && op.subprogram === undefined ? READ_ONLY_ARGUMENTS.get(op.helper) ?? [] : [];
    for (const u of uses(op)) {
      const f = frameOf.get(u);
      if (!f) continue;
      if (op.op === 'load' && op.base === u) continue;
      if (op.op === 'store' && op.base === u && !(op.value.kind === 'reg' && op.value.reg === u)) {
        const ok = f.off + op.off === 0 && op.size <= fn.slots[f.slot]!.size && op.value.kind === 'reg' && op.value.reg >= 0 && counts.get(op.value.reg) === 1;
        if (!ok) spoiled.add(f.slot);
        else stores.set(f.slot, [...(stores.get(f.slot) ?? []), { index: i, value: (op.value as { reg: VReg }).reg, size: op.size }]);
        continue;
      }
      if (op.op === 'call' && op.args.every((a, k) => a.kind !== 'reg' || a.reg !== u || readOnly.includes(k))) continue;
      spoiled.add(f.slot);
    }
  });
  // Slots written once, grouped by the register and size written.
  const groups = new Map<string, { slots: number[]; value: VReg; size: number; storeAt: number[] }>();
  for (const [slot, list] of stores) {
    if (spoiled.has(slot) || list.length !== 1) continue;
    const { index, value, size } = list[0]!;
    const key = `${value}:${size}:${fn.slots[slot]!.size}`;
    const g = groups.get(key) ?? { slots: [], value, size, storeAt: [] };
    g.slots.push(slot);
    g.storeAt.push(index);
    groups.set(key, g);
  }
  for (const g of groups.values()) {
    const found = fn.ops.findIndex((op) => def(op) === g.value);
    if (found < 0) continue;
    // Not inside the parameter moves at the entry: they stay together (emit moves them as one).
    const defAt = Math.max(found, entryMoves(fn.ops) - 1);
    // One copy past a branch is also stored where the value is made, as clang stores an address-taken local
    // at once: the verifier then finds the same stack on every path and prunes more.
    if (g.slots.length === 1 && !fn.ops.slice(defAt + 1, g.storeAt[0]).some((o) => o.op === 'br' || o.op === 'label')) continue;
    const home = g.slots[0]!;
    const others = new Set(g.slots);
    const drop = new Set(g.storeAt);
    const base = fn.vregCount++;
    const span = fn.ops[defAt]!.span;
    const out: SpannedOp[] = [];
    fn.ops.forEach((op, i) => {
      if (drop.has(i)) return;
      out.push(op.op === 'frame' && others.has(op.slot) ? { ...op, slot: home } : op);
      if (i === defAt) {
        out.push({ op: 'frame', dst: base, slot: home, off: 0, ...(span ? { span } : {}) });
        out.push({ op: 'store', base, off: 0, size: g.size as 1 | 2 | 4 | 8, value: { kind: 'reg', reg: g.value }, ...(span ? { span } : {}) });
      }
    });
    fn.ops = out;
    // One group per call: the other groups' store indexes are stale now (the optimizer calls again).
    return true;
  }
  return false;
}

const bitLength = (v: bigint): number => v.toString(2).length - (v === 0n ? 1 : 0);

/**
 * How many low bits can be set in each register (64 when unknown): a load
 * of n bytes has 8n, `x & 0xffff` 16, `x >> 16` 16 fewer than x, `x / 1000`
 * 9 fewer, a 32-bit result 32. A register set in several places (the arms
 * of `c ? x / 1000000 : x / 1000`) has the widest of them: the widths grow
 * from 0 to a fixed point, each op's width growing with its operands'.
 */
function valueWidths(fn: IrFunction): (x: Operand) => number {
  const width = new Map<VReg, number>();
  for (const op of fn.ops) {
    const d = def(op);
    if (d !== undefined) width.set(d, 0);
  }
  const of = (x: Operand): number => {
    if (x.kind === 'imm') return x.value < 0n ? 64 : bitLength(x.value);
    return width.get(x.reg) ?? 64;
  };
  const widthOf = (op: SpannedOp): number => {
    switch (op.op) {
      case 'load': return op.size * 8;
      case 'mov': return op.bits === 32 ? Math.min(32, op.src.kind === 'imm' ? bitLength(BigInt.asUintN(32, op.src.value)) : of(op.src)) : of(op.src);
      case 'bswap': return op.bits;
      case 'alu': {
        const cap = op.bits === 32 ? 32 : 64;
        const b = op.b.kind === 'imm' ? { kind: 'imm' as const, value: BigInt.asUintN(op.bits, op.b.value) } : op.b;
        if (op.alu === 'and') return Math.min(of(op.a), of(b), cap);
        if (op.alu === 'rsh' && b.kind === 'imm') return Math.max(0, Math.min(cap, of(op.a)) - Number(b.value));
        // Unsigned division by a constant of n bits leaves at most n - 1 fewer (a divisor of 0 gives 0).
        if (op.alu === 'div' && b.kind === 'imm') return Math.max(0, Math.min(cap, of(op.a)) - Math.max(0, bitLength(b.value) - 1));
        if (op.alu === 'or' || op.alu === 'xor') return Math.min(cap, Math.max(of(op.a), of(b)));
        if (op.alu === 'add') return Math.min(cap, Math.max(of(op.a), of(b)) + 1);
        return cap;
      }
      default: return 64;
    }
  };
  for (let round = 0, changed = true; changed && round < 100; round++) {
    changed = false;
    for (const op of fn.ops) {
      const d = def(op);
      if (d === undefined) continue;
      const w = Math.max(width.get(d)!, widthOf(op));
      if (w !== width.get(d)) {
        width.set(d, w);
        changed = true;
      }
    }
    // Not settled (a long chain of additions in a loop): every register is unknown.
    if (round === 99 && changed) width.clear();
  }
  return of;
}

/**
 * Masks and extensions that change nothing, by the widths above: `x &
 * 0xffff` of a 16-bit value is x, a zero extension (`w = w`) of a value
 * that fits 32 bits is a copy, `x << 32 s>> 32` of a value that fits 31
 * bits is x; and `x & 0xffffffff` is the one-instruction zero extension.
 */
export function simplifyByWidth(fn: IrFunction): boolean {
  const width = valueWidths(fn);
  let changed = false;
  const out: SpannedOp[] = [];
  const at = (op: SpannedOp) => (op.span ? { span: op.span } : {});
  for (let i = 0; i < fn.ops.length; i++) {
    const op = fn.ops[i]!;
    const next = fn.ops[i + 1];
    if (op.op === 'alu' && op.alu === 'and' && op.a.kind === 'reg' && op.b.kind === 'imm') {
      const m = BigInt.asUintN(op.bits, op.b.value);
      const isLowMask = (m & (m + 1n)) === 0n;
      if (isLowMask && width(op.a) <= bitLength(m)) {
        out.push({ op: 'mov', dst: op.dst, src: op.a, bits: 64, ...at(op) });
        changed = true;
        continue;
      }
      if (op.bits === 64 && m === 0xffffffffn) {
        out.push({ op: 'mov', dst: op.dst, src: op.a, bits: 32, ...at(op) });
        changed = true;
        continue;
      }
    }
    if (op.op === 'mov' && op.bits === 32 && op.src.kind === 'reg' && op.src.reg >= 0 && width(op.src) <= 32) {
      out.push({ ...op, bits: 64 });
      changed = true;
      continue;
    }
    // `x s< 0` of a value whose sign bit is clear is never true, `x s>= 0` always.
    if (op.op === 'br' && (op.cmp === 'slt' || op.cmp === 'sge') && op.b.kind === 'imm' && op.b.value === 0n && width(reg(op.a)) < op.bits) {
      if (op.cmp === 'sge') out.push({ op: 'jmp', target: op.target, ...at(op) });
      changed = true;
      continue;
    }
    // Sign extension (`lsh` then `arsh` by the same amount) of a value whose sign bit there is clear.
    if (
      op.op === 'alu' && op.alu === 'lsh' && op.a.kind === 'reg' && op.b.kind === 'imm' &&
      next?.op === 'alu' && next.alu === 'arsh' && next.bits === op.bits && next.dst === op.dst && next.a.kind === 'reg' && next.a.reg === op.dst &&
      next.b.kind === 'imm' && next.b.value === op.b.value && width(op.a) < op.bits - Number(op.b.value)
    ) {
      out.push({ op: 'mov', dst: op.dst, src: op.a, bits: 64, ...at(op) });
      i++;
      changed = true;
      continue;
    }
    out.push(op);
  }
  fn.ops = out;
  return changed;
}

/** Helpers whose result cannot change within one run of a program (the task, its ids, the CPU: BPF programs run with migration off). */
const RUN_CONSTANT_HELPERS = new Set<number>([
  Helper.get_current_pid_tgid, Helper.get_current_uid_gid, Helper.get_current_task, Helper.get_smp_processor_id,
  Helper.get_current_task_btf, Helper.get_current_cgroup_id,
]);

/**
 * Common subexpressions within an extended basic block (from a label to the
 * next, where every op runs after the ones above it): a second reference to
 * the same map or global (two instructions each), and a second call of a
 * helper whose result is the same for the whole run (`bpf.pid()` and
 * `bpf.tid()` both calling get_current_pid_tgid), and arithmetic on the
 * same registers (each set once) and constants (`data + 14` for the bounds
 * check and again for the header), become copies.
 */
export function reuseInBlocks(fn: IrFunction): boolean {
  const counts = defCounts(fn);
  let seen = new Map<string, VReg>();
  let changed = false;
  fn.ops = fn.ops.map((op) => {
    if (op.op === 'label') {
      seen = new Map();
      return op;
    }
    let key: string | undefined;
    if (op.op === 'map') key = `map ${op.map} ${op.valueOffset ?? ''}`;
    else if (op.op === 'call' && !op.atomic && op.subprogram === undefined && op.args.length === 0 && RUN_CONSTANT_HELPERS.has(op.helper)) key = `call ${op.helper}`;
    else if (op.op === 'alu' && [op.a, op.b].every((x) => x.kind === 'imm' || (x.reg >= 0 && counts.get(x.reg) === 1))) {
      key = `alu ${op.alu}${op.bits} ${formatOperand(op.a)} ${formatOperand(op.b)}`;
    }
    const d = def(op);
    if (key === undefined || d === undefined || counts.get(d) !== 1) return op;
    const earlier = seen.get(key);
    if (earlier === undefined) {
      seen.set(key, d);
      return op;
    }
    changed = true;
    return { op: 'mov', dst: d, src: { kind: 'reg', reg: earlier }, bits: 64, ...(op.span ? { span: op.span } : {}) };
  });
  return changed;
}

/**
 * `t = (32) x` with x and t defined once: uses of t that read only its low
 * 32 bits (32-bit ALU and compares, stores of 4 bytes or fewer) read x.
 */
export function narrowTruncations(fn: IrFunction): boolean {
  const counts = defCounts(fn);
  const truncated = new Map<VReg, VReg>();
  for (const op of fn.ops) {
    if (op.op === 'mov' && op.bits === 32 && op.src.kind === 'reg' && op.src.reg >= 0 && counts.get(op.dst) === 1 && counts.get(op.src.reg) === 1) truncated.set(op.dst, op.src.reg);
  }
  if (truncated.size === 0) return false;
  let changed = false;
  const low = (x: Operand): Operand => {
    if (x.kind !== 'reg' || !truncated.has(x.reg)) return x;
    changed = true;
    return { kind: 'reg', reg: truncated.get(x.reg)! };
  };
  fn.ops = fn.ops.map((op) => {
    switch (op.op) {
      case 'alu': return op.bits === 32 ? { ...op, a: low(op.a), b: low(op.b) } : op;
      case 'mov': return op.bits === 32 ? { ...op, src: low(op.src) } : op;
      case 'store': return op.size <= 4 ? { ...op, value: low(op.value) } : op;
      case 'br': {
        if (op.bits !== 32) return op;
        const a = low({ kind: 'reg', reg: op.a });
        return { ...op, a: (a as { reg: VReg }).reg, b: low(op.b) };
      }
      default: return op;
    }
  });
  return changed;
}

/**
 * Byte-by-byte copies from the packet to the stack (`for (const i of
 * range(16)) key.addr[i] = ip6.saddr[i]`, unrolled) become copies of 8, 4
 * or 2 bytes at a time where the stack side is aligned to the width: the
 * verifier wants aligned stack accesses and takes unaligned packet ones
 * (see IrFunction.packetPointers). Only runs of adjacent `t = load [p + a];
 * store [s + b] = t` pairs whose loaded register is read by that store
 * alone, at consecutive offsets.
 */
export function widenPacketCopies(fn: IrFunction): boolean {
  const packet = fn.packetPointers;
  if (!packet || packet.size === 0) return false;
  const counts = defCounts(fn);
  const useCount = useCounts(fn);
  const frames = frameAddresses(fn, counts);
  type Pair = { load: Extract<SpannedOp, { op: 'load' }>; store: Extract<SpannedOp, { op: 'store' }> };
  const pairAt = (i: number): Pair | undefined => {
    const load = fn.ops[i];
    const store = fn.ops[i + 1];
    if (load?.op !== 'load' || store?.op !== 'store' || !packet.has(load.base) || !frames.has(store.base)) return undefined;
    if (store.value.kind !== 'reg' || store.value.reg !== load.dst || store.size !== load.size) return undefined;
    if (counts.get(load.dst) !== 1 || useCount.get(load.dst) !== 1) return undefined;
    return { load, store };
  };
  let changed = false;
  const out: SpannedOp[] = [];
  for (let i = 0; i < fn.ops.length; ) {
    const first = pairAt(i);
    if (!first) {
      out.push(fn.ops[i]!);
      i++;
      continue;
    }
    // The run: pairs with the same bases, each starting where the one before ended.
    const run: Pair[] = [first];
    let j = i + 2;
    for (;;) {
      const prev = run[run.length - 1]!;
      const next = pairAt(j);
      if (!next || next.load.base !== first.load.base || next.store.base !== first.store.base) break;
      if (next.load.off !== prev.load.off + prev.load.size || next.store.off !== prev.store.off + prev.store.size) break;
      run.push(next);
      j += 2;
    }
    const bytes = run.reduce((n, p) => n + p.load.size, 0);
    const frame = frames.get(first.store.base)!;
    const align = fn.slots[frame.slot]!.align;
    const pieces: { at: number; size: 1 | 2 | 4 | 8 }[] = [];
    for (let at = 0; at < bytes; ) {
      const stackOff = frame.off + first.store.off + at;
      const size = ([8, 4, 2, 1] as const).find((w) => at + w <= bytes && w <= align && stackOff % w === 0)!;
      pieces.push({ at, size });
      at += size;
    }
    if (pieces.length < run.length) {
      changed = true;
      for (const piece of pieces) {
        const t = fn.vregCount++;
        const span = first.load.span;
        out.push({ op: 'load', dst: t, base: first.load.base, off: first.load.off + piece.at, size: piece.size, ...(span ? { span } : {}) });
        out.push({ op: 'store', base: first.store.base, off: first.store.off + piece.at, size: piece.size, value: { kind: 'reg', reg: t }, ...(first.store.span ? { span: first.store.span } : {}) });
      }
    } else for (const p of run) out.push(p.load, p.store);
    i = j;
  }
  fn.ops = out;
  return changed;
}

/** Helpers that fill `size` (an immediate argument) bytes at a stack address argument, whatever happens (zeroed on failure). */
const FILLING_HELPERS = new Map<number, { buffer: number; size: number }>([
  [Helper.get_current_comm, { buffer: 0, size: 1 }],
  [Helper.probe_read_kernel, { buffer: 0, size: 1 }],
  [Helper.probe_read_user, { buffer: 0, size: 1 }],
]);

/**
 * Dead stores to the stack: a store whose every byte is written again
 * (by stores, or by a helper that fills a buffer whatever happens) before
 * anything can read it, within a straight run of ops: the zero fill of a
 * struct local whose fields are all set next (`let o!: Owner; o.pid = …;
 * bpf.currentComm(o.comm)`), which clang does not write. Only slots whose
 * address goes nowhere but loads, stores and helper arguments.
 */
export function removeOverwrittenStores(fn: IrFunction): boolean {
  const frames = frameAddresses(fn);
  const escaped = new Set<number>();
  for (const op of fn.ops) {
    if (op.op === 'frame' && !frames.has(op.dst)) escaped.add(op.slot);
    const through = op.op === 'load' || op.op === 'store' || op.op === 'atomicAdd' ? op.base : undefined;
    for (const u of uses(op)) {
      const f = frames.get(u);
      if (!f) continue;
      const asValue = op.op === 'store' && op.value.kind === 'reg' && op.value.reg === u;
      if ((op.op === 'call' && !op.atomic) || (u === through && !asValue)) continue;
      escaped.add(f.slot);
    }
  }
  const dead = new Set<number>();
  fn.ops.forEach((op, i) => {
    if (op.op !== 'store') return;
    const at = frames.get(op.base);
    if (!at || escaped.has(at.slot)) return;
    const start = at.off + op.off;
    const need = new Set<number>();
    for (let b = start; b < start + op.size; b++) need.add(b);
    const overlaps = (from: number, to: number) => [...need].some((b) => b >= from && b < to);
    const cover = (from: number, to: number) => {
      for (let b = from; b < to; b++) need.delete(b);
    };
    for (let j = i + 1; j < fn.ops.length && need.size > 0; j++) {
      const o = fn.ops[j]!;
      if (o.op === 'label' || o.op === 'br' || o.op === 'jmp' || o.op === 'ret') return;
      if (o.op === 'store' || o.op === 'load') {
        const f = frames.get(o.base);
        if (!f || f.slot !== at.slot) continue;
        if (o.op === 'load') {
          if (overlaps(f.off + o.off, f.off + o.off + o.size)) return;
        } else cover(f.off + o.off, f.off + o.off + o.size);
        continue;
      }
      if (o.op === 'call') {
        const fills = o.subprogram === undefined && !o.atomic ? FILLING_HELPERS.get(o.helper) : undefined;
        let filled: [number, number] | undefined;
        for (const [k, a] of o.args.entries()) {
          const f = a.kind === 'reg' ? frames.get(a.reg) : undefined;
          if (!f || f.slot !== at.slot) continue;
          const size = fills ? o.args[fills.size] : undefined;
          if (fills && k === fills.buffer && size?.kind === 'imm') filled = [f.off, f.off + Number(size.value)];
          else return; // read, or unknown
        }
        if (filled) cover(filled[0], filled[1]);
        continue;
      }
      if (uses(o).some((u) => frames.get(u)?.slot === at.slot)) return;
    }
    if (need.size === 0) dead.add(i);
  });
  if (dead.size === 0) return false;
  fn.ops = fn.ops.filter((_, i) => !dead.has(i));
  return true;
}

/** `t = a op b; x = t` with t used only there → `x = a op b` (assignments to variables). */
export function sinkIntoMoves(fn: IrFunction): boolean {
  const counts = defCounts(fn);
  const useCount = useCounts(fn);
  let changed = false;
  const out: SpannedOp[] = [];
  for (let i = 0; i < fn.ops.length; i++) {
    const op = fn.ops[i]!;
    const next = fn.ops[i + 1];
    const t = def(op);
    if (
      t !== undefined && next?.op === 'mov' && next.bits === 64 && next.src.kind === 'reg' && next.src.reg === t &&
      (op.op === 'alu' || op.op === 'load' || op.op === 'bswap' || op.op === 'mov') && counts.get(t) === 1 && useCount.get(t) === 1
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
  return moveJumpedOverBlock(fn) || changed;
}

/**
 * `jmp L; B: …; ret|jmp; L:` — a block that only jumps reach, jumped over —
 * moves to the end of the function (after its last op, which falls into
 * nothing), and the jump over it goes: clang also lays out the shared
 * `return 0` last.
 */
function moveJumpedOverBlock(fn: IrFunction): boolean {
  const ops = fn.ops;
  const terminal = (o: SpannedOp | undefined) => o?.op === 'ret' || o?.op === 'jmp';
  if (!terminal(ops[ops.length - 1])) return false;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    if (op.op !== 'jmp' || ops[i + 1]?.op !== 'label') continue;
    const k = ops.findIndex((o, j) => j > i + 1 && o.op === 'label' && o.label === op.target);
    if (k < 0 || !terminal(ops[k - 1])) continue;
    fn.ops = [...ops.slice(0, i), ...ops.slice(k), ...ops.slice(i + 1, k)];
    return true;
  }
  return false;
}

/**
 * Jump threading on equality tests against constants, as a ring buffer
 * reservation lowers (`if (e !== null) goto ok; count a drop; ok: if (e ===
 * null) return`): a branch to a test of the same register against the same
 * constant goes straight to where that test leads, and a test whose outcome
 * the branch just fallen past decides is dropped or becomes a jump.
 */
export function threadBranches(fn: IrFunction): boolean {
  type Test = Extract<SpannedOp, { op: 'br' }>;
  const isTest = (o: SpannedOp | undefined): o is Test => o?.op === 'br' && o.b.kind === 'imm' && (o.cmp === 'eq' || o.cmp === 'ne');
  const constant = (t: Test) => BigInt.asUintN(t.bits, (t.b as { value: bigint }).value);
  const labelAt = new Map<string, number>();
  fn.ops.forEach((o, i) => {
    if (o.op === 'label') labelAt.set(o.label, i);
  });
  /** The first op at or after i that is not a label. */
  const landing = (i: number) => {
    while (fn.ops[i]?.op === 'label') i++;
    return i;
  };
  let changed = false;
  const fresh = new Map<number, string>();
  let n = 0;
  const labelAfter = (j: number): string => {
    const next = fn.ops[j + 1];
    if (next?.op === 'label') return next.label;
    if (!fresh.has(j)) {
      let name = `thread${n++}`;
      while (labelAt.has(name)) name = `thread${n++}`;
      fresh.set(j, name);
    }
    return fresh.get(j)!;
  };
  const same = (a: Test, b: Test) => a.a === b.a && a.bits === b.bits && constant(a) === constant(b);
  // The test may sit after ops without side effects (`v = 0; if (p === 0) goto absent; v = *p; absent: x = v;
  // if (p === 0) return`) whose results the place the test leads to does not read: the jump skips them.
  const live = liveness(fn);
  const skippable = (from: number, tested: VReg): { at: number; defined: VReg[] } => {
    const defined: VReg[] = [];
    let i = landing(from);
    for (; i < fn.ops.length; i = landing(i + 1)) {
      const o = fn.ops[i]!;
      const d = def(o);
      if (hasSideEffects(o) || d === undefined || d === tested) break;
      defined.push(d);
    }
    return { at: i, defined };
  };
  fn.ops = fn.ops.map((op) => {
    if (!isTest(op)) return op;
    let target = op.target;
    for (let hops = 0; hops < 4; hops++) {
      const { at: j, defined } = skippable(labelAt.get(target)! + 1, op.a);
      const t = fn.ops[j];
      if (!isTest(t) || !same(op, t)) break;
      // Taken here means taken there when the tests agree; not taken there when they are opposite.
      const taken = t.cmp === op.cmp;
      const lands = taken ? labelAt.get(t.target)! : j + 1;
      if (defined.some((d) => live.has(live.liveIn[lands]!, d))) break;
      target = taken ? t.target : labelAfter(j);
      if (!taken) break;
    }
    if (target === op.target) return op;
    changed = true;
    return { ...op, target };
  });
  if (fresh.size > 0) {
    const out: SpannedOp[] = [];
    fn.ops.forEach((o, i) => {
      out.push(o);
      const l = fresh.get(i);
      if (l) out.push({ op: 'label', label: l });
    });
    fn.ops = out;
  }
  // Outcomes known on the fall-through path.
  const referenced = new Set<string>();
  for (const o of fn.ops) if (o.op === 'jmp' || o.op === 'br') referenced.add(o.target);
  let fact: { test: Test; equal: boolean } | undefined;
  const out: SpannedOp[] = [];
  for (const op of fn.ops) {
    if (op.op === 'label') {
      if (referenced.has(op.label)) fact = undefined;
      out.push(op);
      continue;
    }
    if (isTest(op) && fact && same(op, fact.test)) {
      const taken = (op.cmp === 'eq') === fact.equal;
      changed = true;
      if (taken) {
        out.push({ op: 'jmp', target: op.target, ...(op.span ? { span: op.span } : {}) });
        fact = undefined;
      }
      continue;
    }
    out.push(op);
    const d = def(op);
    if (fact && d === fact.test.a) fact = undefined;
    if (isTest(op)) fact = { test: op, equal: op.cmp === 'ne' };
    else if (op.op === 'jmp' || op.op === 'ret') fact = undefined;
  }
  fn.ops = out;
  return changed;
}

/** Helpers whose result the verifier takes as a plain number. */
const SCALAR_HELPERS = new Set<number>([
  Helper.get_current_pid_tgid, Helper.get_current_uid_gid, Helper.ktime_get_ns, Helper.get_smp_processor_id, Helper.get_prandom_u32, Helper.get_current_cgroup_id,
]);
const SCALAR_ALU = new Set(['and', 'or', 'xor', 'lsh', 'rsh', 'arsh', 'mul', 'div', 'mod']);

/**
 * `if (a != 0) goto L; if (b != 0) goto L` becomes `if ((a | b) != 0) goto
 * L`, as clang merges `!x && !y` when both are known: one test, and one
 * path for the verifier to walk instead of two. Only of numbers the
 * verifier knows are numbers (it refuses `|` on a pointer): results of
 * id and clock helpers, values loaded from globals, bitwise arithmetic.
 */
export function mergeZeroTests(fn: IrFunction): boolean {
  const counts = defCounts(fn);
  const defOf = new Map<VReg, SpannedOp>();
  for (const op of fn.ops) {
    const d = def(op);
    if (d !== undefined && counts.get(d) === 1) defOf.set(d, op);
  }
  const scalar = (v: VReg): boolean => {
    const o = defOf.get(v);
    if (!o) return false;
    if (o.op === 'call') return !o.atomic && o.subprogram === undefined && SCALAR_HELPERS.has(o.helper);
    if (o.op === 'load') {
      const base = defOf.get(o.base);
      return base?.op === 'map' && base.valueOffset !== undefined;
    }
    return (o.op === 'alu' && SCALAR_ALU.has(o.alu)) || o.op === 'bswap' || (o.op === 'mov' && o.src.kind === 'imm');
  };
  let changed = false;
  const out: SpannedOp[] = [];
  for (let i = 0; i < fn.ops.length; i++) {
    const op = fn.ops[i]!;
    const next = fn.ops[i + 1];
    const zeroTest = (o: SpannedOp | undefined): o is Extract<SpannedOp, { op: 'br' }> => o?.op === 'br' && o.cmp === 'ne' && o.b.kind === 'imm' && o.b.value === 0n;
    if (zeroTest(op) && zeroTest(next) && next.target === op.target && next.bits === op.bits && next.a !== op.a && scalar(op.a) && scalar(next.a)) {
      const t = fn.vregCount++;
      const at = op.span ? { span: op.span } : {};
      out.push({ op: 'alu', alu: 'or', bits: op.bits, dst: t, a: reg(op.a), b: reg(next.a), ...at }, { ...op, a: t });
      i++;
      changed = true;
      continue;
    }
    out.push(op);
  }
  fn.ops = out;
  return changed;
}

type Part = { kind: 'def' | 'use'; reg: VReg } | { kind: 'operand'; x: Operand };

/** An op as the registers it defines and reads and the operands that may be immediates, and the rest as a key; undefined for ops never merged. */
function partsOf(op: SpannedOp): { key: string; parts: Part[] } | undefined {
  const use = (r: VReg): Part => ({ kind: 'use', reg: r });
  const def = (r: VReg): Part => ({ kind: 'def', reg: r });
  const operand = (x: Operand): Part => ({ kind: 'operand', x });
  switch (op.op) {
    case 'mov': return { key: `mov ${op.bits}`, parts: [def(op.dst), operand(op.src)] };
    case 'alu': return { key: `alu ${op.alu} ${op.bits}`, parts: [def(op.dst), operand(op.a), operand(op.b)] };
    case 'bswap': return { key: `bswap ${op.bits}`, parts: [def(op.dst), operand(op.src)] };
    case 'load': return { key: `load ${op.off} ${op.size}`, parts: [def(op.dst), use(op.base)] };
    case 'store': return { key: `store ${op.off} ${op.size}`, parts: [use(op.base), operand(op.value)] };
    case 'frame': return { key: `frame ${op.slot} ${op.off}`, parts: [def(op.dst)] };
    case 'map': return { key: `map ${op.map} ${op.valueOffset ?? ''}`, parts: [def(op.dst)] };
    case 'call':
      if (op.atomic || op.subprogram !== undefined) return undefined;
      return { key: `call ${op.helper} ${op.args.length} ${op.dst !== undefined}`, parts: [...op.args.map(operand), ...(op.dst !== undefined ? [def(op.dst)] : [])] };
    default: return undefined;
  }
}

/**
 * Tail merging: `A; jmp J … B; J:` where the runs A and B do the same but
 * for one constant (`if (p === UDP) tailCall(ctx, stages, 0); else if (p
 * === TCP) tailCall(ctx, stages, 1)`) becomes `v = a; jmp M … v = b; M:
 * B(v); J:`, as clang calls once with the index selected. Only runs whose
 * registers A sets are read within A alone.
 */
export function mergeTails(fn: IrFunction): boolean {
  const ops = fn.ops;
  const counts = defCounts(fn);
  const usedAt = new Map<VReg, number[]>();
  ops.forEach((op, i) => {
    for (const u of uses(op)) usedAt.set(u, [...(usedAt.get(u) ?? []), i]);
  });
  const labelAt = new Map<string, number>();
  ops.forEach((op, i) => {
    if (op.op === 'label') labelAt.set(op.label, i);
  });
  /** Whether ops[s1, s1+k) and ops[s2, s2+k) match, and where the one constant that differs is. */
  const match = (s1: number, s2: number, k: number): { ok: boolean; diff?: { at: number; part: number; a: bigint; b: bigint } } => {
    const mapping = new Map<VReg, VReg>();
    let diff: { at: number; part: number; a: bigint; b: bigint } | undefined;
    for (let n = 0; n < k; n++) {
      const a = partsOf(ops[s1 + n]!);
      const b = partsOf(ops[s2 + n]!);
      if (!a || !b || a.key !== b.key || a.parts.length !== b.parts.length) return { ok: false };
      for (let p = 0; p < a.parts.length; p++) {
        const x = a.parts[p]!;
        const y = b.parts[p]!;
        const same = (r: VReg, t: VReg) => (mapping.get(r) ?? r) === t;
        if (x.kind === 'def' && y.kind === 'def') {
          // What A sets is read in A alone (B's register stands for it after the merge).
          if (counts.get(x.reg) !== 1 || counts.get(y.reg) !== 1 || (usedAt.get(x.reg) ?? []).some((i) => i < s1 || i >= s1 + k)) return { ok: false };
          mapping.set(x.reg, y.reg);
        } else if (x.kind === 'use' && y.kind === 'use') {
          if (!same(x.reg, y.reg)) return { ok: false };
        } else if (x.kind === 'operand' && y.kind === 'operand') {
          if (x.x.kind === 'reg' && y.x.kind === 'reg') {
            if (!same(x.x.reg, y.x.reg)) return { ok: false };
          } else if (x.x.kind === 'imm' && y.x.kind === 'imm') {
            if (x.x.value === y.x.value) continue;
            if (diff) return { ok: false };
            diff = { at: n, part: p, a: x.x.value, b: y.x.value };
          } else return { ok: false };
        } else return { ok: false };
      }
    }
    return { ok: true, ...(diff ? { diff } : {}) };
  };
  const plain = (o: SpannedOp | undefined) => o !== undefined && partsOf(o) !== undefined;
  for (let j1 = 0; j1 < ops.length; j1++) {
    const jmp = ops[j1]!;
    if (jmp.op !== 'jmp') continue;
    const at = labelAt.get(jmp.target);
    if (at === undefined || at <= j1) continue;
    // B falls into J past nothing but labels.
    let e2 = at;
    while (ops[e2 - 1]?.op === 'label') e2--;
    let max = 0;
    while (max < 8 && plain(ops[j1 - 1 - max]) && plain(ops[e2 - 1 - max]) && e2 - 1 - max > j1) max++;
    for (let k = max; k >= 1; k--) {
      const s1 = j1 - k;
      const s2 = e2 - k;
      const m = match(s1, s2, k);
      if (!m.ok) continue;
      // Worth it: a constant that differs costs a move on each way in, paid back when it is a helper argument
      // (moved into its register anyway) in a run of two ops or more, or by a run of three or more.
      if (m.diff && (k < 2 || (k < 3 && ops[s2 + m.diff.at]!.op !== 'call'))) continue;
      const label = `tail${j1}`;
      const v = m.diff ? fn.vregCount++ : undefined;
      const set = (value: bigint, span?: SpannedOp['span']): SpannedOp[] => (v === undefined ? [] : [{ op: 'mov', dst: v, src: imm(value), bits: 64, ...(span ? { span } : {}) }]);
      const b = ops.slice(s2, e2).map((o, n) => {
        if (!m.diff || n !== m.diff.at) return o;
        const x = reg(v!);
        switch (o.op) {
          case 'mov': return { ...o, src: x };
          case 'bswap': return { ...o, src: x };
          case 'alu': return m.diff.part === 1 ? { ...o, a: x } : { ...o, b: x };
          case 'store': return { ...o, value: x };
          case 'call': return { ...o, args: o.args.map((a, i) => (i === m.diff!.part ? x : a)) };
          default: return o;
        }
      });
      // A's constant is set before the branch A follows, if any (v is read in B alone, after B sets it): `if !c goto M` then.
      const before = ops[s1 - 1]?.op === 'br' ? s1 - 1 : s1;
      fn.ops = [
        ...ops.slice(0, before), ...set(m.diff?.a ?? 0n, ops[s1]!.span), ...ops.slice(before, s1), { op: 'jmp', target: label, ...(jmp.span ? { span: jmp.span } : {}) },
        ...ops.slice(j1 + 1, s2), ...set(m.diff?.b ?? 0n, ops[s2]!.span), { op: 'label', label }, ...b, ...ops.slice(e2),
      ];
      return true;
    }
  }
  return false;
}

/**
 * `e = x + a` … `d = x + b`, with e read for the last time before d: d is
 * made as `e + (b - a)`, in e's register (one instruction, not a copy of x
 * and an add), as clang takes `data + 34` from `data + 14`. Runs after the
 * other passes (address folding would undo it). Only where e holds its
 * value at d: e and x set once, e before the first branch or label (it runs
 * on every path) or in d's block, and no loop.
 */
export function rebaseSums(fn: IrFunction): boolean {
  const counts = defCounts(fn);
  if (!acyclic(fn.ops)) return false;
  const lastUse = new Map<VReg, number>();
  fn.ops.forEach((op, i) => {
    for (const u of uses(op)) lastUse.set(u, i);
  });
  // The ops before the first branch or label run on every path: a register they set is there wherever it is read.
  const firstControl = fn.ops.findIndex((op) => op.op === 'label' || op.op === 'br' || op.op === 'jmp' || op.op === 'ret');
  type Sum = { index: number; dst: VReg; x: VReg; k: bigint };
  const sums: Sum[] = [];
  let blockStart = 0;
  let changed = false;
  fn.ops.forEach((op, i) => {
    if (op.op === 'label') blockStart = i;
    if (op.op !== 'alu' || op.alu !== 'add' || op.bits !== 64 || op.a.kind !== 'reg' || op.a.reg < 0 || op.b.kind !== 'imm' || counts.get(op.dst) !== 1 || counts.get(op.a.reg) !== 1) return;
    const x = op.a.reg;
    const k = op.b.value;
    // Not across a call (e would have to live in a callee-saved register, or be saved).
    const from = [...sums].reverse().find((e) => e.x === x && (e.index < firstControl || firstControl < 0 || e.index > blockStart) && (lastUse.get(e.dst) ?? -1) < i && fitsImm32(k - e.k, 64) && !fn.ops.slice(e.index, i).some((o) => o.op === 'call'));
    sums.push({ index: i, dst: op.dst, x, k });
    if (!from) return;
    fn.ops[i] = { ...op, a: reg(from.dst), b: imm(k - from.k) };
    lastUse.set(from.dst, i);
    changed = true;
  });
  return changed;
}

/** Runs the IR passes to a fixed point. */
export function optimize(fn: IrFunction): void {
  for (let round = 0; round < 10; round++) {
    const a = propagateConstants(fn) || reuseInBlocks(fn) || narrowTruncations(fn);
    const s = simplifyIdentities(fn) || simplifyByWidth(fn);
    const c = propagateCopies(fn);
    const f = foldAddresses(fn) || foldFrameOffsets(fn) || widenPacketCopies(fn) || removeOverwrittenStores(fn);
    const m = sinkIntoMoves(fn) || shareRegisterCopies(fn);
    const j = mergeReturnsAndJumps(fn) || threadBranches(fn) || mergeZeroTests(fn) || mergeTails(fn);
    const b = removeDeadCode(fn);
    if (!a && !b && !s && !c && !f && !m && !j) break;
  }
  if (rebaseSums(fn)) removeDeadCode(fn);
}
