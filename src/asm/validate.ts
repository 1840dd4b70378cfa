/**
 * Which encodings are valid instructions: a known opcode whose unused fields
 * are zero and whose registers exist. This is the set on which text round
 * trips exactly (the disassembler prints nothing for an unused field), and
 * what the kernel itself checks before it looks at semantics.
 */
import * as op from './opcodes.js';

// Read once into module locals (an imported binding can cost a getter call under CommonJS interop).
const { AluOp, AtomicOp, Class, JmpOp, Mode, PseudoLoad, Size, Source } = op;

/** imm values of BPF_STX|BPF_ATOMIC beyond the RFC's: load-acquire / store-release (Linux 6.15). */
export const ATOMIC_LOAD_ACQ = 0x100;
export const ATOMIC_STORE_REL = 0x110;

/** Offset of the ALU64 `mov` that is `addr_space_cast` (arena pointers). */
export const ADDR_SPACE_CAST_OFF = 1;

/** Opcode of `may_goto` (BPF_JMP | BPF_JCOND). */
export const MAY_GOTO = Class.JMP | 0xe0;

const MAX_REG = 10;

const isFetchable = (imm: number): boolean =>
  imm === AtomicOp.ADD || imm === AtomicOp.OR || imm === AtomicOp.AND || imm === AtomicOp.XOR;

/**
 * Why the fields do not form a valid instruction, or null when they do.
 */
export function invalidReason(opcode: number, dst: number, src: number, off: number, imm: number): string | null {
  if (dst > MAX_REG) return `dst register r${dst} does not exist`;
  if (src > MAX_REG) return `src register r${src} does not exist`;
  const cls = opcode & 0x07;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64:
      return aluReason(opcode, cls, src, off, imm);
    case Class.JMP:
    case Class.JMP32:
      return jumpReason(opcode, cls, dst, src, off, imm);
    case Class.LD:
      return ldReason(opcode, dst, src, off);
    case Class.LDX: {
      const mode = opcode & 0xe0;
      if (mode === Mode.MEMSX && (opcode & 0x18) === Size.DW) return 'no sign-extending 64-bit load';
      if (mode !== Mode.MEM && mode !== Mode.MEMSX) return 'unknown load mode';
      return imm !== 0 ? 'reserved imm is not zero' : null;
    }
    case Class.ST:
      if ((opcode & 0xe0) !== Mode.MEM) return 'unknown store mode';
      return src !== 0 ? 'reserved src is not zero' : null;
    default: {
      // STX
      const mode = opcode & 0xe0;
      const size = opcode & 0x18;
      if (mode === Mode.MEM) return imm !== 0 ? 'reserved imm is not zero' : null;
      if (mode !== Mode.ATOMIC) return 'unknown store mode';
      if (imm === ATOMIC_LOAD_ACQ || imm === ATOMIC_STORE_REL) return null;
      if (size !== Size.W && size !== Size.DW) return 'atomic operation on a size other than 32 or 64 bits';
      if (isFetchable(imm & ~AtomicOp.FETCH)) return null;
      if (imm === AtomicOp.XCHG || imm === AtomicOp.CMPXCHG) return null;
      return `unknown atomic operation 0x${(imm >>> 0).toString(16)}`;
    }
  }
}

function aluReason(opcode: number, cls: number, src: number, off: number, imm: number): string | null {
  const op = opcode & 0xf0;
  const x = (opcode & Source.X) !== 0;
  if (op > AluOp.END) return 'unknown ALU operation';
  if (op === AluOp.NEG) {
    if (x) return 'neg takes no source';
    return src !== 0 || off !== 0 || imm !== 0 ? 'reserved field of neg is not zero' : null;
  }
  if (op === AluOp.END) {
    if (cls === Class.ALU64 && x) return 'unknown byte-swap form';
    if (src !== 0 || off !== 0) return 'reserved field of a byte swap is not zero';
    return imm === 16 || imm === 32 || imm === 64 ? null : `byte swap width ${imm} is not 16, 32 or 64`;
  }
  if (x ? imm !== 0 && !(op === AluOp.MOV && cls === Class.ALU64 && off === ADDR_SPACE_CAST_OFF) : src !== 0) {
    return x ? 'reserved imm is not zero' : 'reserved src is not zero';
  }
  if (off === 0) return null;
  if ((op === AluOp.DIV || op === AluOp.MOD) && off === 1) return null;
  if (op === AluOp.MOV && x) {
    if (off === 8 || off === 16) return null;
    if (cls === Class.ALU64 && (off === 32 || off === ADDR_SPACE_CAST_OFF)) return null;
  }
  return 'reserved offset is not zero';
}

function jumpReason(opcode: number, cls: number, dst: number, src: number, off: number, imm: number): string | null {
  const op = opcode & 0xf0;
  const x = (opcode & Source.X) !== 0;
  const jmp = cls === Class.JMP;
  switch (op) {
    case JmpOp.JA:
      if (x) return 'unknown jump form';
      if (dst !== 0 || src !== 0) return 'reserved register of goto is not zero';
      if (jmp) return imm !== 0 ? 'reserved imm of goto is not zero' : null;
      return off !== 0 ? 'reserved offset of gotol is not zero' : null;
    case JmpOp.CALL:
      if (!jmp) return 'call in the JMP32 class';
      if (x) return src !== 0 || off !== 0 || imm !== 0 ? 'reserved field of callx is not zero' : null;
      if (dst !== 0) return 'reserved dst of call is not zero';
      if (src === 0) return off !== 0 ? 'reserved offset of call is not zero' : imm < 0 ? 'negative helper id' : null;
      if (src === 1) return off !== 0 ? 'reserved offset of call is not zero' : null;
      return src === 2 ? null : `unknown call kind ${src}`;
    case JmpOp.EXIT:
      if (!jmp || x) return 'unknown exit form';
      return dst !== 0 || src !== 0 || off !== 0 || imm !== 0 ? 'reserved field of exit is not zero' : null;
    case 0xe0:
      if (!jmp || x) return 'unknown jump form';
      return dst !== 0 || src !== 0 || imm !== 0 ? 'reserved field of may_goto is not zero' : null;
    case 0xf0:
      return 'unknown jump operation';
    default:
      return x ? (imm !== 0 ? 'reserved imm is not zero' : null) : src !== 0 ? 'reserved src is not zero' : null;
  }
}

function ldReason(opcode: number, dst: number, src: number, off: number): string | null {
  if (opcode === 0x18) {
    if (off !== 0) return 'reserved offset of lddw is not zero';
    return src > PseudoLoad.MAP_IDX_VALUE ? `unknown lddw kind ${src}` : null;
  }
  const mode = opcode & 0xe0;
  const size = opcode & 0x18;
  if ((mode !== Mode.ABS && mode !== Mode.IND) || size === Size.DW) return 'unknown LD opcode';
  if (dst !== 0 || off !== 0) return 'reserved field of a packet load is not zero';
  return mode === Mode.ABS && src !== 0 ? 'reserved src of a packet load is not zero' : null;
}
