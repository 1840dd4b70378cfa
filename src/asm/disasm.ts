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
import * as op from './opcodes.js';
import * as rules from './validate.js';

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

/** Names of the lddw pseudo kinds (src_reg 1-6) in the text. */
export const PSEUDO_LOAD_NAME = ['', 'map_fd', 'map_value', 'btf_id', 'func', 'map_idx', 'map_idx_value'] as const;

// Constants read once into module locals: hot paths test them per instruction,
// and an imported binding can cost a getter call (CommonJS interop, e.g. tsx).
const { AluOp, AtomicOp, Class, JmpOp, Mode, PseudoCall, Size, Source } = op;
const LDDW = op.LDDW;
const SLOT_SIZE = op.SLOT_SIZE;
const { ADDR_SPACE_CAST_OFF, ATOMIC_LOAD_ACQ, ATOMIC_STORE_REL, invalidReason } = rules;
const ALU = Class.ALU;
const ALU64 = Class.ALU64;
const JMP = Class.JMP;
const JMP32 = Class.JMP32;
const LDX = Class.LDX;
const ST = Class.ST;
const STX = Class.STX;
const X = Source.X;
const MEM = Mode.MEM;
const MEMSX = Mode.MEMSX;
const ATOMIC = Mode.ATOMIC;
const ABS = Mode.ABS;
const IND = Mode.IND;
const DW = Size.DW;
const W_SIZE = Size.W;
const OP_MOV = AluOp.MOV;
const OP_NEG = AluOp.NEG;
const OP_END = AluOp.END;
const OP_DIV = AluOp.DIV;
const OP_MOD = AluOp.MOD;
const OP_JA = JmpOp.JA;
const OP_CALL = JmpOp.CALL;
const OP_EXIT = JmpOp.EXIT;
const FETCH = AtomicOp.FETCH;
const XCHG = AtomicOp.XCHG;
const CMPXCHG = AtomicOp.CMPXCHG;
const LOCAL_CALL = PseudoCall.CALL;
const KFUNC_CALL = PseudoCall.KFUNC_CALL;

/** ALU operator text by `op >> 4`. */
const ALU_SYMBOL = [' += ', ' -= ', ' *= ', ' /= ', ' |= ', ' &= ', ' <<= ', ' >>= ', '', ' %= ', ' ^= ', '', ' s>>= '];
/** Jump comparison text by `op >> 4`. */
const JMP_SYMBOL = ['', ' == ', ' > ', ' >= ', ' & ', ' != ', ' s> ', ' s>= ', '', '', ' < ', ' <= ', ' s< ', ' s<= '];
/** Atomic operation names by `imm >> 4` (without the fetch bit). */
const ATOMIC_NAME: Record<number, [string, string]> = {
  [AtomicOp.ADD >> 4]: ['add', ' += '],
  [AtomicOp.OR >> 4]: ['or', ' |= '],
  [AtomicOp.AND >> 4]: ['and', ' &= '],
  [AtomicOp.XOR >> 4]: ['xor', ' ^= '],
};
/** `u8`... by size code >> 3. */
const SIZE_NAME = ['u32', 'u16', 'u8', 'u64'];
const SIGNED_SIZE_NAME = ['s32', 's16', 's8', ''];

const CH_r = 114;
const CH_w = 119;
const CH_0 = 48;
const CH_PLUS = 43;
const CH_MINUS = 45;
const CH_NL = 10;

/**
 * Builds ASCII text in a growing byte buffer: formatting a million lines as
 * JS strings costs more in garbage than in work.
 */
class AsciiWriter {
  buf = new Uint8Array(1 << 12);
  pos = 0;

  /** Room for one more line (no line is longer than 128 characters). */
  reserve(): void {
    if (this.pos + 128 <= this.buf.length) return;
    const next = new Uint8Array(this.buf.length * 2);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
  str(s: string): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }
  ch(c: number): void {
    this.buf[this.pos++] = c;
  }
  /** A signed integer of at most 53 bits, in decimal. */
  int(n: number): void {
    if (n < 0) {
      this.buf[this.pos++] = CH_MINUS;
      n = -n;
    }
    if (n < 10) {
      this.buf[this.pos++] = CH_0 + n;
      return;
    }
    let digits = 0;
    for (let m = n; m >= 1; m = Math.floor(m / 10)) digits++;
    let at = this.pos + digits;
    this.pos = at;
    while (n >= 1) {
      const q = Math.floor(n / 10);
      this.buf[--at] = CH_0 + (n - q * 10);
      n = q;
    }
  }
  /** A jump offset: always signed (`+3`, `-1`, `+0`). */
  target(n: number): void {
    if (n >= 0) this.buf[this.pos++] = CH_PLUS;
    this.int(n);
  }
  reg(prefix: number, n: number): void {
    this.buf[this.pos++] = prefix;
    if (n >= 10) {
      this.buf[this.pos++] = CH_0 + 1;
      n -= 10;
    }
    this.buf[this.pos++] = CH_0 + n;
  }
  /** `rN + off` / `rN - off`. */
  address(reg: number, off: number): void {
    this.reg(CH_r, reg);
    if (off >= 0) {
      this.str(' + ');
      this.int(off);
    } else {
      this.str(' - ');
      this.int(-off);
    }
  }
  text(from = 0): string {
    return decodeAscii(this.buf, from, this.pos);
  }
}

const decoder = typeof TextDecoder === 'undefined' ? undefined : new TextDecoder();
function decodeAscii(buf: Uint8Array, from: number, to: number): string {
  if (decoder) return decoder.decode(buf.subarray(from, to));
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

/** A signed 64-bit constant from its two 32-bit halves, in decimal. */
function writeWide(w: AsciiWriter, lo: number, hi: number): void {
  if (hi === 0) w.int(lo >>> 0);
  else if (hi === -1 && lo < 0) w.int(lo);
  else if (hi >= -0x200000 && hi < 0x200000) w.int(hi * 4294967296 + (lo >>> 0));
  else w.str(BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)).toString());
}

/**
 * Writes one instruction from its fields, ignoring fields the form does not
 * use. Returns false (having written part of a line) for an opcode with no
 * text. `hi` is the upper half of an lddw's constant.
 */
function writeInstruction(w: AsciiWriter, opcode: number, dst: number, src: number, off: number, imm: number, hi: number): boolean {
  switch (opcode & 0x07) {
    case ALU64:
      return writeAlu(w, opcode, CH_r, dst, src, off, imm, true);
    case ALU:
      return writeAlu(w, opcode, CH_w, dst, src, off, imm, false);
    case JMP:
    case JMP32:
      return writeJump(w, opcode, dst, src, off, imm);
    case LDX: {
      const mode = opcode & 0xe0;
      const size = opcode & 0x18;
      if (mode === MEM) w.reg(size === DW ? CH_r : CH_w, dst);
      else if (mode === MEMSX && size !== DW) w.reg(CH_r, dst);
      else return false;
      w.str(' = *(');
      w.str(mode === MEM ? SIZE_NAME[size >> 3]! : SIGNED_SIZE_NAME[size >> 3]!);
      w.str(' *)(');
      w.address(src, off);
      w.ch(41);
      return true;
    }
    case ST:
      if ((opcode & 0xe0) !== MEM) return false;
      w.str('*(');
      w.str(SIZE_NAME[(opcode & 0x18) >> 3]!);
      w.str(' *)(');
      w.address(dst, off);
      w.str(') = ');
      w.int(imm);
      return true;
    case STX:
      return writeStore(w, opcode, dst, src, off, imm);
    default:
      return writeLd(w, opcode, dst, src, imm, hi);
  }
}

function writeAlu(w: AsciiWriter, opcode: number, prefix: number, dst: number, src: number, off: number, imm: number, is64: boolean): boolean {
  const op = opcode & 0xf0;
  const x = (opcode & X) !== 0;
  if (op === OP_END) {
    if (is64 && x) return false;
    w.reg(CH_r, dst);
    w.str(is64 ? ' = bswap' : x ? ' = be' : ' = le');
    w.int(imm);
    w.ch(32);
    w.reg(CH_r, dst);
    return true;
  }
  if (op > OP_END || (op === OP_NEG && x)) return false;
  w.reg(prefix, dst);
  if (op === OP_MOV) {
    w.str(' = ');
    if (!x) w.int(imm);
    else if (off === 8 || off === 16 || (off === 32 && is64)) {
      w.str('(s');
      w.int(off);
      w.ch(41);
      w.reg(prefix, src);
    } else if (off === ADDR_SPACE_CAST_OFF && is64) {
      w.str('addr_space_cast(');
      w.reg(prefix, src);
      w.str(', ');
      w.int(imm >>> 16);
      w.str(', ');
      w.int(imm & 0xffff);
      w.ch(41);
    } else w.reg(prefix, src);
    return true;
  }
  if (op === OP_NEG) {
    w.str(' = -');
    w.reg(prefix, dst);
    return true;
  }
  if ((op === OP_DIV || op === OP_MOD) && off === 1) w.str(op === OP_DIV ? ' s/= ' : ' s%= ');
  else w.str(ALU_SYMBOL[op >> 4]!);
  if (x) w.reg(prefix, src);
  else w.int(imm);
  return true;
}

function writeJump(w: AsciiWriter, opcode: number, dst: number, src: number, off: number, imm: number): boolean {
  const op = opcode & 0xf0;
  const x = (opcode & X) !== 0;
  const is64 = (opcode & 0x07) === JMP;
  switch (op) {
    case OP_JA:
      if (x) return false;
      w.str(is64 ? 'goto ' : 'gotol ');
      w.target(is64 ? off : imm);
      return true;
    case OP_CALL:
      if (!is64) return false;
      if (x) {
        w.str('callx ');
        w.reg(CH_r, dst);
      } else if (src === LOCAL_CALL) {
        w.str('call ');
        w.target(imm);
      } else if (src === KFUNC_CALL) {
        w.str('call kfunc(');
        w.int(imm);
        if (off !== 0) {
          w.str(', ');
          w.int(off);
        }
        w.ch(41);
      } else {
        w.str('call ');
        w.int(imm);
      }
      return true;
    case OP_EXIT:
      if (!is64 || x) return false;
      w.str('exit');
      return true;
    case 0xe0:
      if (!is64 || x) return false;
      w.str('may_goto ');
      w.target(off);
      return true;
    case 0xf0:
      return false;
    default: {
      const prefix = is64 ? CH_r : CH_w;
      w.str('if ');
      w.reg(prefix, dst);
      w.str(JMP_SYMBOL[op >> 4]!);
      if (x) w.reg(prefix, src);
      else w.int(imm);
      w.str(' goto ');
      w.target(off);
      return true;
    }
  }
}

/** `(u32 *)(rN + off)` */
function writePointer(w: AsciiWriter, size: number, reg: number, off: number): void {
  w.ch(40);
  w.str(SIZE_NAME[size >> 3]!);
  w.str(' *)(');
  w.address(reg, off);
  w.ch(41);
}

function writeStore(w: AsciiWriter, opcode: number, dst: number, src: number, off: number, imm: number): boolean {
  const mode = opcode & 0xe0;
  const size = opcode & 0x18;
  const prefix = size === DW ? CH_r : CH_w;
  if (mode === MEM) {
    w.ch(42);
    writePointer(w, size, dst, off);
    w.str(' = ');
    w.reg(prefix, src);
    return true;
  }
  if (mode !== ATOMIC) return false;
  if (imm === ATOMIC_LOAD_ACQ) {
    w.reg(prefix, src);
    w.str(' = load_acquire(');
    writePointer(w, size, dst, off);
    w.ch(41);
    return true;
  }
  if (imm === ATOMIC_STORE_REL) {
    w.str('store_release(');
    writePointer(w, size, dst, off);
    w.str(', ');
    w.reg(prefix, src);
    w.ch(41);
    return true;
  }
  if (size !== W_SIZE && size !== DW) return false;
  if (imm === XCHG || imm === CMPXCHG) {
    const cmp = imm === CMPXCHG;
    if (cmp) w.reg(prefix, 0);
    else w.reg(prefix, src);
    w.str(cmp ? (size === DW ? ' = cmpxchg_64(' : ' = cmpxchg32_32(') : size === DW ? ' = xchg_64(' : ' = xchg32_32(');
    w.address(dst, off);
    w.str(', ');
    if (cmp) {
      w.reg(prefix, 0);
      w.str(', ');
    }
    w.reg(prefix, src);
    w.ch(41);
    return true;
  }
  const names = (imm & ~0xf1) === 0 ? ATOMIC_NAME[imm >> 4] : undefined;
  if (names === undefined) return false;
  if (imm & FETCH) {
    w.reg(prefix, src);
    w.str(' = atomic_fetch_');
    w.str(names[0]);
    w.ch(40);
    writePointer(w, size, dst, off);
    w.str(', ');
    w.reg(prefix, src);
    w.ch(41);
  } else {
    w.str('lock *');
    writePointer(w, size, dst, off);
    w.str(names[1]);
    w.reg(prefix, src);
  }
  return true;
}

function writeLd(w: AsciiWriter, opcode: number, dst: number, src: number, imm: number, hi: number): boolean {
  if (opcode === LDDW) {
    const name = PSEUDO_LOAD_NAME[src];
    if (name === undefined) return false;
    w.reg(CH_r, dst);
    w.str(' = ');
    if (src === 0) writeWide(w, imm, hi);
    else {
      w.str(name);
      w.ch(40);
      w.int(imm);
      if (hi !== 0) {
        w.str(', ');
        w.int(hi);
      }
      w.ch(41);
    }
    w.str(' ll');
    return true;
  }
  const mode = opcode & 0xe0;
  const size = opcode & 0x18;
  if (size === DW || (mode !== ABS && mode !== IND)) return false;
  w.str('r0 = *(');
  w.str(SIZE_NAME[size >> 3]!);
  w.str(' *)skb[');
  if (mode === ABS) w.int(imm);
  else {
    w.reg(CH_r, src);
    if (imm > 0) {
      w.str(' + ');
      w.int(imm);
    } else if (imm < 0) {
      w.str(' - ');
      w.int(-imm);
    }
  }
  w.ch(93);
  return true;
}

/** One line into `w`; `<unknown>` for an opcode with no text. */
function writeLine(w: AsciiWriter, opcode: number, dst: number, src: number, off: number, imm: number, hi: number): void {
  w.reserve();
  const start = w.pos;
  if (!writeInstruction(w, opcode, dst, src, off, imm, hi)) {
    w.pos = start;
    w.str(UNKNOWN);
  }
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

function invalid(opcode: number, reason: string, slot?: number): AsmError {
  return new AsmError('E_INVALID_INSTRUCTION', `invalid instruction (opcode 0x${hex2(opcode)}): ${reason}`, undefined, slot);
}

/**
 * Formats one instruction from its fields, ignoring fields the form does not
 * use; null for an opcode with no text. `hi` is the upper half of an lddw.
 */
export function formatFields(opcode: number, dst: number, src: number, off: number, imm: number, hi = 0): string | null {
  const w = new AsciiWriter();
  w.reserve();
  return writeInstruction(w, opcode, dst, src, off, imm, hi) ? w.text() : null;
}

/**
 * Formats one instruction. Throws AsmError for an invalid one unless
 * `strict` is false.
 */
export function formatInstruction(ins: Instruction, options: DisassembleOptions = {}): string {
  const wide = ins.opcode === LDDW;
  const full = wide ? (ins.imm64 ?? BigInt(ins.imm >>> 0)) : 0n;
  const hi = wide ? Number(BigInt.asIntN(32, full >> 32n)) : 0;
  const imm = wide ? Number(BigInt.asIntN(32, full)) : ins.imm;
  if (options.strict !== false) {
    const reason = invalidReason(ins.opcode, ins.dst, ins.src, ins.off, imm);
    if (reason !== null) throw invalid(ins.opcode, reason);
  }
  const text = formatFields(ins.opcode, ins.dst, ins.src, ins.off, imm, hi) ?? UNKNOWN;
  return ins.reference === undefined ? text : withReference(text, ins.opcode, ins.src, ins.reference);
}

/**
 * Puts a symbolic reference (label, map, function) in place of the number it
 * stands for, in the spelling the LLVM-syntax parser reads back:
 * `goto out`, `call fn`, `call kfunc(bpf_obj_new)`, `r1 = map_fd(events) ll`.
 */
function withReference(text: string, opcode: number, src: number, reference: string): string {
  if (opcode === LDDW) {
    if (src === 0) return text.replace(/= -?\d+ ll$/, `= ${reference} ll`);
    return text.replace(/\((-?\d+)/, `(${reference}`);
  }
  if (opcode === (JMP | OP_CALL)) {
    if (src === KFUNC_CALL) return text.replace(/\((-?\d+)/, `(${reference}`);
    return src === LOCAL_CALL ? `call ${reference}` : text;
  }
  const cls = opcode & 0x07;
  if (cls === JMP || cls === JMP32) return text.replace(/[+-]\d+$/, reference);
  return text;
}

/**
 * Formats instructions as a program the LLVM-syntax parser reads back to the
 * same instructions: a `name:` line before each instruction that defines a
 * symbol, references by name. For builder and compiler output.
 */
export function formatProgram(insns: readonly Instruction[], options: DisassembleOptions = {}): string[] {
  const out: string[] = [];
  for (const ins of insns) {
    if (ins.symbol !== undefined) out.push(`${ins.symbol}:`);
    out.push(`\t${formatInstruction(ins, options)}`);
  }
  return out;
}

/**
 * Disassembles little-endian 8-byte slots into one text, a line per
 * instruction, each ending in a newline. This is the fast path behind
 * `disassemble` and `tsbpf disasm`.
 */
export function disassembleText(bytes: Uint8Array, options: DisassembleOptions = {}): string {
  const strict = options.strict !== false;
  const slots = Math.floor(bytes.length / SLOT_SIZE);
  if (bytes.length % SLOT_SIZE !== 0 && strict) {
    throw new AsmError('E_TRUNCATED', `program is ${bytes.length} bytes, not a multiple of ${SLOT_SIZE}`, undefined, slots);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = new AsciiWriter();
  if (slots * 24 > w.buf.length) w.buf = new Uint8Array(slots * 24);
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
        w.reserve();
        w.str(UNKNOWN);
        w.ch(CH_NL);
        continue;
      }
      hi = view.getInt32(at + 12, true);
      if (strict && (bytes[at + 8] !== 0 || bytes[at + 9] !== 0 || view.getUint16(at + 10, true) !== 0)) {
        throw new AsmError('E_INVALID_INSTRUCTION', 'reserved fields of the second lddw slot are not zero', undefined, slot + 1);
      }
    }
    if (strict) {
      const reason = invalidReason(opcode, dst, src, off, imm);
      if (reason !== null) throw invalid(opcode, reason, slot);
    }
    writeLine(w, opcode, dst, src, off, imm, hi);
    w.ch(CH_NL);
    if (opcode === LDDW) slot++;
  }
  return w.text();
}

/**
 * Disassembles little-endian 8-byte slots, one line per instruction (an
 * lddw is one line for its two slots). Invalid or truncated bytecode is an
 * AsmError naming the slot (or, with `strict: false`, printed as LLVM does).
 * @example
 * disassemble(assemble('r0 = 1\nexit').bytes);   // ['r0 = 1', 'exit']
 */
export function disassemble(bytes: Uint8Array, options: DisassembleOptions = {}): string[] {
  const text = disassembleText(bytes, options);
  if (text.length === 0) return [];
  const lines = text.split('\n');
  lines.pop();
  return lines;
}
