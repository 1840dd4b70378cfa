/**
 * IR → eBPF instructions, after register allocation and stack layout.
 * r0 and r5 are scratch registers (spill reloads, large constants, cycles
 * in argument moves); jump offsets are resolved at the end.
 */
import { type Instruction, instruction, slotOffsets, type SourceSpan, wideLoad } from '../../asm/instruction.js';
import { AluOp, AtomicOp, Class, JmpOp, Mode, PseudoCall, PseudoLoad, Size, Source } from '../../asm/opcodes.js';
import { type AluName, type AtomicCall, type CmpName, entryMoves, type FrameAddress, type IrFunction, type Operand, type SpannedOp, type VReg } from './ir.js';
import { fitsImm32 } from './passes.js';
import { peephole } from './peephole.js';
import type { Allocation, MapReference } from './regalloc.js';

const R0 = 0;
const R5 = 5;
const FP = 10;

const ALU: Record<AluName, number> = {
  add: AluOp.ADD, sub: AluOp.SUB, mul: AluOp.MUL, div: AluOp.DIV, sdiv: AluOp.DIV, mod: AluOp.MOD, smod: AluOp.MOD,
  or: AluOp.OR, and: AluOp.AND, xor: AluOp.XOR, lsh: AluOp.LSH, rsh: AluOp.RSH, arsh: AluOp.ARSH, neg: AluOp.NEG,
};
const JMP: Record<CmpName, number> = {
  eq: JmpOp.JEQ, ne: JmpOp.JNE, gt: JmpOp.JGT, ge: JmpOp.JGE, lt: JmpOp.JLT, le: JmpOp.JLE,
  sgt: JmpOp.JSGT, sge: JmpOp.JSGE, slt: JmpOp.JSLT, sle: JmpOp.JSLE, set: JmpOp.JSET,
};
const SIZE: Record<1 | 2 | 4 | 8, number> = { 1: Size.B, 2: Size.H, 4: Size.W, 8: Size.DW };
const COMMUTATIVE = new Set<AluName>(['add', 'mul', 'or', 'and', 'xor']);

/** Assigns stack offsets (below r10) to every slot; returns the frame size. */
export function layoutStack(fn: IrFunction): number {
  let used = 0;
  for (const s of fn.slots) {
    used = Math.ceil((used + s.size) / s.align) * s.align;
    s.offset = -used;
  }
  return used;
}

export function emitFunction(fn: IrFunction, alloc: Allocation): Instruction[] {
  const out: Instruction[] = [];
  let span: SourceSpan | undefined;
  const push = (ins: Instruction) => {
    if (span) ins.source = span;
    out.push(ins);
  };
  const labelAt = new Map<string, number>();
  const loc = (v: VReg) => {
    const l = alloc.locations.get(v);
    if (!l) throw new Error(`internal: v${v} has no location`);
    return l;
  };
  const slotOff = (slot: number) => fn.slots[slot]!.offset!;
  const movImm = (dst: number, value: bigint, bits: 32 | 64) => {
    if (bits === 32) push(instruction(Class.ALU | AluOp.MOV | Source.K, dst, 0, 0, Number(BigInt.asIntN(32, value))));
    else if (fitsImm32(value, 64)) push(instruction(Class.ALU64 | AluOp.MOV | Source.K, dst, 0, 0, Number(BigInt.asIntN(32, value))));
    else push(wideLoad(dst, value));
  };
  const movReg = (dst: number, src: number, bits: 32 | 64 = 64) => {
    if (dst !== src || bits === 32) push(instruction((bits === 32 ? Class.ALU : Class.ALU64) | AluOp.MOV | Source.X, dst, src));
  };
  /** The base register and offset of a memory access: r10 directly for a rematerialized stack address. */
  const address = (base: VReg, off: number, scratch: number): [number, number] => {
    const f = alloc.frames.get(base);
    if (f) return [FP, slotOff(f.slot) + f.off + off];
    return [use(base, scratch), off];
  };
  /** A physical register holding a virtual one (reloading spills into `scratch`). */
  const use = (v: VReg, scratch: number): number => {
    if (v < 0) return -v;
    const l = loc(v);
    if (l.kind === 'reg') return l.reg;
    push(instruction(Class.LDX | Mode.MEM | Size.DW, scratch, FP, slotOff(l.slot)));
    return scratch;
  };
  /** The register to compute a definition into, and how to finish it. */
  const defReg = (v: VReg): [number, () => void] => {
    const l = loc(v);
    if (l.kind === 'reg') return [l.reg, () => {}];
    return [R0, () => push(instruction(Class.STX | Mode.MEM | Size.DW, FP, R0, slotOff(l.slot)))];
  };
  const operandInto = (x: Operand, dst: number, bits: 32 | 64) => {
    if (x.kind === 'imm') movImm(dst, x.value, bits);
    else {
      const l = x.reg < 0 ? { kind: 'reg' as const, reg: -x.reg } : loc(x.reg);
      if (l.kind === 'reg') movReg(dst, l.reg, bits);
      else {
        push(instruction(Class.LDX | Mode.MEM | Size.DW, dst, FP, slotOff(l.slot)));
        if (bits === 32) movReg(dst, dst, 32);
      }
    }
  };

  const entry = entryMoves(fn.ops);
  if (entry > 0) {
    span = fn.ops[0]!.span;
    moveParameters(fn.ops.slice(0, entry) as Array<Extract<SpannedOp, { op: 'mov' }>>, { loc, slotOff, push, movImm, movReg, rematerialized: alloc.rematerialized, frames: alloc.frames });
  }
  for (const op of fn.ops.slice(entry) as SpannedOp[]) {
    span = op.span;
    switch (op.op) {
      case 'label':
        labelAt.set(op.label, out.length);
        break;
      case 'mov': {
        const [d, done] = defReg(op.dst);
        operandInto(op.src, d, op.bits);
        done();
        break;
      }
      case 'alu': {
        const [d, done] = defReg(op.dst);
        const cls = op.bits === 64 ? Class.ALU64 : Class.ALU;
        let a = op.a;
        let b = op.b;
        const physOf = (x: Operand) => (x.kind === 'reg' ? (() => { const l = loc(x.reg); return l.kind === 'reg' ? l.reg : -1; })() : -1);
        if (b.kind === 'reg' && physOf(b) === d && physOf(a) !== d) {
          if (COMMUTATIVE.has(op.alu)) [a, b] = [b, a];
          else {
            movReg(R5, d);
            b = { kind: 'reg', reg: -2 };
          }
        }
        operandInto(a, d, 64);
        const signedOff = op.alu === 'sdiv' || op.alu === 'smod' ? 1 : 0;
        if (op.alu === 'neg') push(instruction(cls | AluOp.NEG, d));
        else if (b.kind === 'imm' && fitsImm32(b.value, op.bits)) push(instruction(cls | ALU[op.alu] | Source.K, d, 0, signedOff, Number(BigInt.asIntN(32, b.value))));
        else {
          let br: number;
          if (b.kind === 'imm') {
            movImm(R5, b.value, 64);
            br = R5;
          } else br = b.reg === -2 ? R5 : use(b.reg, R5);
          push(instruction(cls | ALU[op.alu] | Source.X, d, br, signedOff));
        }
        done();
        break;
      }
      case 'bswap': {
        const [d, done] = defReg(op.dst);
        operandInto(op.src, d, 64);
        push(instruction(Class.ALU | AluOp.END | Source.X, d, 0, 0, op.bits));
        done();
        break;
      }
      case 'load': {
        const [base, off] = address(op.base, op.off, R5);
        const [d, done] = defReg(op.dst);
        push(instruction(Class.LDX | Mode.MEM | SIZE[op.size], d, base, off));
        done();
        break;
      }
      case 'store': {
        const [base, off] = address(op.base, op.off, R5);
        if (op.value.kind === 'imm' && fitsImm32(op.value.value, op.size === 8 ? 64 : 32)) {
          push(instruction(Class.ST | Mode.MEM | SIZE[op.size], base, 0, off, Number(BigInt.asIntN(32, op.value.value))));
        } else {
          let v: number;
          if (op.value.kind === 'imm') {
            movImm(R0, op.value.value, 64);
            v = R0;
          } else v = use(op.value.reg, R0);
          push(instruction(Class.STX | Mode.MEM | SIZE[op.size], base, v, off));
        }
        break;
      }
      case 'atomicAdd': {
        const [base, off] = address(op.base, op.off, R5);
        const v = use(op.value, R0);
        push(instruction(Class.STX | Mode.ATOMIC | SIZE[op.size], base, v, off, AtomicOp.ADD));
        break;
      }
      case 'frame': {
        if (alloc.frames.has(op.dst)) break;
        const [d, done] = defReg(op.dst);
        movReg(d, FP);
        push(instruction(Class.ALU64 | AluOp.ADD | Source.K, d, 0, 0, slotOff(op.slot) + op.off));
        done();
        break;
      }
      case 'map': {
        if (alloc.rematerialized.has(op.dst)) break;
        const [d, done] = defReg(op.dst);
        push(mapLoad(d, op));
        done();
        break;
      }
      case 'func': {
        // The callee's offset (imm, relative as a call's) is filled in when the program is linked.
        const [d, done] = defReg(op.dst);
        const ins = wideLoad(d, 0, PseudoLoad.FUNC);
        ins.callee = op.subprogram;
        push(ins);
        done();
        break;
      }
      case 'coreLoad': {
        const base = use(op.base, R5);
        const [d, done] = defReg(op.dst);
        const ins = instruction(Class.LDX | Mode.MEM | SIZE[op.size], d, base, 0);
        ins.coreRelocation = op.relo;
        push(ins);
        done();
        break;
      }
      case 'core': {
        // The local value is filled in once every program is lowered (the local BTF layouts are fixed then).
        const [d, done] = defReg(op.dst);
        const ins = instruction(Class.ALU64 | AluOp.MOV | Source.K, d, 0, 0, 0);
        ins.coreRelocation = op.relo;
        push(ins);
        done();
        break;
      }
      case 'call': {
        moveArguments(op.args, { loc, slotOff, push, movImm, movReg, rematerialized: alloc.rematerialized, frames: alloc.frames });
        if (op.atomic) atomicInstructions(op.atomic).forEach(push);
        else if (op.subprogram !== undefined) {
          // A bpf-to-bpf call: imm is the callee's offset, filled in when the program is linked.
          const ins = instruction(Class.JMP | JmpOp.CALL, 0, PseudoCall.CALL, 0, -1);
          ins.callee = op.subprogram;
          push(ins);
        } else push(instruction(Class.JMP | JmpOp.CALL, 0, 0, 0, op.helper));
        if (op.dst !== undefined) {
          const l = loc(op.dst);
          if (l.kind === 'reg') movReg(l.reg, R0);
          else push(instruction(Class.STX | Mode.MEM | Size.DW, FP, R0, slotOff(l.slot)));
        }
        break;
      }
      case 'jmp': {
        const ins = instruction(Class.JMP | JmpOp.JA);
        ins.reference = op.target;
        push(ins);
        break;
      }
      case 'br': {
        const a = use(op.a, R0);
        const cls = op.bits === 64 ? Class.JMP : Class.JMP32;
        let ins: Instruction;
        if (op.b.kind === 'imm' && fitsImm32(op.b.value, op.bits)) ins = instruction(cls | JMP[op.cmp] | Source.K, a, 0, 0, Number(BigInt.asIntN(32, op.b.value)));
        else {
          let b: number;
          if (op.b.kind === 'imm') {
            movImm(R5, op.b.value, 64);
            b = R5;
          } else b = use(op.b.reg, R5);
          ins = instruction(cls | JMP[op.cmp] | Source.X, a, b);
        }
        ins.reference = op.target;
        push(ins);
        break;
      }
      case 'ret':
        operandInto(op.value, R0, 64);
        push(instruction(Class.JMP | JmpOp.EXIT));
        break;
    }
  }
  const { out: code, labelAt: labels } = peephole(out, labelAt);
  return resolveJumps(code, labels);
}

/** Resolves jumps to labels (label → instruction index): offsets count slots (lddw takes two). */
export function resolveJumps(out: Instruction[], labelAt: Map<string, number>): Instruction[] {
  const slotIndex = slotOffsets(out);
  out.forEach((ins, i) => {
    if (ins.reference === undefined || ins.imm64 !== undefined) return;
    const target = labelAt.get(ins.reference);
    if (target === undefined) throw new Error(`internal: unknown label ${ins.reference}`);
    ins.off = slotIndex[target]! - slotIndex[i + 1]!;
    if (ins.off < -32768 || ins.off > 32767) throw new Error('internal: jump out of range');
    delete ins.reference;
  });
  return out;
}

/** lddw of a map's fd or of a pointer into a global data map's value, resolved at load. */
function mapLoad(dst: number, ref: MapReference): Instruction {
  const ins = wideLoad(dst, ref.valueOffset ?? 0, ref.valueOffset !== undefined ? PseudoLoad.MAP_VALUE : PseudoLoad.MAP_FD);
  ins.reference = ref.map;
  return ins;
}

interface MoveTools {
  loc(v: VReg): { kind: 'reg'; reg: number } | { kind: 'spill'; slot: number };
  slotOff(slot: number): number;
  push(ins: Instruction): void;
  movImm(dst: number, value: bigint, bits: 32 | 64): void;
  movReg(dst: number, src: number, bits?: 32 | 64): void;
  rematerialized: Map<VReg, MapReference>;
  frames: Map<VReg, FrameAddress>;
}

/** Moves call arguments into r1…r5 as one parallel move (r0 breaks cycles). */
function moveArguments(args: Operand[], t: MoveTools): void {
  type Move = { dst: number; src: Operand; from?: number };
  const pending: Move[] = args.map((src, i) => {
    const dst = i + 1;
    if (src.kind === 'reg') {
      if (src.reg < 0) return { dst, src, from: -src.reg };
      if (t.rematerialized.has(src.reg) || t.frames.has(src.reg)) return { dst, src };
      const l = t.loc(src.reg);
      if (l.kind === 'reg') return { dst, src, from: l.reg };
    }
    return { dst, src };
  });
  const emit = (m: Move) => {
    if (m.from !== undefined) t.movReg(m.dst, m.from);
    else if (m.src.kind === 'imm') t.movImm(m.dst, m.src.value, 64);
    else if (t.rematerialized.has(m.src.reg)) t.push(mapLoad(m.dst, t.rematerialized.get(m.src.reg)!));
    else if (t.frames.has(m.src.reg)) {
      const f = t.frames.get(m.src.reg)!;
      t.movReg(m.dst, FP);
      t.push(instruction(Class.ALU64 | AluOp.ADD | Source.K, m.dst, 0, 0, t.slotOff(f.slot) + f.off));
    }
    else {
      const l = t.loc(m.src.reg);
      if (l.kind === 'spill') t.push(instruction(Class.LDX | Mode.MEM | Size.DW, m.dst, FP, t.slotOff(l.slot)));
    }
  };
  parallelMove(pending.filter((m) => m.from !== m.dst), emit, t);
}

/**
 * Emits moves into distinct registers as one parallel move: each move once
 * no other still reads its destination, a cycle of register moves broken by
 * parking one source in r0.
 */
function parallelMove<M extends { dst: number; from?: number }>(moves: M[], emit: (m: M) => void, t: MoveTools): void {
  let todo = moves;
  while (todo.length) {
    const ready = todo.find((m) => !todo.some((o) => o !== m && o.from === m.dst));
    if (ready) {
      emit(ready);
      todo = todo.filter((m) => m !== ready);
      continue;
    }
    const m = todo.find((x) => x.from !== undefined)!;
    t.movReg(R0, m.from!);
    for (const o of todo) if (o.from === m.from) o.from = R0;
  }
}

/**
 * The entry's copies of r1-r5 as one parallel move (the allocator may give
 * one parameter the register another still arrives in): spilled ones first,
 * then register moves in an order that reads each source before it is
 * overwritten, r0 breaking cycles (the allocator never gives a parameter r0).
 */
function moveParameters(moves: Array<Extract<SpannedOp, { op: 'mov' }>>, t: MoveTools): void {
  type Move = { dst: number; from: number };
  const regs: Move[] = [];
  for (const m of moves) {
    const from = -(m.src as { kind: 'reg'; reg: VReg }).reg;
    const l = t.loc(m.dst);
    if (l.kind === 'spill') t.push(instruction(Class.STX | Mode.MEM | Size.DW, FP, from, t.slotOff(l.slot)));
    else if (l.reg !== from) regs.push({ dst: l.reg, from });
  }
  parallelMove(regs, (m) => t.movReg(m.dst, m.from), t);
}

const ATOMIC_OPS = { add: AtomicOp.ADD, or: AtomicOp.OR, and: AtomicOp.AND, xor: AtomicOp.XOR, xchg: AtomicOp.XCHG, cmpxchg: AtomicOp.CMPXCHG } as const;

/** An atomic on [r1 + off] with r2 (r3 the expected value of cmpxchg), leaving the old value in r0. */
function atomicInstructions(a: AtomicCall): Instruction[] {
  const size = a.size === 8 ? Size.DW : Size.W;
  const out: Instruction[] = [];
  if (a.aop === 'cmpxchg') {
    out.push(instruction(Class.ALU64 | AluOp.MOV | Source.X, 0, 3));
    out.push(instruction(Class.STX | Mode.ATOMIC | size, 1, 2, a.off, AtomicOp.CMPXCHG));
    return out;
  }
  const fetch = a.fetch || a.aop === 'xchg';
  out.push(instruction(Class.STX | Mode.ATOMIC | size, 1, 2, a.off, ATOMIC_OPS[a.aop] | (fetch && a.aop !== 'xchg' ? AtomicOp.FETCH : 0)));
  if (fetch) out.push(instruction(Class.ALU64 | AluOp.MOV | Source.X, 0, 2));
  return out;
}
