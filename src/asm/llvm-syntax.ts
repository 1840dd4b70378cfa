/**
 * The LLVM assembler syntax: what `llvm-mc -triple bpf` reads and what
 * `llvm-objdump -d` (and our disassembler) prints. `r0 = *(u32 *)(r1 + 4)`,
 * `if w1 s< 5 goto +3`, `goto LBB0_2`, `r1 = 0x1234 ll`, `lock *(u64 *)(r1 + 0) += r2`.
 *
 * Labels (`name:`, also `.LBB0_1:`) may precede an instruction on its line.
 * Comments: `#`, `//`, `;` to the end of the line and `/* ... *\/` blocks.
 * Directives (`.text`, `.globl f`, `.section ...`, ...) are skipped: the
 * result is the flat instruction stream of the code sections (labels in data
 * sections such as `.maps` are not code labels), so `clang -S` output reads.
 *
 * Jump targets are `+N`/`-N` slots or labels. `call N` is a helper call,
 * `call +N`/`call -N` a bpf-to-bpf call (src 1), `call name` a bpf-to-bpf
 * call to a label here or, if there is none, a reference (imm -1) left for
 * the linker, like `r1 = name ll`, `r1 = map_fd(name) ll` and
 * `call kfunc(name)`.
 *
 * Hand-written scanner over char codes: it must keep up with llvm-mc on a
 * million lines.
 */
import { AsmError, type SourcePosition } from './errors.js';
import { type Instruction, wideLoad } from './instruction.js';
import { InstructionColumns } from './instruction-columns.js';
import * as op from './opcodes.js';
import { PSEUDO_LOAD_NAME } from './disasm.js';
import * as rules from './validate.js';

// Read once into module locals: an imported binding can cost a getter call per
// use under CommonJS interop (tsx), and these are used on every line.
const { AluOp, AtomicOp, Class, JmpOp, Mode, PseudoCall, PseudoLoad, Size, Source } = op;
const { CALL, CALLX, EXIT, JA, JA32, LDDW } = op;
const { ADDR_SPACE_CAST_OFF, ATOMIC_LOAD_ACQ, ATOMIC_STORE_REL, MAY_GOTO } = rules;

// Token kinds.
const END = 0;
const REG = 1; // rN
const WREG = 2; // wN
const IDENT = 3;
const NUM = 4;
const PUNCT = 5;

const ALU_OPS: Record<string, number> = {
  '+=': AluOp.ADD,
  '-=': AluOp.SUB,
  '*=': AluOp.MUL,
  '/=': AluOp.DIV,
  '|=': AluOp.OR,
  '&=': AluOp.AND,
  '<<=': AluOp.LSH,
  '>>=': AluOp.RSH,
  '%=': AluOp.MOD,
  '^=': AluOp.XOR,
  's>>=': AluOp.ARSH,
  's/=': AluOp.DIV,
  's%=': AluOp.MOD,
};

const JMP_OPS: Record<string, number> = {
  '==': JmpOp.JEQ,
  '>': JmpOp.JGT,
  '>=': JmpOp.JGE,
  '&': JmpOp.JSET,
  '!=': JmpOp.JNE,
  's>': JmpOp.JSGT,
  's>=': JmpOp.JSGE,
  '<': JmpOp.JLT,
  '<=': JmpOp.JLE,
  's<': JmpOp.JSLT,
  's<=': JmpOp.JSLE,
};

const ATOMIC_OPS: Record<string, number> = { '+=': AtomicOp.ADD, '|=': AtomicOp.OR, '&=': AtomicOp.AND, '^=': AtomicOp.XOR };
const ATOMIC_FETCH: Record<string, number> = {
  atomic_fetch_add: AtomicOp.ADD,
  atomic_fetch_or: AtomicOp.OR,
  atomic_fetch_and: AtomicOp.AND,
  atomic_fetch_xor: AtomicOp.XOR,
};

const SIZES: Record<string, number> = { u8: Size.B, u16: Size.H, u32: Size.W, u64: Size.DW };
const SIGNED_SIZES: Record<string, number> = { s8: Size.B, s16: Size.H, s32: Size.W };
const SWAPS: Record<string, [number, number]> = {
  le16: [Class.ALU | AluOp.END | Source.K, 16],
  le32: [Class.ALU | AluOp.END | Source.K, 32],
  le64: [Class.ALU | AluOp.END | Source.K, 64],
  be16: [Class.ALU | AluOp.END | Source.X, 16],
  be32: [Class.ALU | AluOp.END | Source.X, 32],
  be64: [Class.ALU | AluOp.END | Source.X, 64],
  bswap16: [Class.ALU64 | AluOp.END, 16],
  bswap32: [Class.ALU64 | AluOp.END, 32],
  bswap64: [Class.ALU64 | AluOp.END, 64],
};

const PSEUDO_KIND = new Map<string, number>(PSEUDO_LOAD_NAME.map((name, i) => [name, i]));

/** Operators of the form `X=` by their first character. */
const OP_EQ = new Map<number, string>(['==', '!=', '>=', '<=', '+=', '-=', '*=', '/=', '%=', '|=', '&=', '^='].map((p) => [p.charCodeAt(0), p]));
/** One-character operators. */
const OP_SINGLE = new Map<number, string>(['=', '<', '>', '&', '*', '+', '-'].map((p) => [p.charCodeAt(0), p]));

/**
 * Words that appear on most lines, returned without allocating a string:
 * short identifiers are packed 7 bits per character into a number key.
 */
const WORDS = new Map<number, string>();
function wordKey(s: string, from: number, to: number): number {
  let key = 0;
  for (let i = from; i < to; i++) key = key * 128 + (s.charCodeAt(i) & 0x7f);
  return key * 8 + (to - from);
}
for (const w of ['goto', 'gotol', 'if', 'll', 'u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 'skb', 'lock', 'call', 'callx', 'exit', 'kfunc',
  'le16', 'le32', 'le64', 'be16', 'be32', 'be64', 'bswap16', 'bswap32', 'bswap64', 'xchg_64', 'map_fd', 'func', 'map_idx']) {
  WORDS.set(wordKey(w, 0, w.length), w);
}
function internWord(s: string, from: number, to: number): string {
  return WORDS.get(wordKey(s, from, to)) ?? s.slice(from, to);
}

const SIGNED_OPS = ['s>>=', 's>=', 's<=', 's/=', 's%=', 's>', 's<'];

const INT32_MIN = -0x80000000;
const UINT32_MAX = 0xffffffff;

interface Fixup {
  index: number;
  slot: number;
  label: string;
  kind: 'jump16' | 'jump32' | 'call' | 'func';
  position: SourcePosition;
}

const isIdentStart = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 46 || c === 36;
const isIdentChar = (c: number): boolean => isIdentStart(c) || (c >= 48 && c <= 57);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

class LlvmParser {
  // The current line's tokens, as parallel arrays reused between lines.
  private kinds = new Int32Array(64);
  private values: Array<string | number | bigint> = [];
  private columns = new Int32Array(64);
  private count = 0;
  private at = 0;
  private line = 0;
  private inBlockComment = false;
  /** False inside data sections, whose labels are not code labels. */
  private inCode = true;

  private readonly out = new InstructionColumns();
  private slot = 0;
  private readonly labels = new Map<string, number>();
  private pendingLabels: string[] = [];
  private readonly fixups: Fixup[] = [];

  constructor(private readonly file: string | undefined) {}

  parse(source: string): InstructionColumns {
    let start = 0;
    const n = source.length;
    while (start <= n) {
      let end = source.indexOf('\n', start);
      if (end < 0) end = n;
      this.line++;
      this.parseLine(source, start, end);
      start = end + 1;
    }
    if (this.pendingLabels.length) for (const l of this.pendingLabels) this.labels.set(l, this.slot);
    this.resolve();
    return this.out;
  }

  get fileName(): string {
    return this.file ?? '<input>';
  }

  private position(column: number): SourcePosition {
    return this.file === undefined ? { line: this.line, column } : { file: this.file, line: this.line, column };
  }

  private fail(code: string, message: string, column = this.columns[this.at] ?? 1): never {
    throw new AsmError(code, message, this.position(column));
  }

  // ---- scanning ----

  /** Appends a token; the arrays grow for very long lines. */
  private push(kind: number, value: string | number | bigint, column: number): void {
    const n = this.count++;
    if (n >= this.kinds.length) {
      const kinds = new Int32Array(n * 2);
      kinds.set(this.kinds);
      this.kinds = kinds;
      const columns = new Int32Array(n * 2);
      columns.set(this.columns);
      this.columns = columns;
    }
    this.kinds[n] = kind;
    this.values[n] = value;
    this.columns[n] = column;
  }

  private tokenize(s: string, start: number, end: number): void {
    this.count = 0;
    let i = start;
    if (this.inBlockComment) {
      const close = s.indexOf('*/', i);
      if (close < 0 || close >= end) {
        this.push(END, '', end - start + 1);
        return;
      }
      this.inBlockComment = false;
      i = close + 2;
    }
    scan: while (i < end) {
      const c = s.charCodeAt(i);
      const column = i - start + 1;
      switch (c) {
        case 32: // space
        case 9: // tab
        case 13: // CR
          i++;
          continue;
        case 35: // #
        case 59: // ;
          break scan;
        case 47: {
          // / : comment or /=
          const next = s.charCodeAt(i + 1);
          if (next === 47) break scan;
          if (next === 42) {
            const close = s.indexOf('*/', i + 2);
            if (close < 0 || close >= end) {
              this.inBlockComment = true;
              break scan;
            }
            i = close + 2;
            continue;
          }
          break;
        }
        case 40: // (
        case 41: // )
        case 44: // ,
        case 58: // :
        case 91: // [
        case 93: // ]
          this.push(PUNCT, s[i]!, column);
          i++;
          continue;
      }
      if (isDigit(c)) {
        i = this.scanNumber(s, i, end, column);
        continue;
      }
      if (c === 115 /* s */) {
        const next = s.charCodeAt(i + 1);
        if (next === 62 || next === 60 || next === 47 || next === 37) {
          const op = SIGNED_OPS.find((p) => s.startsWith(p, i));
          if (op) {
            this.push(PUNCT, op, column);
            i += op.length;
            continue;
          }
        }
      }
      if (isIdentStart(c)) {
        let j = i + 1;
        while (j < end && isIdentChar(s.charCodeAt(j))) j++;
        const len = j - i;
        if ((c === 114 || c === 119) && len <= 3 && len >= 2 && isDigit(s.charCodeAt(i + 1)) && (len === 2 || isDigit(s.charCodeAt(i + 2)))) {
          const n = len === 2 ? s.charCodeAt(i + 1) - 48 : (s.charCodeAt(i + 1) - 48) * 10 + s.charCodeAt(i + 2) - 48;
          this.push(c === 114 ? REG : WREG, n, column);
        } else {
          this.push(IDENT, len <= 7 ? internWord(s, i, j) : s.slice(i, j), column);
        }
        i = j;
        continue;
      }
      // Operators: one character, or two/three ending in '=' (also == != <= >= <<= >>=).
      let p: string | undefined;
      const c1 = s.charCodeAt(i + 1);
      if (c1 === 61 /* = */ && OP_EQ.has(c)) p = OP_EQ.get(c);
      else if ((c === 60 || c === 62) && c1 === c && s.charCodeAt(i + 2) === 61) p = c === 60 ? '<<=' : '>>=';
      else p = OP_SINGLE.get(c);
      if (p === undefined) this.fail('E_SYNTAX', `unexpected character '${s[i]}'`, column);
      this.push(PUNCT, p, column);
      i += p.length;
    }
    this.push(END, '', end - start + 1);
  }

  private scanNumber(s: string, i: number, end: number, column: number): number {
    let j = i;
    let value: number | bigint;
    if (s.charCodeAt(i) === 48 && (s.charCodeAt(i + 1) | 0x20) === 120) {
      j = i + 2;
      while (j < end && isIdentChar(s.charCodeAt(j))) j++;
      const digits = s.slice(i + 2, j);
      if (!/^[0-9a-fA-F]+$/.test(digits)) this.fail('E_SYNTAX', `bad hexadecimal number '${s.slice(i, j)}'`, column);
      value = digits.length <= 12 ? parseInt(digits, 16) : BigInt(`0x${digits}`);
    } else {
      let v = 0;
      while (j < end) {
        const d = s.charCodeAt(j);
        if (!isDigit(d)) break;
        v = v * 10 + d - 48;
        j++;
      }
      if (j < end && isIdentChar(s.charCodeAt(j))) this.fail('E_SYNTAX', `bad number '${s.slice(i, j + 1)}'`, column);
      value = j - i <= 15 ? v : BigInt(s.slice(i, j));
    }
    this.push(NUM, value, column);
    return j;
  }

  // ---- token helpers ----

  private kind(): number {
    return this.kinds[this.at]!;
  }
  private value(): string | number | bigint {
    return this.values[this.at]!;
  }
  private isPunct(p: string): boolean {
    return this.kinds[this.at] === PUNCT && this.values[this.at] === p;
  }
  private isIdent(name: string): boolean {
    return this.kinds[this.at] === IDENT && this.values[this.at] === name;
  }
  private describe(): string {
    return this.kind() === END ? 'end of line' : `'${String(this.value())}'`;
  }
  private expectPunct(p: string): void {
    if (!this.isPunct(p)) this.fail('E_SYNTAX', `expected '${p}', found ${this.describe()}`);
    this.at++;
  }
  private expectIdent(name: string): void {
    if (!this.isIdent(name)) this.fail('E_SYNTAX', `expected '${name}', found ${this.describe()}`);
    this.at++;
  }
  private ident(what: string): string {
    if (this.kind() !== IDENT) this.fail('E_SYNTAX', `expected ${what}, found ${this.describe()}`);
    return this.values[this.at++] as string;
  }

  /** A register of either width; returns its number and whether it was `wN`. */
  private anyReg(): [number, boolean] {
    const k = this.kind();
    if (k !== REG && k !== WREG) this.fail('E_SYNTAX', `expected a register, found ${this.describe()}`);
    const n = this.values[this.at] as number;
    if (n > 10) this.fail('E_REGISTER', `register ${k === REG ? 'r' : 'w'}${n} does not exist (r0-r10)`);
    this.at++;
    return [n, k === WREG];
  }
  private reg(wide: boolean): number {
    const k = this.kind();
    if (k !== (wide ? REG : WREG)) {
      if (k === REG || k === WREG) this.fail('E_REGISTER', `expected a ${wide ? '64-bit register rN' : '32-bit register wN'}, found ${this.describe()}`);
      this.fail('E_SYNTAX', `expected a register, found ${this.describe()}`);
    }
    return this.anyReg()[0];
  }

  /** Optional sign and a number, as a bigint. */
  private signedNumber(what: string): bigint {
    let negative = false;
    if (this.isPunct('-')) {
      negative = true;
      this.at++;
    } else if (this.isPunct('+')) this.at++;
    if (this.kind() !== NUM) this.fail('E_SYNTAX', `expected ${what}, found ${this.describe()}`);
    const v = BigInt(this.values[this.at++] as number | bigint);
    return negative ? -v : v;
  }

  /** A 32-bit immediate: signed, or unsigned up to 0xffffffff (stored wrapped), as llvm-mc allows. */
  private imm32(): number {
    const column = this.columns[this.at]!;
    let negative = false;
    if (this.isPunct('-')) {
      negative = true;
      this.at++;
    } else if (this.isPunct('+')) this.at++;
    if (this.kind() !== NUM) this.fail('E_SYNTAX', `expected an immediate, found ${this.describe()}`);
    const raw = this.values[this.at++]!;
    const v = typeof raw === 'number' ? (negative ? -raw : raw) : Number(negative ? -(raw as bigint) : (raw as bigint));
    if (typeof raw !== 'number' || v < INT32_MIN || v > UINT32_MAX) this.fail('E_IMMEDIATE_RANGE', `immediate ${negative ? '-' : ''}${String(raw)} does not fit in 32 bits`, column);
    return v | 0;
  }

  /** A signed 16-bit offset written as `+ N`, `- N` (after a register) or a bare signed number. */
  private offset16(negative: boolean, column: number): number {
    if (this.kind() !== NUM) this.fail('E_SYNTAX', `expected an offset, found ${this.describe()}`);
    const raw = this.values[this.at++]!;
    const v = typeof raw === 'number' ? (negative ? -raw : raw) : Number.POSITIVE_INFINITY;
    if (v < -32768 || v > 32767) this.fail('E_OFFSET_RANGE', `offset ${negative ? '-' : ''}${String(raw)} does not fit in 16 bits`, column);
    return v;
  }

  /** `(rN + off)` / `(rN - off)` / `(rN)` → [reg, off]. Parentheses included when `parens`. */
  private address(parens: boolean): [number, number] {
    if (parens) this.expectPunct('(');
    const base = this.reg(true);
    let off = 0;
    if (this.isPunct('+') || this.isPunct('-')) {
      const negative = this.isPunct('-');
      const column = this.columns[this.at]!;
      this.at++;
      off = this.offset16(negative, column);
    }
    if (parens) this.expectPunct(')');
    return [base, off];
  }

  /** `(u32 *)` → size code; with `signed`, also `(s8 *)` etc. (second value true when signed). */
  private pointerType(allowSigned: boolean): [number, boolean] {
    this.expectPunct('(');
    const name = this.ident('a type such as u32');
    this.expectPunct('*');
    this.expectPunct(')');
    const size = SIZES[name];
    if (size !== undefined) return [size, false];
    const signed = SIGNED_SIZES[name];
    if (signed !== undefined && allowSigned) return [signed, true];
    this.at -= 3;
    return this.fail('E_SYNTAX', `unknown access type '${name}'`);
  }

  /** A jump target: `+N`, `-N`, `N` or a label. Returns the number, or records a fixup. */
  private target(index: number, kind: Fixup['kind']): number {
    if (this.kind() === IDENT) {
      const column = this.columns[this.at]!;
      const label = this.values[this.at++] as string;
      this.fixups.push({ index, slot: this.slot, label, kind, position: this.position(column) });
      return kind === 'call' ? -1 : 0;
    }
    const column = this.columns[this.at]!;
    const v = this.signedNumber('a jump target');
    const limit = kind === 'jump16' ? 0x8000n : 0x80000000n;
    if (v < -limit || v >= limit) this.fail('E_JUMP_RANGE', `jump offset ${v} does not fit in ${kind === 'jump16' ? 16 : 32} bits`, column);
    return Number(v);
  }

  // ---- statements ----

  private parseLine(s: string, start: number, end: number): void {
    if (!this.inBlockComment && this.directive(s, start, end)) return;
    this.tokenize(s, start, end);
    this.at = 0;
    const kinds = this.kinds;
    while (kinds[this.at] === IDENT && kinds[this.at + 1] === PUNCT && this.values[this.at + 1] === ':') {
      if (this.inCode) this.defineLabel(this.values[this.at] as string, this.columns[this.at]!);
      this.at += 2;
    }
    const k = kinds[this.at];
    if (k === END) return;
    if (k === IDENT && (this.values[this.at] as string).charCodeAt(0) === 46) return; // directive after a label
    const column = this.columns[this.at]!;
    const insn = this.statement();
    if (this.kind() !== END) this.fail('E_SYNTAX', `unexpected ${this.describe()} after the instruction`);
    if (this.pendingLabels.length) {
      insn.symbol = this.pendingLabels[0]!;
      this.pendingLabels = [];
    }
    // The instruction object dies here; the columns keep its fields.
    this.out.push(insn, this.line, column);
    this.slot += insn.opcode === LDDW ? 2 : 1;
  }

  /**
   * Handles a directive line (`.text`, `.section xdp,"ax",@progbits`,
   * `.globl f`, `.long 1`...): true when the line was one. Directives are
   * skipped, except that section changes decide whether labels belong to
   * code (data sections such as `.maps` or `license` define no code labels).
   */
  private directive(s: string, start: number, end: number): boolean {
    let i = start;
    while (i < end && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 9)) i++;
    if (s.charCodeAt(i) !== 46) return false;
    let j = i + 1;
    while (j < end && isIdentChar(s.charCodeAt(j))) j++;
    let k = j;
    while (k < end && (s.charCodeAt(k) === 32 || s.charCodeAt(k) === 9)) k++;
    if (s.charCodeAt(k) === 58) return false; // `.LBB0_1:` is a label
    const name = s.slice(i, j);
    if (name === '.text') this.inCode = true;
    else if (name === '.data' || name === '.bss' || name === '.rodata') this.inCode = false;
    else if (name === '.section') {
      const args = s.slice(j, end);
      const flags = /"([a-zA-Z]*)"/.exec(args);
      this.inCode = flags ? flags[1]!.includes('x') : /^\s*\.text\b/.test(args);
    }
    return true;
  }

  private defineLabel(name: string, column: number): void {
    if (this.labels.has(name) || this.pendingLabels.includes(name)) this.fail('E_DUPLICATE_LABEL', `label '${name}' is defined twice`, column);
    this.labels.set(name, this.slot);
    this.pendingLabels.push(name);
  }

  private statement(): Instruction {
    const k = this.kind();
    if (k === REG || k === WREG) return this.assignment();
    if (this.isPunct('*')) return this.store();
    if (k !== IDENT) this.fail('E_SYNTAX', `expected an instruction, found ${this.describe()}`);
    const word = this.values[this.at] as string;
    const index = this.out.count;
    switch (word) {
      case 'exit':
        this.at++;
        return ins(EXIT, 0, 0, 0, 0);
      case 'goto':
        this.at++;
        return ins(JA, 0, 0, this.target(index, 'jump16'), 0);
      case 'gotol':
        this.at++;
        return ins(JA32, 0, 0, 0, this.target(index, 'jump32'));
      case 'may_goto':
        this.at++;
        return ins(MAY_GOTO, 0, 0, this.target(index, 'jump16'), 0);
      case 'callx':
        this.at++;
        return ins(CALLX, this.reg(true), 0, 0, 0);
      case 'call':
        this.at++;
        return this.call(index);
      case 'if':
        this.at++;
        return this.conditional(index);
      case 'lock':
        this.at++;
        return this.lock();
      case 'store_release':
        this.at++;
        return this.storeRelease();
      default:
        return this.fail('E_UNKNOWN_MNEMONIC', `unknown instruction '${word}'`);
    }
  }

  private call(index: number): Instruction {
    if (this.isIdent('kfunc') && this.kinds[this.at + 1] === PUNCT && this.values[this.at + 1] === '(') {
      this.at += 2;
      if (this.kind() === IDENT) {
        // A kfunc by name, resolved against kernel BTF by the loader.
        const r = ins(CALL, 0, PseudoCall.KFUNC_CALL, 0, 0);
        r.reference = this.ident('a kernel function name');
        this.expectPunct(')');
        return r;
      }
      const id = this.imm32();
      let off = 0;
      if (this.isPunct(',')) {
        this.at++;
        const column = this.columns[this.at]!;
        const negative = this.isPunct('-');
        if (negative || this.isPunct('+')) this.at++;
        off = this.offset16(negative, column);
      }
      this.expectPunct(')');
      return ins(CALL, 0, PseudoCall.KFUNC_CALL, off, id);
    }
    if (this.kind() === IDENT) {
      const r = ins(CALL, 0, PseudoCall.CALL, 0, this.target(index, 'call'));
      return r;
    }
    // A signed target (`call +3`, `call -1`) is a bpf-to-bpf call; a bare number a helper.
    if (this.isPunct('+') || this.isPunct('-')) return ins(CALL, 0, PseudoCall.CALL, 0, this.target(index, 'jump32'));
    const column = this.columns[this.at];
    const id = this.imm32();
    // The kernel (and the disassembler) refuse a negative helper id: 4294967295 would be one.
    if (id < 0) this.fail('E_IMMEDIATE_RANGE', `helper id ${id >>> 0} is past 2147483647`, column);
    return ins(CALL, 0, PseudoCall.HELPER, 0, id);
  }

  private conditional(index: number): Instruction {
    const [dst, narrow] = this.anyReg();
    if (this.kind() !== PUNCT) this.fail('E_SYNTAX', `expected a comparison, found ${this.describe()}`);
    const op = JMP_OPS[this.value() as string];
    if (op === undefined) this.fail('E_SYNTAX', `unknown comparison '${String(this.value())}'`);
    this.at++;
    const cls = narrow ? Class.JMP32 : Class.JMP;
    let r: Instruction;
    if (this.kind() === REG || this.kind() === WREG) {
      const src = this.reg(!narrow);
      this.expectIdent('goto');
      r = ins(cls | op | Source.X, dst, src, 0, 0);
    } else {
      const imm = this.imm32();
      this.expectIdent('goto');
      r = ins(cls | op | Source.K, dst, 0, 0, imm);
    }
    r.off = this.target(index, 'jump16');
    return r;
  }

  private lock(): Instruction {
    this.expectPunct('*');
    const typeColumn = this.columns[this.at + 1]!;
    const [size] = this.pointerType(false);
    if (size !== Size.W && size !== Size.DW) this.fail('E_SYNTAX', 'atomic operations are 32 or 64 bits wide', typeColumn);
    const [dst, off] = this.address(true);
    const op = this.kind() === PUNCT ? ATOMIC_OPS[this.value() as string] : undefined;
    if (op === undefined) this.fail('E_SYNTAX', `expected one of += |= &= ^=, found ${this.describe()}`);
    this.at++;
    const src = this.reg(size === Size.DW || this.kind() === REG);
    return ins(Class.STX | Mode.ATOMIC | size, dst, src, off, op);
  }

  private storeRelease(): Instruction {
    this.expectPunct('(');
    const [size] = this.pointerType(false);
    const [dst, off] = this.address(true);
    this.expectPunct(',');
    const src = this.reg(size === Size.DW || this.kind() === REG);
    this.expectPunct(')');
    return ins(Class.STX | Mode.ATOMIC | size, dst, src, off, ATOMIC_STORE_REL);
  }

  /** `*(u32 *)(r1 + 0) = r2|w2|imm`. */
  private store(): Instruction {
    this.at++;
    const [size] = this.pointerType(false);
    const [dst, off] = this.address(true);
    this.expectPunct('=');
    const k = this.kind();
    if (k === REG || k === WREG) {
      if (size === Size.DW && k === WREG) this.fail('E_REGISTER', 'a 64-bit store takes an rN register');
      return ins(Class.STX | Mode.MEM | size, dst, this.anyReg()[0], off, 0);
    }
    return ins(Class.ST | Mode.MEM | size, dst, 0, off, this.imm32());
  }

  private assignment(): Instruction {
    const [dst, narrow] = this.anyReg();
    const dstColumn = this.columns[this.at - 1]!;
    if (this.kind() !== PUNCT) this.fail('E_SYNTAX', `expected '=' or an operator, found ${this.describe()}`);
    const opText = this.value() as string;
    this.at++;
    const cls = narrow ? Class.ALU : Class.ALU64;
    if (opText !== '=') {
      const op = ALU_OPS[opText];
      if (op === undefined) this.fail('E_SYNTAX', `unknown operator '${opText}'`, this.columns[this.at - 1]);
      const off = opText.charCodeAt(0) === 115 && op !== AluOp.ARSH ? 1 : 0;
      if (this.kind() === REG || this.kind() === WREG) return ins(cls | op | Source.X, dst, this.reg(!narrow), off, 0);
      return ins(cls | op | Source.K, dst, 0, off, this.imm32());
    }
    const k = this.kind();
    if (k === REG || k === WREG) return ins(cls | AluOp.MOV | Source.X, dst, this.reg(!narrow), 0, 0);
    if (k === NUM || this.isPunct('+')) return this.immediateLoad(dst, narrow, dstColumn);
    if (this.isPunct('-')) {
      const next = this.kinds[this.at + 1];
      if (next === REG || next === WREG) {
        this.at++;
        const column = this.columns[this.at]!;
        if (this.reg(!narrow) !== dst) this.fail('E_SYNTAX', 'neg must name the same register on both sides', column);
        return ins(cls | AluOp.NEG, dst, 0, 0, 0);
      }
      return this.immediateLoad(dst, narrow, dstColumn);
    }
    if (this.isPunct('*')) return this.load(dst, narrow);
    if (this.isPunct('(')) {
      // (s8)rN: sign-extending move
      this.at++;
      const name = this.ident('s8, s16 or s32');
      const size = { s8: 8, s16: 16, s32: 32 }[name];
      if (size === undefined || (size === 32 && narrow)) this.fail('E_SYNTAX', `unknown cast '(${name})'`, this.columns[this.at - 1]);
      this.expectPunct(')');
      return ins(cls | AluOp.MOV | Source.X, dst, this.reg(!narrow), size, 0);
    }
    if (k === IDENT) return this.namedAssignment(dst, narrow, dstColumn);
    return this.fail('E_SYNTAX', `unexpected ${this.describe()}`);
  }

  /** `rN = imm` (mov) or `rN = imm ll` (lddw). */
  private immediateLoad(dst: number, narrow: boolean, dstColumn: number): Instruction {
    const next = this.kinds[this.at] === NUM ? this.at + 1 : this.at + 2;
    if (this.kinds[next] === IDENT && this.values[next] === 'll') {
      if (narrow) this.fail('E_REGISTER', 'lddw loads a 64-bit register rN', dstColumn);
      const column = this.columns[this.at]!;
      const v = this.signedNumber('a constant');
      if (v < -(1n << 63n) || v >= 1n << 64n) this.fail('E_IMMEDIATE_RANGE', `constant ${v} does not fit in 64 bits`, column);
      this.at++;
      return wideLoad(dst, v);
    }
    return ins((narrow ? Class.ALU : Class.ALU64) | AluOp.MOV | Source.K, dst, 0, 0, this.imm32());
  }

  private namedAssignment(dst: number, narrow: boolean, dstColumn: number): Instruction {
    const name = this.values[this.at] as string;
    const nameColumn = this.columns[this.at]!;
    this.at++;
    const swap = SWAPS[name];
    if (swap !== undefined) {
      const column = this.columns[this.at]!;
      if (this.anyReg()[0] !== dst) this.fail('E_SYNTAX', 'a byte swap must name the same register on both sides', column);
      return ins(swap[0], dst, 0, 0, swap[1]);
    }
    const fetchOp = ATOMIC_FETCH[name];
    if (fetchOp !== undefined) {
      this.expectPunct('(');
      const typeColumn = this.columns[this.at + 1]!;
      const [size] = this.pointerType(false);
      if (size !== Size.W && size !== Size.DW) this.fail('E_SYNTAX', 'atomic operations are 32 or 64 bits wide', typeColumn);
      const [base, off] = this.address(true);
      this.expectPunct(',');
      const column = this.columns[this.at]!;
      if (this.anyReg()[0] !== dst) this.fail('E_SYNTAX', 'atomic_fetch must name the same register as its result', column);
      this.expectPunct(')');
      return ins(Class.STX | Mode.ATOMIC | size, base, dst, off, fetchOp | AtomicOp.FETCH);
    }
    if (name === 'xchg_64' || name === 'xchg32_32') {
      const size = name === 'xchg_64' ? Size.DW : Size.W;
      this.expectPunct('(');
      const [base, off] = this.address(false);
      this.expectPunct(',');
      const column = this.columns[this.at]!;
      if (this.anyReg()[0] !== dst) this.fail('E_SYNTAX', 'xchg must name the same register as its result', column);
      this.expectPunct(')');
      return ins(Class.STX | Mode.ATOMIC | size, base, dst, off, AtomicOp.XCHG);
    }
    if (name === 'cmpxchg_64' || name === 'cmpxchg32_32') {
      const size = name === 'cmpxchg_64' ? Size.DW : Size.W;
      if (dst !== 0) this.fail('E_REGISTER', 'cmpxchg always writes r0', dstColumn);
      this.expectPunct('(');
      const [base, off] = this.address(false);
      this.expectPunct(',');
      const column = this.columns[this.at]!;
      if (this.anyReg()[0] !== 0) this.fail('E_REGISTER', 'cmpxchg compares with r0', column);
      this.expectPunct(',');
      const src = this.anyReg()[0];
      this.expectPunct(')');
      return ins(Class.STX | Mode.ATOMIC | size, base, src, off, AtomicOp.CMPXCHG);
    }
    if (name === 'load_acquire') {
      this.expectPunct('(');
      const [size] = this.pointerType(false);
      const [base, off] = this.address(true);
      this.expectPunct(')');
      return ins(Class.STX | Mode.ATOMIC | size, base, dst, off, ATOMIC_LOAD_ACQ);
    }
    if (name === 'addr_space_cast') {
      if (narrow) this.fail('E_REGISTER', 'addr_space_cast works on 64-bit registers', dstColumn);
      this.expectPunct('(');
      const src = this.reg(true);
      this.expectPunct(',');
      const dstAs = this.imm32();
      this.expectPunct(',');
      const srcAs = this.imm32();
      this.expectPunct(')');
      if (dstAs >>> 0 > 0xffff || srcAs >>> 0 > 0xffff) this.fail('E_IMMEDIATE_RANGE', 'address spaces are 16-bit numbers', nameColumn);
      return ins(Class.ALU64 | AluOp.MOV | Source.X, dst, src, ADDR_SPACE_CAST_OFF, (dstAs << 16) | srcAs);
    }
    if (narrow) this.fail('E_REGISTER', 'lddw loads a 64-bit register rN', dstColumn);
    const kind = PSEUDO_KIND.get(name);
    if (kind !== undefined && kind !== 0 && this.isPunct('(')) return this.pseudoLoad(dst, kind);
    // `rN = symbol ll`: a relocation left for the linker.
    this.expectIdent('ll');
    const r = wideLoad(dst, 0n);
    r.reference = name;
    return r;
  }

  /** `rN = map_value(5, 8) ll`, `rN = map_fd(events) ll`, `rN = func(fn) ll`. */
  private pseudoLoad(dst: number, kind: number): Instruction {
    this.expectPunct('(');
    const index = this.out.count;
    let lo = 0;
    let reference: string | undefined;
    if (this.kind() === IDENT) {
      if (kind === PseudoLoad.FUNC) lo = this.target(index, 'func');
      else reference = this.ident('a name');
    } else lo = this.imm32();
    let hi = 0;
    if (this.isPunct(',')) {
      this.at++;
      hi = this.imm32();
    }
    this.expectPunct(')');
    this.expectIdent('ll');
    const r = wideLoad(dst, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0), kind);
    if (reference !== undefined) r.reference = reference;
    return r;
  }

  /** `rN = *(u32 *)(rM + off)`, `rN = *(s8 *)(...)`, `r0 = *(u8 *)skb[...]`. */
  private load(dst: number, narrow: boolean): Instruction {
    this.at++;
    const [size, signed] = this.pointerType(true);
    if (this.isIdent('skb')) {
      this.at++;
      if (dst !== 0 || narrow) this.fail('E_REGISTER', 'packet loads write r0');
      if (size === Size.DW) this.fail('E_SYNTAX', 'packet loads are 8, 16 or 32 bits wide');
      this.expectPunct('[');
      let r: Instruction;
      if (this.kind() === REG) {
        const src = this.reg(true);
        let imm = 0;
        if (this.isPunct('+') || this.isPunct('-')) imm = this.imm32();
        r = ins(Class.LD | Mode.IND | size, 0, src, 0, imm);
      } else {
        r = ins(Class.LD | Mode.ABS | size, 0, 0, 0, this.imm32());
      }
      this.expectPunct(']');
      return r;
    }
    if (signed) {
      if (narrow) this.fail('E_REGISTER', 'sign-extending loads write a 64-bit register rN');
    } else if (size === Size.DW && narrow) this.fail('E_REGISTER', 'a 64-bit load writes an rN register');
    const [src, off] = this.address(true);
    return ins(Class.LDX | (signed ? Mode.MEMSX : Mode.MEM) | size, dst, src, off, 0);
  }

  // ---- labels ----

  private resolve(): void {
    const out = this.out;
    for (const f of this.fixups) {
      const target = this.labels.get(f.label);
      if (target === undefined) {
        if (f.kind === 'call' || f.kind === 'func') {
          out.references.set(f.index, f.label);
          continue;
        }
        throw new AsmError('E_UNKNOWN_LABEL', `unknown label '${f.label}'`, f.position);
      }
      const delta = target - f.slot - 1;
      if (f.kind === 'jump16') {
        if (delta < -0x8000 || delta > 0x7fff) throw new AsmError('E_JUMP_RANGE', `label '${f.label}' is ${delta} slots away, beyond a 16-bit jump (use gotol)`, f.position);
        out.off[f.index] = delta;
      } else {
        out.imm[f.index] = delta;
        out.hi[f.index] = 0;
      }
    }
  }
}

function ins(opcode: number, dst: number, src: number, off: number, imm: number): Instruction {
  return { opcode, dst, src, off, imm };
}

/** Parses LLVM-syntax eBPF assembly. Errors are AsmErrors with file:line:col. */
export function parseLlvm(source: string, file?: string): Instruction[] {
  const parser = new LlvmParser(file);
  return parser.parse(source).toInstructions(parser.fileName);
}

/**
 * Assembles LLVM-syntax text straight to bytes; `instructions` are made
 * only when read (a million objects cost more than the parse).
 */
export function assembleLlvm(source: string, file?: string): { bytes: Uint8Array; readonly instructions: Instruction[] } {
  const parser = new LlvmParser(file);
  const columns = parser.parse(source);
  let instructions: Instruction[] | undefined;
  return {
    bytes: columns.encode(),
    get instructions(): Instruction[] {
      instructions ??= columns.toInstructions(parser.fileName);
      return instructions;
    },
  };
}
