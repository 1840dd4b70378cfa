/**
 * The compiler's intermediate representation: a linear list of operations
 * over an unbounded set of virtual registers, with labels and conditional
 * branches. Every operation carries the TypeScript span it came from.
 */
import type { SourceSpan } from '../../asm/instruction.js';

export type VReg = number;

export type Operand = { kind: 'reg'; reg: VReg } | { kind: 'imm'; value: bigint };

export const reg = (r: VReg): Operand => ({ kind: 'reg', reg: r });
export const imm = (v: bigint | number): Operand => ({ kind: 'imm', value: BigInt(v) });

export type AluName = 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'mod' | 'smod' | 'or' | 'and' | 'xor' | 'lsh' | 'rsh' | 'arsh' | 'neg';
export type CmpName = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'sgt' | 'sge' | 'slt' | 'sle' | 'set';

export type Op =
  | { op: 'mov'; dst: VReg; src: Operand; bits: 32 | 64 }
  | { op: 'alu'; alu: AluName; bits: 32 | 64; dst: VReg; a: Operand; b: Operand }
  /** Byte swap to big-endian of the low `bits` (a no-op pair on big-endian hosts is not our concern: BPF runs little-endian here). */
  | { op: 'bswap'; dst: VReg; src: Operand; bits: 16 | 32 | 64 }
  | { op: 'load'; dst: VReg; base: VReg; off: number; size: 1 | 2 | 4 | 8 }
  | { op: 'store'; base: VReg; off: number; size: 1 | 2 | 4 | 8; value: Operand }
  | { op: 'atomicAdd'; base: VReg; off: number; size: 4 | 8; value: VReg }
  /** dst = frame pointer + offset of stack slot `slot` + off. */
  | { op: 'frame'; dst: VReg; slot: number; off: number }
  /** dst = the map (pseudo map fd) or a pointer into a global data map's value. */
  | { op: 'map'; dst: VReg; map: string; valueOffset?: number }
  /**
   * A helper call; with `atomic`, an atomic instruction placed like one
   * (arguments in r1 = address, r2 = value, r3 = expected; the old value in
   * r0), so the allocator keeps values across it in callee-saved registers.
   * With `subprogram`, a bpf-to-bpf call of that subprogram (arguments in
   * r1-r5, result in r0, r1-r5 clobbered as by a helper).
   */
  | { op: 'call'; helper: number; args: Operand[]; dst?: VReg; atomic?: AtomicCall; subprogram?: string }
  /** dst = *(size *)(base + a CO-RE relocated field offset): a direct load through a BTF pointer, as clang emits for tp_btf/fentry arguments. */
  | { op: 'coreLoad'; dst: VReg; base: VReg; size: 1 | 2 | 4 | 8; relo: number }
  /** dst = the address of a subprogram (lddw BPF_PSEUDO_FUNC): a callback for bpf_loop. */
  | { op: 'func'; dst: VReg; subprogram: string }
  /** dst = a CO-RE relocated constant (relocation `relo` of the module): a field offset, size, existence…; opaque to every pass. */
  | { op: 'core'; dst: VReg; relo: number }
  | { op: 'jmp'; target: string }
  /** Jumps to target when `a cmp b`; falls through otherwise. */
  | { op: 'br'; cmp: CmpName; bits: 32 | 64; a: VReg; b: Operand; target: string }
  | { op: 'label'; label: string }
  | { op: 'ret'; value: Operand };

export type SpannedOp = Op & { span?: SourceSpan };

/** An atomic read-modify-write on [r1 + off]: `fetch` forms give the old value. */
export interface AtomicCall {
  aop: 'add' | 'or' | 'and' | 'xor' | 'xchg' | 'cmpxchg';
  fetch: boolean;
  size: 4 | 8;
  off: number;
}

/** A stack allocation made by the lowering (locals, keys, buffers) or by the register allocator (spills). */
export interface StackSlot {
  size: number;
  align: number;
  /** Filled by the stack layout pass: negative offset from r10. */
  offset?: number;
}

/** A stack address: slot `slot` plus `off` (what a `frame` op computes). */
export interface FrameAddress {
  slot: number;
  off: number;
}

export interface IrFunction {
  name: string;
  ops: SpannedOp[];
  slots: StackSlot[];
  vregCount: number;
  /**
   * Registers that only ever hold pointers into the packet (ctx->data, and
   * headers at an offset from it): the verifier takes unaligned accesses
   * through them where the CPU has efficient unaligned access, as it does
   * for every target this compiler loads on (x86-64, arm64).
   */
  packetPointers?: Set<VReg>;
}

/** How many ops at the start copy the entry's argument registers (r1-r5, as negative registers) into virtual ones. */
export function entryMoves(ops: readonly SpannedOp[]): number {
  let n = 0;
  while (n < ops.length) {
    const op = ops[n]!;
    if (op.op !== 'mov' || op.src.kind !== 'reg' || op.src.reg >= 0) break;
    n++;
  }
  return n;
}

/** Virtual registers an operation reads. */
export function uses(op: Op): VReg[] {
  const out: VReg[] = [];
  const o = (x: Operand) => {
    if (x.kind === 'reg' && x.reg >= 0) out.push(x.reg);
  };
  switch (op.op) {
    case 'mov': o(op.src); break;
    case 'alu': o(op.a); o(op.b); break;
    case 'bswap': o(op.src); break;
    case 'load': case 'coreLoad': out.push(op.base); break;
    case 'store': out.push(op.base); o(op.value); break;
    case 'atomicAdd': out.push(op.base, op.value); break;
    case 'call': op.args.forEach(o); break;
    case 'br': out.push(op.a); o(op.b); break;
    case 'ret': o(op.value); break;
    default: break;
  }
  return out;
}

/** The virtual register an operation writes, if any. */
export function def(op: Op): VReg | undefined {
  switch (op.op) {
    case 'mov': case 'alu': case 'bswap': case 'load': case 'frame': case 'map': case 'func': case 'core': case 'coreLoad': return op.dst;
    case 'call': return op.dst;
    default: return undefined;
  }
}

/** Whether removing the operation (when its result is unused) changes behaviour. */
export const hasSideEffects = (op: Op): boolean =>
  op.op === 'store' || op.op === 'atomicAdd' || op.op === 'call' || op.op === 'jmp' || op.op === 'br' || op.op === 'label' || op.op === 'ret';

export function formatOperand(x: Operand): string {
  return x.kind === 'reg' ? `v${x.reg}` : `${x.value}`;
}

/** Text form of the IR, for `tsbpf build --emit ir`. */
export function formatIr(fn: IrFunction): string {
  const lines = [`function ${fn.name}:`];
  for (const op of fn.ops) {
    const f = formatOperand;
    let s: string;
    switch (op.op) {
      case 'mov': s = `v${op.dst} = ${f(op.src)}${op.bits === 32 ? ' (32)' : ''}`; break;
      case 'alu': s = `v${op.dst} = ${op.alu}${op.bits} ${f(op.a)}, ${f(op.b)}`; break;
      case 'bswap': s = `v${op.dst} = be${op.bits} ${f(op.src)}`; break;
      case 'load': s = `v${op.dst} = load${op.size * 8} [v${op.base}${op.off >= 0 ? '+' : ''}${op.off}]`; break;
      case 'store': s = `store${op.size * 8} [v${op.base}${op.off >= 0 ? '+' : ''}${op.off}] = ${f(op.value)}`; break;
      case 'atomicAdd': s = `atomic_add${op.size * 8} [v${op.base}+${op.off}] += v${op.value}`; break;
      case 'frame': s = `v${op.dst} = &slot${op.slot}+${op.off}`; break;
      case 'map': s = `v${op.dst} = map ${op.map}${op.valueOffset !== undefined ? ` value+${op.valueOffset}` : ''}`; break;
      case 'core': s = `v${op.dst} = core relocation #${op.relo}`; break;
      case 'func': s = `v${op.dst} = &${op.subprogram}`; break;
      case 'coreLoad': s = `v${op.dst} = load${op.size * 8} [v${op.base} + core relocation #${op.relo}]`; break;
      case 'call': s = `${op.dst !== undefined ? `v${op.dst} = ` : ''}${op.atomic ? `atomic_${op.atomic.fetch ? 'fetch_' : ''}${op.atomic.aop}${op.atomic.size * 8}+${op.atomic.off}` : op.subprogram !== undefined ? `call ${op.subprogram}` : `call ${op.helper}`}(${op.args.map(f).join(', ')})`; break;
      case 'jmp': s = `jmp ${op.target}`; break;
      case 'br': s = `if ${op.cmp}${op.bits} v${op.a}, ${f(op.b)} goto ${op.target}`; break;
      case 'label': lines.push(`${op.label}:`); continue;
      case 'ret': s = `ret ${f(op.value)}`; break;
    }
    lines.push(`  ${s}${op.span ? `    ; ${op.span.line}:${op.span.column}` : ''}`);
  }
  return lines.join('\n');
}
