/**
 * Linear-scan register allocation over live intervals. The eBPF calling
 * convention shapes the pools: r1-r5 are clobbered by helper calls, so a
 * value live across a call goes to r6-r9 (callee-saved) or to the stack;
 * r0 and r5 stay free as scratch for the emitter; r10 is the frame pointer.
 */
import { def, type FrameAddress, type IrFunction, uses, type VReg } from './ir.js';
import { frameAddresses, liveness } from './passes.js';

export type Location = { kind: 'reg'; reg: number } | { kind: 'spill'; slot: number };

export interface Allocation {
  locations: Map<VReg, Location>;
  /** Map references used only as helper arguments: loaded straight into the argument register at each call, never allocated. */
  rematerialized: Map<VReg, MapReference>;
  /** Stack addresses (r10 + offset) never allocated: memory accesses through them use r10, call arguments get `rN = r10; rN += off`. */
  frames: Map<VReg, FrameAddress>;
  /** Callee-saved registers used (for statistics). */
  spills: number;
}

export interface MapReference {
  map: string;
  valueOffset?: number;
}

/** Virtual registers defined once by a `map` op and read only as call arguments. */
export function rematerializableMaps(fn: IrFunction): Map<VReg, MapReference> {
  const defs = new Map<VReg, number>();
  const found = new Map<VReg, MapReference>();
  const spoiled = new Set<VReg>();
  for (const op of fn.ops) {
    const d = def(op);
    if (d !== undefined) {
      defs.set(d, (defs.get(d) ?? 0) + 1);
      if (op.op === 'map') found.set(d, { map: op.map, ...(op.valueOffset !== undefined ? { valueOffset: op.valueOffset } : {}) });
    }
    if (op.op === 'call') {
      op.args.forEach((a, i) => {
        if (a.kind === 'reg' && i >= 5) spoiled.add(a.reg);
      });
    } else for (const u of uses(op)) spoiled.add(u);
  }
  for (const v of [...found.keys()]) if (spoiled.has(v) || defs.get(v) !== 1) found.delete(v);
  return found;
}

/**
 * Virtual registers defined once by a `frame` op and read only as the base
 * of loads and stores (which then address r10 directly) or as at most two
 * helper arguments (each rebuilt in its argument register, two
 * instructions, no more than holding it in a callee-saved register and
 * moving it at each call costs).
 */
export function rematerializableFrames(fn: IrFunction): Map<VReg, FrameAddress> {
  const found = frameAddresses(fn);
  const spoiled = new Set<VReg>();
  const asArgument = new Map<VReg, number>();
  for (const op of fn.ops) {
    switch (op.op) {
      case 'load': break;
      case 'store': if (op.value.kind === 'reg') spoiled.add(op.value.reg); break;
      case 'atomicAdd': spoiled.add(op.value); break;
      case 'call':
        op.args.forEach((a, i) => {
          if (a.kind !== 'reg') return;
          if (i >= 5 || op.atomic) spoiled.add(a.reg);
          else asArgument.set(a.reg, (asArgument.get(a.reg) ?? 0) + 1);
        });
        break;
      default: for (const u of uses(op)) spoiled.add(u);
    }
  }
  for (const v of [...found.keys()]) if (spoiled.has(v) || (asArgument.get(v) ?? 0) > 2) found.delete(v);
  return found;
}

interface Interval {
  vreg: VReg;
  start: number;
  end: number;
  crossesCall: boolean;
}

const CALLER_SAVED = [1, 2, 3, 4];
const CALLEE_SAVED = [6, 7, 8, 9];

/**
 * Allocates registers. r0 may also hold a helper's result until its last
 * use when nothing in between needs r0 as scratch; if that allocation had
 * to spill (spill code uses r0), it is redone without r0.
 */
export function allocateRegisters(fn: IrFunction): Allocation {
  const slotsBefore = fn.slots.length;
  const first = allocate(fn, true);
  if (first.spills === 0) return first;
  fn.slots.length = slotsBefore;
  return allocate(fn, false);
}

function allocate(fn: IrFunction, useR0: boolean): Allocation {
  const rematerialized = rematerializableMaps(fn);
  const frames = rematerializableFrames(fn);
  const live = liveness(fn);
  const start = new Map<VReg, number>();
  const end = new Map<VReg, number>();
  const touch = (v: VReg, i: number) => {
    if (!start.has(v) || start.get(v)! > i) start.set(v, i);
    if (!end.has(v) || end.get(v)! < i) end.set(v, i);
  };
  const calls: number[] = [];
  /** How often each register is read or written: a spilled one costs a load or store at each. */
  const accesses = new Map<VReg, number>();
  const count = (v: VReg) => accesses.set(v, (accesses.get(v) ?? 0) + 1);
  fn.ops.forEach((op, i) => {
    const d = def(op);
    if (d !== undefined) {
      touch(d, i);
      count(d);
    }
    for (const u of uses(op)) {
      touch(u, i);
      count(u);
    }
    if (op.op === 'call') calls.push(i);
    // Live through this op: extend over it (covers loops through back edges).
    const out = live.liveOut[i]!;
    for (let w = 0; w < out.length; w++) {
      let bits = out[w]!;
      while (bits) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        touch(w * 32 + b, i);
      }
    }
  });
  const intervals: Interval[] = [...start.keys()].filter((v) => !rematerialized.has(v) && !frames.has(v)).map((v) => ({
    vreg: v,
    start: start.get(v)!,
    end: end.get(v)!,
    crossesCall: calls.some((c) => live.has(live.liveOut[c]!, v) && def(fn.ops[c]!) !== v),
  }));
  intervals.sort((a, b) => a.start - b.start || a.vreg - b.vreg);
  // r0 is free between a call and its result's last use if no call, large store or argument move happens in between;
  // likewise for a value that is returned (its last use is `ret`), which then needs no final move into r0.
  const r0Ok = (iv: Interval): boolean => {
    const last = fn.ops[iv.end]!;
    const returned = last.op === 'ret' && last.value.kind === 'reg' && last.value.reg === iv.vreg;
    const first = fn.ops[iv.start]!;
    // A parameter arrives with the others: r0 breaks cycles among them (see emit's moveParameters).
    if (first.op === 'mov' && first.src.kind === 'reg' && first.src.reg < 0) return false;
    if (!useR0 || (first.op !== 'call' && !returned)) return false;
    return r0Untouched(iv);
  };
  const defs = fn.ops.map(def);
  /** Whether v is read at op i or live after it (its register holds it there). */
  const heldIn = (v: VReg, i: number) => live.has(live.liveIn[i]!, v);
  const heldOut = (v: VReg, i: number) => live.has(live.liveOut[i]!, v) || defs[i] === v;
  /**
   * No call or large store (which use r0) while the value is held: one in a
   * hole of the interval (a register set again on each path, as the two
   * lookups of `increment`) is fine, and so is the call that sets it.
   */
  const r0Untouched = (iv: Interval): boolean => {
    for (let i = iv.start + 1; i <= iv.end; i++) {
      const op = fn.ops[i]!;
      if (op.op !== 'call' && !(op.op === 'store' && op.value.kind === 'imm' && (op.value.value > 0x7fffffffn || op.value.value < -0x80000000n))) continue;
      if (heldIn(iv.vreg, i) || (heldOut(iv.vreg, i) && defs[i] !== iv.vreg)) return false;
    }
    return true;
  };
  /** Whether a value in r0 leaves it to `iv` for iv's whole life: never held at the same op, but for a call that reads one and sets the other. */
  const leavesR0 = (a: Interval, iv: Interval): boolean => {
    for (let i = Math.max(a.start, iv.start); i <= Math.min(a.end, iv.end); i++) {
      const ai = heldIn(a.vreg, i), ao = heldOut(a.vreg, i), bi = heldIn(iv.vreg, i), bo = heldOut(iv.vreg, i);
      if (!(ai || ao) || !(bi || bo)) continue;
      if (fn.ops[i]!.op === 'call' && ((ai && !ao && bo && !bi) || (bi && !bo && ao && !ai))) continue;
      return false;
    }
    return true;
  };

  const byVreg = new Map(intervals.map((iv) => [iv.vreg, iv]));
  /**
   * The argument register a value ends in: its last use is as a helper
   * argument, or as the operand of the op that makes a value ending so
   * (which then takes this register over): `r3 = *(r10 - 8); r3 += off`
   * builds probe_read's source in r3, not in r1 and then moved.
   */
  const argumentRegister = (v: VReg, depth = 0): number | undefined => {
    const iv = byVreg.get(v);
    if (!iv || depth > 4) return undefined;
    const endOp = fn.ops[iv.end]!;
    if (endOp.op === 'call') {
      const k = endOp.args.findIndex((a) => a.kind === 'reg' && a.reg === v);
      return k >= 0 && k < 4 && !endOp.atomic ? k + 1 : undefined;
    }
    const d = defs[iv.end];
    const first = endOp.op === 'mov' || endOp.op === 'bswap' ? endOp.src : endOp.op === 'alu' ? endOp.a : undefined;
    const other = endOp.op === 'alu' && endOp.b.kind === 'reg' ? endOp.b.reg : undefined;
    if (d === undefined || d === v || first?.kind !== 'reg' || first.reg !== v || other === v) return undefined;
    const next = byVreg.get(d);
    return next && !next.crossesCall && next.start === iv.end ? argumentRegister(d, depth + 1) : undefined;
  };
  /** The register an op works on in place when its result shares it: a move's, load's or the left operand's. */
  const inPlaceOperand = (op: (typeof fn.ops)[number]): VReg | undefined => {
    if (op.op === 'mov' || op.op === 'bswap') return op.src.kind === 'reg' ? op.src.reg : undefined;
    if (op.op === 'load') return op.base;
    if (op.op === 'alu' && op.a.kind === 'reg' && !(op.b.kind === 'reg' && op.b.reg === op.a.reg)) return op.a.reg;
    return undefined;
  };
  /**
   * Whether two values can share a register: at no op are both held, but
   * where one is read for the last time by the op that sets the other (a
   * call, or an op working on it in place). A value set again on each path
   * leaves holes in its interval that another value can fill.
   */
  const apart = (a: Interval, b: Interval): boolean => {
    for (let i = Math.max(a.start, b.start); i <= Math.min(a.end, b.end); i++) {
      const ai = heldIn(a.vreg, i), ao = heldOut(a.vreg, i), bi = heldIn(b.vreg, i), bo = heldOut(b.vreg, i);
      if (!(ai || ao) || !(bi || bo)) continue;
      const op = fn.ops[i]!;
      const aToB = ai && !ao && bo && !bi && defs[i] === b.vreg;
      const bToA = bi && !bo && ao && !ai && defs[i] === a.vreg;
      if ((aToB || bToA) && op.op === 'call') continue;
      if ((aToB && inPlaceOperand(op) === a.vreg) || (bToA && inPlaceOperand(op) === b.vreg)) continue;
      return false;
    }
    return true;
  };
  const wants = new Map(intervals.map((iv) => [iv.vreg, argumentRegister(iv.vreg)]));
  const locations = new Map<VReg, Location>();
  const active: Array<Interval & { reg: number }> = [];
  const free = new Set([...CALLER_SAVED, ...CALLEE_SAVED]);
  /** Whether iv can take register r beside the values holding it now. */
  const canShare = (r: number, iv: Interval) => active.every((a) => a.reg !== r || apart(a, iv));
  const release = (r: number) => {
    if (r !== 0 && !active.some((a) => a.reg === r)) free.add(r);
  };
  let spills = 0;
  const spill = (v: VReg) => {
    fn.slots.push({ size: 8, align: 8 });
    locations.set(v, { kind: 'spill', slot: fn.slots.length - 1 });
    spills++;
  };
  for (const iv of intervals) {
    // Expire intervals that ended strictly before this one starts.
    for (let i = active.length - 1; i >= 0; i--) {
      if (active[i]!.end < iv.start) {
        const [gone] = active.splice(i, 1);
        release(gone!.reg);
      }
    }
    const pool = iv.crossesCall ? CALLEE_SAVED : r0Ok(iv) ? [0, ...CALLER_SAVED, ...CALLEE_SAVED] : [...CALLER_SAVED, ...CALLEE_SAVED];
    // A helper result takes r0 at once; a returned value only if it cannot reuse its operand's register (the peephole then renames that chain into r0).
    const r0Free = pool[0] === 0 && !active.some((a) => a.reg === 0 && !leavesR0(a, iv));
    const takeR0 = () => {
      active.push({ ...iv, reg: 0 });
      locations.set(iv.vreg, { kind: 'reg', reg: 0 });
    };
    if (r0Free && fn.ops[iv.start]!.op === 'call') {
      takeR0();
      continue;
    }
    // Coalescing hint: `d = s op …` where s dies here can reuse s's register (saves the move).
    const defOp = fn.ops[iv.start]!;
    const first = defOp.op === 'mov' || defOp.op === 'bswap' ? defOp.src : defOp.op === 'alu' ? defOp.a : defOp.op === 'load' ? { kind: 'reg' as const, reg: defOp.base } : undefined;
    if (def(defOp) === iv.vreg && first?.kind === 'reg' && first.reg >= 0) {
      // A helper's result in r0 can be worked on in place (`r0 >>= 32`) while nothing else needs r0.
      const donor = active.find((a) => a.vreg === first.reg && a.end === iv.start && (pool.includes(a.reg) || (a.reg === 0 && useR0 && !iv.crossesCall && r0Untouched(iv))));
      const otherOperand = defOp.op === 'alu' && defOp.b.kind === 'reg' ? defOp.b.reg : undefined;
      if (donor && otherOperand !== first.reg && active.every((a) => a === donor || a.reg !== donor.reg || apart(a, iv))) {
        active.splice(active.indexOf(donor), 1);
        active.push({ ...iv, reg: donor.reg });
        locations.set(iv.vreg, { kind: 'reg', reg: donor.reg });
        continue;
      }
      // s is set again later (its interval goes on), but not held past here on any path: d takes its register in between.
      const later = donor ? undefined : active.find((a) => a.vreg === first.reg && a.reg !== 0 && pool.includes(a.reg) && !heldOut(a.vreg, iv.start) && canShare(a.reg, iv));
      if (later && otherOperand !== first.reg) {
        active.push({ ...iv, reg: later.reg });
        locations.set(iv.vreg, { kind: 'reg', reg: later.reg });
        continue;
      }
    }
    if (r0Free) {
      takeR0();
      continue;
    }
    const preferred = iv.crossesCall ? undefined : argumentRegister(iv.vreg);
    // Otherwise not the argument register a value starting while this one lives wants (the index of a tail call set
    // on two paths, made in r3 while the tested protocol sits elsewhere).
    const wanted = new Set<number | undefined>();
    for (const o of intervals) if (o.start > iv.start && o.start <= iv.end && !o.crossesCall) wanted.add(wants.get(o.vreg));
    const r = preferred !== undefined && free.has(preferred) ? preferred : pool.find((p) => free.has(p) && !wanted.has(p)) ?? pool.find((p) => free.has(p));
    if (r !== undefined) {
      free.delete(r);
      active.push({ ...iv, reg: r });
      locations.set(iv.vreg, { kind: 'reg', reg: r });
      continue;
    }
    // No register is free: one whose values are all apart from this one (in its holes) is as good.
    const shared = pool.find((p) => p !== 0 && active.some((a) => a.reg === p) && canShare(p, iv));
    if (shared !== undefined) {
      active.push({ ...iv, reg: shared });
      locations.set(iv.vreg, { kind: 'reg', reg: shared });
      continue;
    }
    // Spill the interval of this pool (or this one) that is accessed least often for its length; of equals, the one that ends last.
    const density = (x: Interval) => (accesses.get(x.vreg) ?? 0) / (x.end - x.start + 1);
    const cheaper = (a: Interval, b: Interval) => density(a) < density(b) || (density(a) === density(b) && a.end > b.end);
    let victim: (Interval & { reg: number }) | undefined;
    for (const a of active) if (pool.includes(a.reg) && active.every((b) => b === a || b.reg !== a.reg) && (!victim || cheaper(a, victim))) victim = a;
    if (victim && cheaper(victim, iv)) {
      active.splice(active.indexOf(victim), 1);
      spill(victim.vreg);
      active.push({ ...iv, reg: victim.reg });
      locations.set(iv.vreg, { kind: 'reg', reg: victim.reg });
    } else {
      spill(iv.vreg);
    }
  }
  return { locations, rematerialized, frames, spills };
}
