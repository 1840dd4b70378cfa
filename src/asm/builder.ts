/**
 * A program builder with labels and symbolic references, in the spirit of
 * cilium/ebpf's asm package:
 *
 *   const b = new Builder();
 *   b.ldMapFd(R1, 'events').mov64Reg(R2, R10).add64(R2, -4)
 *    .call(Helper.map_lookup_elem).jeq(R0, 0, 'out')
 *    .ldxw(R0, R0, 0).label('out').exit();
 *   const insns = b.instructions();
 *
 * Immediates are plain numbers and register sources use the `...Reg`
 * variants (`add64(R1, 2)` vs `add64Reg(R1, R2)`), so a number is never
 * ambiguous. Jump targets are labels or relative slot offsets. Jumps and
 * local calls to labels defined in the builder are resolved by
 * `instructions()`; references to maps, and calls or function loads to
 * names not defined here, stay on the instruction (`reference`) for the
 * linker or loader.
 */
import { AsmError } from './errors.js';
import { type Instruction, instruction, slotCount, wideLoad } from './instruction.js';
import { encode } from './codec.js';
import { Helper, type HelperName } from './helpers.js';
import { ALU_MNEMONICS, type AluName, JUMP_MNEMONICS, type JumpName } from './mnemonics.js';
import { AluOp, AtomicOp, CALL, CALLX, Class, EXIT, JA, JA32, Mode, PseudoCall, PseudoLoad, Size, Source } from './opcodes.js';
import type { Register } from './registers.js';
import { ATOMIC_LOAD_ACQ, ATOMIC_STORE_REL, MAY_GOTO } from './validate.js';

/** A jump target: a label name, or an offset in slots relative to the next instruction. */
export type Target = string | number;

/** Memory access widths by their C type name. */
export type AccessSize = 'u8' | 'u16' | 'u32' | 'u64';
export type SignedAccessSize = 's8' | 's16' | 's32';
export type AtomicOperation = 'add' | 'or' | 'and' | 'xor';

const SIZE_CODE: Record<AccessSize | SignedAccessSize, number> = {
  u8: Size.B,
  u16: Size.H,
  u32: Size.W,
  u64: Size.DW,
  s8: Size.B,
  s16: Size.H,
  s32: Size.W,
};
const ATOMIC_CODE: Record<AtomicOperation, number> = { add: AtomicOp.ADD, or: AtomicOp.OR, and: AtomicOp.AND, xor: AtomicOp.XOR };

/** How a pending reference is resolved against the builder's labels. */
type LinkKind = 'jump16' | 'jump32' | 'call' | 'func';

interface Link {
  index: number;
  label: string;
  kind: LinkKind;
}

export class Builder {
  private readonly insns: Instruction[] = [];
  private readonly links: Link[] = [];
  private readonly labelSlots = new Map<string, number>();
  private pendingLabels: string[] = [];
  private slots = 0;

  /** Defines `name` at the next instruction emitted. */
  label(name: string): this {
    if (this.labelSlots.has(name)) throw new AsmError('E_DUPLICATE_LABEL', `label '${name}' is defined twice`);
    this.labelSlots.set(name, this.slots);
    this.pendingLabels.push(name);
    return this;
  }

  /** Appends a ready-made instruction (copied). */
  emit(ins: Instruction): this {
    const copy: Instruction = { ...ins };
    if (this.pendingLabels.length) {
      copy.symbol ??= this.pendingLabels[0];
      this.pendingLabels = [];
    }
    this.insns.push(copy);
    this.slots += slotCount(copy);
    return this;
  }

  private emitTo(ins: Instruction, target: Target, kind: LinkKind): this {
    if (typeof target === 'string') {
      this.links.push({ index: this.insns.length, label: target, kind });
      ins.reference = target;
    }
    return this.emit(ins);
  }

  // ---- ALU ----

  /** `dst op= imm` in the 64-bit (alu64) or 32-bit class. */
  alu(op: AluName, dst: Register, imm: number, is64 = true): this {
    const [code, off] = ALU_MNEMONICS[op];
    return this.emit(instruction((is64 ? Class.ALU64 : Class.ALU) | code | Source.K, dst, 0, off, imm));
  }
  /** `dst op= src` in the 64-bit or 32-bit class. */
  aluReg(op: AluName, dst: Register, src: Register, is64 = true): this {
    const [code, off] = ALU_MNEMONICS[op];
    return this.emit(instruction((is64 ? Class.ALU64 : Class.ALU) | code | Source.X, dst, src, off, 0));
  }

  add64(dst: Register, imm: number): this { return this.alu('add', dst, imm); }
  add64Reg(dst: Register, src: Register): this { return this.aluReg('add', dst, src); }
  add32(dst: Register, imm: number): this { return this.alu('add', dst, imm, false); }
  add32Reg(dst: Register, src: Register): this { return this.aluReg('add', dst, src, false); }
  sub64(dst: Register, imm: number): this { return this.alu('sub', dst, imm); }
  sub64Reg(dst: Register, src: Register): this { return this.aluReg('sub', dst, src); }
  sub32(dst: Register, imm: number): this { return this.alu('sub', dst, imm, false); }
  sub32Reg(dst: Register, src: Register): this { return this.aluReg('sub', dst, src, false); }
  mul64(dst: Register, imm: number): this { return this.alu('mul', dst, imm); }
  mul64Reg(dst: Register, src: Register): this { return this.aluReg('mul', dst, src); }
  div64(dst: Register, imm: number): this { return this.alu('div', dst, imm); }
  div64Reg(dst: Register, src: Register): this { return this.aluReg('div', dst, src); }
  mod64(dst: Register, imm: number): this { return this.alu('mod', dst, imm); }
  mod64Reg(dst: Register, src: Register): this { return this.aluReg('mod', dst, src); }
  and64(dst: Register, imm: number): this { return this.alu('and', dst, imm); }
  and64Reg(dst: Register, src: Register): this { return this.aluReg('and', dst, src); }
  or64(dst: Register, imm: number): this { return this.alu('or', dst, imm); }
  or64Reg(dst: Register, src: Register): this { return this.aluReg('or', dst, src); }
  xor64(dst: Register, imm: number): this { return this.alu('xor', dst, imm); }
  xor64Reg(dst: Register, src: Register): this { return this.aluReg('xor', dst, src); }
  lsh64(dst: Register, imm: number): this { return this.alu('lsh', dst, imm); }
  lsh64Reg(dst: Register, src: Register): this { return this.aluReg('lsh', dst, src); }
  rsh64(dst: Register, imm: number): this { return this.alu('rsh', dst, imm); }
  rsh64Reg(dst: Register, src: Register): this { return this.aluReg('rsh', dst, src); }
  arsh64(dst: Register, imm: number): this { return this.alu('arsh', dst, imm); }
  arsh64Reg(dst: Register, src: Register): this { return this.aluReg('arsh', dst, src); }

  mov64(dst: Register, imm: number): this {
    return this.emit(instruction(Class.ALU64 | AluOp.MOV | Source.K, dst, 0, 0, imm));
  }
  mov64Reg(dst: Register, src: Register): this {
    return this.emit(instruction(Class.ALU64 | AluOp.MOV | Source.X, dst, src));
  }
  mov32(dst: Register, imm: number): this {
    return this.emit(instruction(Class.ALU | AluOp.MOV | Source.K, dst, 0, 0, imm));
  }
  mov32Reg(dst: Register, src: Register): this {
    return this.emit(instruction(Class.ALU | AluOp.MOV | Source.X, dst, src));
  }
  /** Sign-extending move: `dst = (s8|s16|s32)src` (64-bit) or `(s8|s16)` (32-bit). */
  movsx(dst: Register, src: Register, bits: 8 | 16 | 32, is64 = true): this {
    if (!is64 && bits === 32) throw new AsmError('E_OPERAND', 'a 32-bit sign-extending move takes 8 or 16 bits');
    return this.emit(instruction((is64 ? Class.ALU64 : Class.ALU) | AluOp.MOV | Source.X, dst, src, bits));
  }
  neg64(dst: Register): this { return this.emit(instruction(Class.ALU64 | AluOp.NEG, dst)); }
  neg32(dst: Register): this { return this.emit(instruction(Class.ALU | AluOp.NEG, dst)); }
  /** Convert to little endian (`dst = le16 dst`). */
  le(dst: Register, bits: 16 | 32 | 64): this { return this.emit(instruction(Class.ALU | AluOp.END | Source.K, dst, 0, 0, bits)); }
  /** Convert to big endian (`dst = be16 dst`). */
  be(dst: Register, bits: 16 | 32 | 64): this { return this.emit(instruction(Class.ALU | AluOp.END | Source.X, dst, 0, 0, bits)); }
  /** Unconditional byte swap (v4). */
  bswap(dst: Register, bits: 16 | 32 | 64): this { return this.emit(instruction(Class.ALU64 | AluOp.END, dst, 0, 0, bits)); }

  // ---- memory ----

  /** `dst = *(size *)(src + off)`; signed sizes sign-extend (v4). */
  load(size: AccessSize | SignedAccessSize, dst: Register, src: Register, off = 0): this {
    const mode = size.startsWith('s') ? Mode.MEMSX : Mode.MEM;
    return this.emit(instruction(Class.LDX | mode | SIZE_CODE[size], dst, src, off));
  }
  ldxb(dst: Register, src: Register, off = 0): this { return this.load('u8', dst, src, off); }
  ldxh(dst: Register, src: Register, off = 0): this { return this.load('u16', dst, src, off); }
  ldxw(dst: Register, src: Register, off = 0): this { return this.load('u32', dst, src, off); }
  ldxdw(dst: Register, src: Register, off = 0): this { return this.load('u64', dst, src, off); }

  /** `*(size *)(dst + off) = src`. */
  store(size: AccessSize, dst: Register, off: number, src: Register): this {
    return this.emit(instruction(Class.STX | Mode.MEM | SIZE_CODE[size], dst, src, off));
  }
  /** `*(size *)(dst + off) = imm`. */
  storeImm(size: AccessSize, dst: Register, off: number, imm: number): this {
    return this.emit(instruction(Class.ST | Mode.MEM | SIZE_CODE[size], dst, 0, off, imm));
  }
  stxb(dst: Register, off: number, src: Register): this { return this.store('u8', dst, off, src); }
  stxh(dst: Register, off: number, src: Register): this { return this.store('u16', dst, off, src); }
  stxw(dst: Register, off: number, src: Register): this { return this.store('u32', dst, off, src); }
  stxdw(dst: Register, off: number, src: Register): this { return this.store('u64', dst, off, src); }

  /** `lock *(size *)(dst + off) op= src`, or with `fetch`, `src = atomic_fetch_op(...)`. */
  atomic(op: AtomicOperation, size: 'u32' | 'u64', dst: Register, off: number, src: Register, fetch = false): this {
    const imm = ATOMIC_CODE[op] | (fetch ? AtomicOp.FETCH : 0);
    return this.emit(instruction(Class.STX | Mode.ATOMIC | SIZE_CODE[size], dst, src, off, imm));
  }
  /** `src = xchg(dst + off, src)`. */
  xchg(size: 'u32' | 'u64', dst: Register, off: number, src: Register): this {
    return this.emit(instruction(Class.STX | Mode.ATOMIC | SIZE_CODE[size], dst, src, off, AtomicOp.XCHG));
  }
  /** `r0 = cmpxchg(dst + off, r0, src)`. */
  cmpxchg(size: 'u32' | 'u64', dst: Register, off: number, src: Register): this {
    return this.emit(instruction(Class.STX | Mode.ATOMIC | SIZE_CODE[size], dst, src, off, AtomicOp.CMPXCHG));
  }
  /** `dst = load_acquire((size *)(src + off))`. */
  loadAcquire(size: AccessSize, dst: Register, src: Register, off = 0): this {
    return this.emit(instruction(Class.STX | Mode.ATOMIC | SIZE_CODE[size], src, dst, off, ATOMIC_LOAD_ACQ));
  }
  /** `store_release((size *)(dst + off), src)`. */
  storeRelease(size: AccessSize, dst: Register, off: number, src: Register): this {
    return this.emit(instruction(Class.STX | Mode.ATOMIC | SIZE_CODE[size], dst, src, off, ATOMIC_STORE_REL));
  }

  /** Legacy packet load `r0 = *(size *)skb[imm]`. */
  ldAbs(size: 'u8' | 'u16' | 'u32', imm: number): this {
    return this.emit(instruction(Class.LD | Mode.ABS | SIZE_CODE[size], 0, 0, 0, imm));
  }
  /** Legacy packet load `r0 = *(size *)skb[src + imm]`. */
  ldInd(size: 'u8' | 'u16' | 'u32', src: Register, imm = 0): this {
    return this.emit(instruction(Class.LD | Mode.IND | SIZE_CODE[size], 0, src, 0, imm));
  }

  /** `dst = value ll` (two slots). */
  lddw(dst: Register, value: bigint | number): this {
    return this.emit(wideLoad(dst, value));
  }
  /** Loads the map named `name`; the loader puts in its fd. */
  ldMapFd(dst: Register, name: string): this {
    const ins = wideLoad(dst, 0, PseudoLoad.MAP_FD);
    ins.reference = name;
    return this.emit(ins);
  }
  /** Loads the address of `offset` bytes into the value of map `name` (global data). */
  ldMapValue(dst: Register, name: string, offset = 0): this {
    const ins = wideLoad(dst, BigInt(offset >>> 0) << 32n, PseudoLoad.MAP_VALUE);
    ins.reference = name;
    return this.emit(ins);
  }
  /** Loads the address of function `label` (for callbacks such as bpf_loop). */
  ldFunc(dst: Register, label: string): this {
    return this.emitTo(wideLoad(dst, 0, PseudoLoad.FUNC), label, 'func');
  }

  // ---- jumps and calls ----

  /** `goto target`. */
  ja(target: Target): this {
    return this.emitTo(instruction(JA, 0, 0, typeof target === 'number' ? target : 0), target, 'jump16');
  }
  /** `gotol target`: 32-bit offset (v4). */
  gotol(target: Target): this {
    return this.emitTo(instruction(JA32, 0, 0, 0, typeof target === 'number' ? target : 0), target, 'jump32');
  }
  /** `may_goto target`: a jump the verifier may take to bound loops. */
  mayGoto(target: Target): this {
    return this.emitTo(instruction(MAY_GOTO, 0, 0, typeof target === 'number' ? target : 0), target, 'jump16');
  }

  /** `if dst op imm goto target` (64-bit, or 32-bit with `is64` false). */
  jump(op: JumpName, dst: Register, imm: number, target: Target, is64 = true): this {
    const opcode = (is64 ? Class.JMP : Class.JMP32) | JUMP_MNEMONICS[op] | Source.K;
    return this.emitTo(instruction(opcode, dst, 0, typeof target === 'number' ? target : 0, imm), target, 'jump16');
  }
  /** `if dst op src goto target`. */
  jumpReg(op: JumpName, dst: Register, src: Register, target: Target, is64 = true): this {
    const opcode = (is64 ? Class.JMP : Class.JMP32) | JUMP_MNEMONICS[op] | Source.X;
    return this.emitTo(instruction(opcode, dst, src, typeof target === 'number' ? target : 0), target, 'jump16');
  }
  jeq(dst: Register, imm: number, target: Target): this { return this.jump('jeq', dst, imm, target); }
  jeqReg(dst: Register, src: Register, target: Target): this { return this.jumpReg('jeq', dst, src, target); }
  jne(dst: Register, imm: number, target: Target): this { return this.jump('jne', dst, imm, target); }
  jneReg(dst: Register, src: Register, target: Target): this { return this.jumpReg('jne', dst, src, target); }
  jgt(dst: Register, imm: number, target: Target): this { return this.jump('jgt', dst, imm, target); }
  jgtReg(dst: Register, src: Register, target: Target): this { return this.jumpReg('jgt', dst, src, target); }
  jge(dst: Register, imm: number, target: Target): this { return this.jump('jge', dst, imm, target); }
  jgeReg(dst: Register, src: Register, target: Target): this { return this.jumpReg('jge', dst, src, target); }
  jlt(dst: Register, imm: number, target: Target): this { return this.jump('jlt', dst, imm, target); }
  jltReg(dst: Register, src: Register, target: Target): this { return this.jumpReg('jlt', dst, src, target); }
  jle(dst: Register, imm: number, target: Target): this { return this.jump('jle', dst, imm, target); }
  jleReg(dst: Register, src: Register, target: Target): this { return this.jumpReg('jle', dst, src, target); }
  jsgt(dst: Register, imm: number, target: Target): this { return this.jump('jsgt', dst, imm, target); }
  jsgtReg(dst: Register, src: Register, target: Target): this { return this.jumpReg('jsgt', dst, src, target); }
  jsge(dst: Register, imm: number, target: Target): this { return this.jump('jsge', dst, imm, target); }
  jsgeReg(dst: Register, src: Register, target: Target): this { return this.jumpReg('jsge', dst, src, target); }
  jslt(dst: Register, imm: number, target: Target): this { return this.jump('jslt', dst, imm, target); }
  jsltReg(dst: Register, src: Register, target: Target): this { return this.jumpReg('jslt', dst, src, target); }
  jsle(dst: Register, imm: number, target: Target): this { return this.jump('jsle', dst, imm, target); }
  jsleReg(dst: Register, src: Register, target: Target): this { return this.jumpReg('jsle', dst, src, target); }
  jset(dst: Register, imm: number, target: Target): this { return this.jump('jset', dst, imm, target); }
  jsetReg(dst: Register, src: Register, target: Target): this { return this.jumpReg('jset', dst, src, target); }

  /** Calls a helper by id or name (`Helper.map_lookup_elem`, `'map_lookup_elem'`, `'bpf_map_lookup_elem'`). */
  call(helper: number | HelperName | `bpf_${HelperName}`): this {
    let id: number;
    if (typeof helper === 'number') id = helper;
    else {
      const bare = (helper.startsWith('bpf_') ? helper.slice(4) : helper) as HelperName;
      if (!Object.prototype.hasOwnProperty.call(Helper, bare)) throw new AsmError('E_UNKNOWN_HELPER', `unknown helper '${helper}'`);
      id = Helper[bare];
    }
    return this.emit(instruction(CALL, 0, PseudoCall.HELPER, 0, id));
  }
  /** bpf-to-bpf call to `target` (a label here, or a function the linker resolves). */
  callLocal(target: Target): this {
    return this.emitTo(instruction(CALL, 0, PseudoCall.CALL, 0, typeof target === 'number' ? target : -1), target, 'call');
  }
  /** Calls a kernel function by BTF id; `btfFdIndex` selects module BTF. */
  callKfunc(btfId: number, btfFdIndex = 0): this {
    return this.emit(instruction(CALL, 0, PseudoCall.KFUNC_CALL, btfFdIndex, btfId));
  }
  /** Calls a kfunc by name, left for the loader to resolve against kernel BTF. */
  callKfuncNamed(name: string): this {
    const ins = instruction(CALL, 0, PseudoCall.KFUNC_CALL);
    ins.reference = name;
    return this.emit(ins);
  }
  /** `callx reg`. */
  callx(reg: Register): this {
    return this.emit(instruction(CALLX, reg));
  }
  exit(): this {
    return this.emit(instruction(EXIT));
  }

  // ---- results ----

  /**
   * Resolves every jump to a label defined here, and local calls and function
   * loads whose label is defined here; returns this. A jump to an unknown
   * label, or one beyond its offset's range, is an AsmError.
   */
  resolveJumps(): this {
    const slotOf: number[] = [];
    let slot = 0;
    for (const ins of this.insns) {
      slotOf.push(slot);
      slot += slotCount(ins);
    }
    const remaining: Link[] = [];
    for (const link of this.links) {
      const ins = this.insns[link.index]!;
      const target = this.labelSlots.get(link.label);
      if (target === undefined) {
        if (link.kind === 'jump16' || link.kind === 'jump32') {
          throw new AsmError('E_UNKNOWN_LABEL', `unknown label '${link.label}' (instruction ${link.index})`);
        }
        remaining.push(link);
        continue;
      }
      const delta = target - slotOf[link.index]! - 1;
      if (link.kind === 'jump16') {
        if (delta < -0x8000 || delta > 0x7fff) throw new AsmError('E_JUMP_RANGE', `label '${link.label}' is ${delta} slots away, beyond a 16-bit jump`);
        ins.off = delta;
      } else if (link.kind === 'func') {
        ins.imm = delta;
        ins.imm64 = BigInt.asUintN(32, BigInt(delta));
      } else {
        ins.imm = delta;
      }
      delete ins.reference;
    }
    this.links.length = 0;
    this.links.push(...remaining);
    return this;
  }

  /** The program so far with local labels resolved (copies; the builder stays usable). */
  instructions(): Instruction[] {
    this.resolveJumps();
    return this.insns.map((ins) => ({ ...ins }));
  }

  /** The encoded program. References still pending encode as their placeholder values. */
  bytes(): Uint8Array {
    return encode(this.instructions());
  }

  /** Slots emitted so far (an lddw counts two). */
  get length(): number {
    return this.slots;
  }
}
