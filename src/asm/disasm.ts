/**
 * The disassembler: one line per instruction in the text that
 * `llvm-objdump -d --mattr=+alu32` prints, without the address and hex
 * columns and without `<sym+off>` annotations. Forms LLVM 14 does not know
 * use newer LLVM's spellings (`r1 = (s8)r2`, `r1 s/= r2`, `gotol +N`,
 * `*(u32 *)(r1 + 0) = 5`, ...). Where LLVM prints two encodings the same way
 * this prints them apart, so that text always assembles back to the same
 * bytes:
 *
 *   call 5               helper call (src 0)
 *   call +3 / call -1    bpf-to-bpf call (src 1), signed like a jump
 *   call kfunc(1234)     kfunc call by BTF id (src 2), `kfunc(id, btf_fd_idx)`
 *   r0 = *(u8 *)skb[r3 + 4]   indirect packet load with a constant
 *   r1 = map_fd(5) ll    lddw pseudo kinds: map_fd, map_value(fd, off),
 *                        btf_id, func, map_idx, map_idx_value(idx, off)
 */
import { AsmError } from './errors.js';
import type { Instruction } from './instruction.js';
import { AluOp, AtomicOp, Class, JmpOp, LDDW, Mode, PseudoCall, Size, SLOT_SIZE, Source } from './opcodes.js';
import { ADDR_SPACE_CAST_OFF, ATOMIC_LOAD_ACQ, ATOMIC_STORE_REL, invalidReason } from './validate.js';

export interface DisassembleOptions {
  /**
   * When false, an invalid instruction prints as LLVM prints it (unused
   * fields ignored, `<unknown>` for an unknown opcode) instead of throwing.
   * Default true.
   */
  strict?: boolean;
}

/** The text LLVM prints for an opcode it does not know. */
export const UNKNOWN = '<unknown>';

const ALU_SYMBOL: Record<number, string> = {
  [AluOp.ADD]: '+=',
  [AluOp.SUB]: '-=',
  [AluOp.MUL]: '*=',
  [AluOp.DIV]: '/=',
  [AluOp.OR]: '|=',
  [AluOp.AND]: '&=',
  [AluOp.LSH]: '<<=',
  [AluOp.RSH]: '>>=',
  [AluOp.MOD]: '%=',
  [AluOp.XOR]: '^=',
  [AluOp.ARSH]: 's>>=',
};

const JMP_SYMBOL: Record<number, string> = {
  [JmpOp.JEQ]: '==',
  [JmpOp.JGT]: '>',
  [JmpOp.JGE]: '>=',
  [JmpOp.JSET]: '&',
  [JmpOp.JNE]: '!=',
  [JmpOp.JSGT]: 's>',
  [JmpOp.JSGE]: 's>=',
  [JmpOp.JLT]: '<',
  [JmpOp.JLE]: '<=',
  [JmpOp.JSLT]: 's<',
  [JmpOp.JSLE]: 's<=',
};

const ATOMIC_NAME: Record<number, string> = {
  [AtomicOp.ADD]: 'add',
  [AtomicOp.OR]: 'or',
  [AtomicOp.AND]: 'and',
  [AtomicOp.XOR]: 'xor',
};

const ATOMIC_SYMBOL: Record<number, string> = {
  [AtomicOp.ADD]: '+=',
  [AtomicOp.OR]: '|=',
  [AtomicOp.AND]: '&=',
  [AtomicOp.XOR]: '^=',
};

/** Names of the lddw pseudo kinds (src_reg 1-6) in the text. */
export const PSEUDO_LOAD_NAME = ['', 'map_fd', 'map_value', 'btf_id', 'func', 'map_idx', 'map_idx_value'] as const;

/** `u8`, `u16`, `u32`, `u64` by size code. */
const SIZE_NAME: Record<number, string> = { [Size.B]: 'u8', [Size.H]: 'u16', [Size.W]: 'u32', [Size.DW]: 'u64' };
const SIGNED_SIZE_NAME: Record<number, string> = { [Size.B]: 's8', [Size.H]: 's16', [Size.W]: 's32' };

const R = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const W = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8', 'w9', 'w10', 'w11', 'w12', 'w13', 'w14', 'w15'];

const target = (n: number): string => (n >= 0 ? `+${n}` : `${n}`);
const address = (reg: number, off: number): string => (off >= 0 ? `${R[reg]} + ${off}` : `${R[reg]} - ${-off}`);

/** A signed 64-bit constant from its two 32-bit halves, in decimal. */
function wideDecimal(lo: number, hi: number): string {
  if (hi === 0) return `${lo >>> 0}`;
  if (hi === -1 && lo < 0) return `${lo}`;
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)).toString();
}

/**
 * Formats one instruction from its fields, ignoring fields the form does not
 * use; null for an opcode with no text. `hi` is the upper half of an lddw.
 */
export function formatFields(opcode: number, dst: number, src: number, off: number, imm: number, hi = 0): string | null {
  switch (opcode & 0x07) {
    case Class.ALU64:
      return formatAlu(opcode, R, dst, src, off, imm, true);
    case Class.ALU:
      return formatAlu(opcode, W, dst, src, off, imm, false);
    case Class.JMP:
    case Class.JMP32:
      return formatJump(opcode, dst, src, off, imm);
    case Class.LDX: {
      const mode = opcode & 0xe0;
      const size = opcode & 0x18;
      if (mode === Mode.MEM) return `${size === Size.DW ? R[dst] : W[dst]} = *(${SIZE_NAME[size]} *)(${address(src, off)})`;
      if (mode === Mode.MEMSX && size !== Size.DW) return `${R[dst]} = *(${SIGNED_SIZE_NAME[size]} *)(${address(src, off)})`;
      return null;
    }
    case Class.ST:
      return (opcode & 0xe0) === Mode.MEM ? `*(${SIZE_NAME[opcode & 0x18]} *)(${address(dst, off)}) = ${imm}` : null;
    case Class.STX:
      return formatStore(opcode, dst, src, off, imm);
    default:
      return formatLd(opcode, dst, src, imm, hi);
  }
}

function formatAlu(opcode: number, regs: string[], dst: number, src: number, off: number, imm: number, is64: boolean): string | null {
  const op = opcode & 0xf0;
  const x = (opcode & Source.X) !== 0;
  const d = regs[dst]!;
  switch (op) {
    case AluOp.MOV:
      if (!x) return `${d} = ${imm}`;
      if (off === 8 || off === 16 || (off === 32 && is64)) return `${d} = (s${off})${regs[src]}`;
      if (off === ADDR_SPACE_CAST_OFF && is64) return `${d} = addr_space_cast(${regs[src]}, ${imm >>> 16}, ${imm & 0xffff})`;
      return `${d} = ${regs[src]}`;
    case AluOp.NEG:
      return x ? null : `${d} = -${d}`;
    case AluOp.END:
      if (is64) return x ? null : `${R[dst]} = bswap${imm} ${R[dst]}`;
      return `${R[dst]} = ${x ? 'be' : 'le'}${imm} ${R[dst]}`;
    case 0xe0:
    case 0xf0:
      return null;
    default: {
      const sym = (op === AluOp.DIV || op === AluOp.MOD) && off === 1 ? `s${ALU_SYMBOL[op]}` : ALU_SYMBOL[op];
      return `${d} ${sym} ${x ? regs[src] : imm}`;
    }
  }
}

function formatJump(opcode: number, dst: number, src: number, off: number, imm: number): string | null {
  const op = opcode & 0xf0;
  const x = (opcode & Source.X) !== 0;
  const is64 = (opcode & 0x07) === Class.JMP;
  switch (op) {
    case JmpOp.JA:
      if (x) return null;
      return is64 ? `goto ${target(off)}` : `gotol ${target(imm)}`;
    case JmpOp.CALL:
      if (!is64) return null;
      if (x) return `callx ${R[dst]}`;
      if (src === PseudoCall.CALL) return `call ${target(imm)}`;
      if (src === PseudoCall.KFUNC_CALL) return off === 0 ? `call kfunc(${imm})` : `call kfunc(${imm}, ${off})`;
      return `call ${imm}`;
    case JmpOp.EXIT:
      return is64 && !x ? 'exit' : null;
    case 0xe0:
      return is64 && !x ? `may_goto ${target(off)}` : null;
    case 0xf0:
      return null;
    default: {
      const regs = is64 ? R : W;
      return `if ${regs[dst]} ${JMP_SYMBOL[op]} ${x ? regs[src] : imm} goto ${target(off)}`;
    }
  }
}

function formatStore(opcode: number, dst: number, src: number, off: number, imm: number): string | null {
  const mode = opcode & 0xe0;
  const size = opcode & 0x18;
  const dw = size === Size.DW;
  const s = dw ? R[src] : W[src];
  if (mode === Mode.MEM) return `*(${SIZE_NAME[size]} *)(${address(dst, off)}) = ${s}`;
  if (mode !== Mode.ATOMIC) return null;
  const where = `(${SIZE_NAME[size]} *)(${address(dst, off)})`;
  if (imm === ATOMIC_LOAD_ACQ) return `${s} = load_acquire(${where})`;
  if (imm === ATOMIC_STORE_REL) return `store_release(${where}, ${s})`;
  if (size !== Size.W && !dw) return null;
  if (imm === AtomicOp.XCHG) return dw ? `${s} = xchg_64(${address(dst, off)}, ${s})` : `${s} = xchg32_32(${address(dst, off)}, ${s})`;
  if (imm === AtomicOp.CMPXCHG) {
    return dw ? `r0 = cmpxchg_64(${address(dst, off)}, r0, ${s})` : `w0 = cmpxchg32_32(${address(dst, off)}, w0, ${s})`;
  }
  const base = imm & ~AtomicOp.FETCH;
  const name = ATOMIC_NAME[base];
  if (name === undefined || (imm & ~0xf1) !== 0) return null;
  if (imm & AtomicOp.FETCH) return `${s} = atomic_fetch_${name}(${where}, ${s})`;
  return `lock *${where} ${ATOMIC_SYMBOL[base]} ${s}`;
}

function formatLd(opcode: number, dst: number, src: number, imm: number, hi: number): string | null {
  if (opcode === LDDW) {
    if (src === 0) return `${R[dst]} = ${wideDecimal(imm, hi)} ll`;
    const name = PSEUDO_LOAD_NAME[src];
    if (name === undefined) return null;
    return hi === 0 ? `${R[dst]} = ${name}(${imm}) ll` : `${R[dst]} = ${name}(${imm}, ${hi}) ll`;
  }
  const mode = opcode & 0xe0;
  const size = opcode & 0x18;
  if (size === Size.DW) return null;
  if (mode === Mode.ABS) return `r0 = *(${SIZE_NAME[size]} *)skb[${imm}]`;
  if (mode === Mode.IND) {
    if (imm === 0) return `r0 = *(${SIZE_NAME[size]} *)skb[${R[src]}]`;
    return imm > 0 ? `r0 = *(${SIZE_NAME[size]} *)skb[${R[src]} + ${imm}]` : `r0 = *(${SIZE_NAME[size]} *)skb[${R[src]} - ${-imm}]`;
  }
  return null;
}

/**
 * Formats one instruction. Throws AsmError for an invalid one unless
 * `strict` is false.
 */
export function formatInstruction(ins: Instruction, options: DisassembleOptions = {}): string {
  const hi = ins.opcode === LDDW ? Number(BigInt.asIntN(32, (ins.imm64 ?? BigInt(ins.imm >>> 0)) >> 32n)) : 0;
  const imm = ins.opcode === LDDW && ins.imm64 !== undefined ? Number(BigInt.asIntN(32, ins.imm64)) : ins.imm;
  if (options.strict !== false) {
    const reason = invalidReason(ins.opcode, ins.dst, ins.src, ins.off, imm);
    if (reason !== null) throw new AsmError('E_INVALID_INSTRUCTION', `invalid instruction (opcode 0x${hex2(ins.opcode)}): ${reason}`);
  }
  return formatFields(ins.opcode, ins.dst, ins.src, ins.off, imm, hi) ?? UNKNOWN;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/**
 * Disassembles little-endian 8-byte slots, one line per instruction (an
 * lddw is one line for its two slots). Invalid or truncated bytecode is an
 * AsmError naming the slot (or, with `strict: false`, printed as LLVM does).
 */
export function disassemble(bytes: Uint8Array, options: DisassembleOptions = {}): string[] {
  const strict = options.strict !== false;
  const slots = Math.floor(bytes.length / SLOT_SIZE);
  if (bytes.length % SLOT_SIZE !== 0 && strict) {
    throw new AsmError('E_TRUNCATED', `program is ${bytes.length} bytes, not a multiple of ${SLOT_SIZE}`, undefined, slots);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = new Array(slots);
  let n = 0;
  for (let slot = 0; slot < slots; slot++) {
    const at = slot * SLOT_SIZE;
    const opcode = bytes[at]!;
    const regs = bytes[at + 1]!;
    const dst = regs & 0xf;
    const src = regs >> 4;
    const off = view.getInt16(at + 2, true);
    const imm = view.getInt32(at + 4, true);
    let hi = 0;
    if (opcode === LDDW) {
      if (slot + 1 >= slots) {
        if (strict) throw new AsmError('E_TRUNCATED', 'lddw is missing its second slot', undefined, slot);
        out[n++] = UNKNOWN;
        continue;
      }
      hi = view.getInt32(at + 12, true);
      if (strict && (bytes[at + 8] !== 0 || bytes[at + 9] !== 0 || view.getUint16(at + 10, true) !== 0)) {
        throw new AsmError('E_INVALID_INSTRUCTION', 'reserved fields of the second lddw slot are not zero', undefined, slot + 1);
      }
    }
    if (strict) {
      const reason = invalidReason(opcode, dst, src, off, imm);
      if (reason !== null) throw new AsmError('E_INVALID_INSTRUCTION', `invalid instruction (opcode 0x${hex2(opcode)}): ${reason}`, undefined, slot);
    }
    out[n++] = formatFields(opcode, dst, src, off, imm, hi) ?? UNKNOWN;
    if (opcode === LDDW) slot++;
  }
  out.length = n;
  return out;
}
