/**
 * The ubpf / bpf_conformance assembler syntax (see the conformance README):
 * `mov32 %r0, 1`, `ldxw %r1, [%r2+4]`, `jne %r0, 0, label`, `lock fetch add [%r10-8], %r1`.
 *
 * Two passes: the first turns each line into an instruction and records
 * labels by slot; the second resolves jump and call targets. As in
 * bpf_conformance, the name `exit` is an implicit label for the first `exit`
 * instruction unless the program defines a label of that name.
 */
import { AsmError, type SourcePosition } from './errors.js';
import { type Instruction, instruction, slotCount, wideLoad } from './instruction.js';
import {
  AluOp,
  AtomicOp,
  CALL,
  CALLX,
  Class,
  EXIT,
  JA,
  JA32,
  Mode,
  PseudoCall,
  Size,
  Source,
} from './opcodes.js';
import { ALU_MNEMONICS, JUMP_MNEMONICS, mnemonic } from './mnemonics.js';

interface Token {
  text: string;
  column: number;
}

/** A jump or call whose target is resolved once all labels are known. */
interface PendingTarget {
  index: number;
  slot: number;
  label: string;
  field: 'off' | 'imm';
  position: SourcePosition;
}

/** ubpf writes register moves as an ALU operation too. */
const ALU_OPS: Readonly<Record<string, readonly [op: number, off: number]>> = { ...ALU_MNEMONICS, mov: [AluOp.MOV, 0] };

const SIZES: Record<string, number> = { b: Size.B, h: Size.H, w: Size.W, dw: Size.DW };

const ATOMIC_OPS: Record<string, number> = {
  add: AtomicOp.ADD,
  and: AtomicOp.AND,
  or: AtomicOp.OR,
  xor: AtomicOp.XOR,
  xchg: AtomicOp.XCHG,
  cmpxchg: AtomicOp.CMPXCHG,
};

/** movsx<from><to>: sign-extend from 8/16/32 bits, in the 32- or 64-bit class. */
const MOVSX = /^movsx(8|16|32)(32|64)$/;
const BYTE_ORDER = /^(be|le|bswap|swap)(16|32|64)$/;
const LABEL_NAME = /^[A-Za-z_.$][\w.$]*$/;
const TOKEN = /\[[^\]]*\]?|[^\s,[]+/g;

/** Assembles ubpf-syntax text into instructions (lddw is one two-slot Instruction). */
export function parseUbpf(source: string, file?: string): Instruction[] {
  return new UbpfParser(source, file).parse();
}

class UbpfParser {
  private readonly out: Instruction[] = [];
  private readonly labels = new Map<string, number>();
  private readonly pending: PendingTarget[] = [];
  private slot = 0;
  private firstExitSlot: number | undefined;
  private line = 0;

  constructor(
    private readonly source: string,
    private readonly file?: string,
  ) {}

  parse(): Instruction[] {
    const lines = this.source.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      this.line = i + 1;
      this.parseLine(lines[i]!);
    }
    this.resolveTargets();
    return this.out;
  }

  private at(column: number): SourcePosition {
    return this.file === undefined ? { line: this.line, column } : { file: this.file, line: this.line, column };
  }

  private fail(code: string, message: string, column: number): never {
    throw new AsmError(code, message, this.at(column));
  }

  private parseLine(raw: string): void {
    const hash = raw.indexOf('#');
    const text = hash >= 0 ? raw.slice(0, hash) : raw;
    const tokens: Token[] = [];
    for (const m of text.matchAll(TOKEN)) tokens.push({ text: m[0], column: m.index + 1 });
    // Leading labels: `name:` (possibly several, possibly followed by an instruction).
    while (tokens.length > 0 && tokens[0]!.text.endsWith(':')) {
      const t = tokens.shift()!;
      const name = t.text.slice(0, -1);
      if (!LABEL_NAME.test(name)) this.fail('E_SYNTAX', `invalid label name '${name}'`, t.column);
      if (this.labels.has(name)) this.fail('E_DUPLICATE_LABEL', `label '${name}' is already defined`, t.column);
      this.labels.set(name, this.slot);
    }
    if (tokens.length === 0) return;
    const ins = this.parseInstruction(tokens[0]!, tokens.slice(1));
    ins.source = { file: this.file ?? '<input>', line: this.line, column: tokens[0]!.column, text: raw.trim() };
    if (ins.opcode === EXIT && this.firstExitSlot === undefined) this.firstExitSlot = this.slot;
    this.out.push(ins);
    this.slot += slotCount(ins);
  }

  private expectOperands(mnemonic: Token, ops: Token[], count: number): void {
    if (ops.length !== count) {
      const last = ops.length > 0 ? ops[ops.length - 1]! : mnemonic;
      const where = ops.length > count ? ops[count]!.column : last.column + last.text.length;
      this.fail('E_OPERANDS', `'${mnemonic.text}' takes ${count} operand${count === 1 ? '' : 's'}, got ${ops.length}`, where);
    }
  }

  private parseInstruction(mn: Token, ops: Token[]): Instruction {
    const name = mn.text.toLowerCase();

    if (name === 'exit') {
      this.expectOperands(mn, ops, 0);
      return instruction(EXIT);
    }
    if (name === 'lddw') {
      this.expectOperands(mn, ops, 2);
      return wideLoad(this.register(ops[0]!), this.imm64(ops[1]!));
    }
    if (name === 'neg' || name === 'neg32' || name === 'neg64') {
      this.expectOperands(mn, ops, 1);
      const cls = name === 'neg32' ? Class.ALU : Class.ALU64;
      return instruction(cls | AluOp.NEG | Source.K, this.register(ops[0]!));
    }
    const order = BYTE_ORDER.exec(name);
    if (order) {
      this.expectOperands(mn, ops, 1);
      const kind = order[1]!;
      const opcode =
        kind === 'be' ? Class.ALU | AluOp.END | Source.X : kind === 'le' ? Class.ALU | AluOp.END | Source.K : Class.ALU64 | AluOp.END;
      return instruction(opcode, this.register(ops[0]!), 0, 0, Number(order[2]));
    }
    const movsx = MOVSX.exec(name);
    if (movsx) {
      this.expectOperands(mn, ops, 2);
      const from = Number(movsx[1]);
      const to = Number(movsx[2]);
      if (from >= to) this.fail('E_UNKNOWN_MNEMONIC', `unknown mnemonic '${mn.text}'`, mn.column);
      const cls = to === 32 ? Class.ALU : Class.ALU64;
      return instruction(cls | AluOp.MOV | Source.X, this.register(ops[0]!), this.register(ops[1]!), from);
    }
    const alu = /^([a-z]+?)(32|64)?$/.exec(name);
    const aluOp = alu ? mnemonic(ALU_OPS, alu[1]!) : undefined;
    if (alu && aluOp) {
      this.expectOperands(mn, ops, 2);
      const [op, signed] = aluOp;
      const cls = alu[2] === '32' ? Class.ALU : Class.ALU64;
      const dst = this.register(ops[0]!);
      if (this.isRegister(ops[1]!)) {
        return instruction(cls | op | Source.X, dst, this.register(ops[1]!), signed);
      }
      return instruction(cls | op | Source.K, dst, 0, signed, this.imm32(ops[1]!));
    }
    const load = /^ldx(s?)(b|h|w|dw)$/.exec(name);
    if (load) {
      this.expectOperands(mn, ops, 2);
      if (load[1] && load[2] === 'dw') this.fail('E_UNKNOWN_MNEMONIC', `unknown mnemonic '${mn.text}'`, mn.column);
      const mode = load[1] ? Mode.MEMSX : Mode.MEM;
      const [src, off] = this.memory(ops[1]!);
      return instruction(Class.LDX | SIZES[load[2]!]! | mode, this.register(ops[0]!), src, off);
    }
    const store = /^st(x?)(b|h|w|dw)$/.exec(name);
    if (store) {
      this.expectOperands(mn, ops, 2);
      const [dst, off] = this.memory(ops[0]!);
      if (store[1]) return instruction(Class.STX | SIZES[store[2]!]! | Mode.MEM, dst, this.register(ops[1]!), off);
      return instruction(Class.ST | SIZES[store[2]!]! | Mode.MEM, dst, 0, off, this.imm32(ops[1]!));
    }
    const packet = /^ld(abs|ind)(b|h|w|dw)$/.exec(name);
    if (packet) {
      const mode = packet[1] === 'abs' ? Mode.ABS : Mode.IND;
      if (mode === Mode.ABS) {
        this.expectOperands(mn, ops, 1);
        return instruction(Class.LD | SIZES[packet[2]!]! | mode, 0, 0, 0, this.imm32(ops[0]!));
      }
      this.expectOperands(mn, ops, 2);
      return instruction(Class.LD | SIZES[packet[2]!]! | mode, 0, this.register(ops[0]!), 0, this.imm32(ops[1]!));
    }
    if (name === 'lock') return this.atomic(mn, ops);
    if (name === 'call') return this.call(mn, ops);
    if (name === 'ja' || name === 'ja32') {
      this.expectOperands(mn, ops, 1);
      const wide = name === 'ja32';
      const ins = instruction(wide ? JA32 : JA);
      this.target(ins, ops[0]!, wide ? 'imm' : 'off');
      return ins;
    }
    const jump = /^([a-z]+?)(32)?$/.exec(name);
    const jumpOp = jump ? mnemonic(JUMP_MNEMONICS, jump[1]!) : undefined;
    if (jump && jumpOp !== undefined) {
      this.expectOperands(mn, ops, 3);
      const cls = jump[2] ? Class.JMP32 : Class.JMP;
      const dst = this.register(ops[0]!);
      const ins = this.isRegister(ops[1]!)
        ? instruction(cls | jumpOp | Source.X, dst, this.register(ops[1]!))
        : instruction(cls | jumpOp | Source.K, dst, 0, 0, this.imm32(ops[1]!));
      this.target(ins, ops[2]!, 'off');
      return ins;
    }
    return this.fail('E_UNKNOWN_MNEMONIC', `unknown mnemonic '${mn.text}'`, mn.column);
  }

  /** `lock [fetch] op[32] [%rd+off], %rs`. */
  private atomic(mn: Token, ops: Token[]): Instruction {
    let rest = ops;
    let fetch = false;
    if (rest[0]?.text.toLowerCase() === 'fetch') {
      fetch = true;
      rest = rest.slice(1);
    }
    const opToken = rest[0];
    if (!opToken) return this.fail('E_OPERANDS', `'lock' needs an operation`, mn.column + mn.text.length);
    const m = /^([a-z]+?)(32|64)?$/.exec(opToken.text.toLowerCase());
    const op = m ? ATOMIC_OPS[m[1]!] : undefined;
    if (!m || op === undefined) return this.fail('E_UNKNOWN_MNEMONIC', `unknown atomic operation '${opToken.text}'`, opToken.column);
    this.expectOperands(opToken, rest.slice(1), 2);
    if (fetch && (op === AtomicOp.XCHG || op === AtomicOp.CMPXCHG)) {
      this.fail('E_SYNTAX', `'${m[1]}' always fetches; drop 'fetch'`, opToken.column);
    }
    const size = m[2] === '32' ? Size.W : Size.DW;
    const [dst, off] = this.memory(rest[1]!);
    return instruction(Class.STX | size | Mode.ATOMIC, dst, this.register(rest[2]!), off, op | (fetch ? AtomicOp.FETCH : 0));
  }

  /** The kernel (and the disassembler) refuse a negative helper id: 4294967295 would be one. */
  private helperCall(t: Token): Instruction {
    const id = this.imm32(t);
    if (id < 0) this.fail('E_IMM_RANGE', `helper id ${id >>> 0} is past 2147483647`, t.column);
    return instruction(CALL, 0, PseudoCall.HELPER, 0, id);
  }

  /** `call N` / `call helper N` (helper), `call local label`, `call runtime N` (kfunc), `call %rN` (callx). */
  private call(mn: Token, ops: Token[]): Instruction {
    if (ops.length === 1 && this.isRegister(ops[0]!)) return instruction(CALLX, this.register(ops[0]!));
    if (ops.length === 1 && !/^(local|helper|runtime|kfunc)$/i.test(ops[0]!.text)) return this.helperCall(ops[0]!);
    this.expectOperands(mn, ops, 2);
    const mode = ops[0]!.text.toLowerCase();
    if (mode === 'local') {
      const ins = instruction(CALL, 0, PseudoCall.CALL);
      this.target(ins, ops[1]!, 'imm');
      return ins;
    }
    if (mode === 'helper') {
      if (this.isRegister(ops[1]!)) return instruction(CALLX, this.register(ops[1]!));
      return this.helperCall(ops[1]!);
    }
    if (mode === 'runtime' || mode === 'kfunc') return instruction(CALL, 0, PseudoCall.KFUNC_CALL, 0, this.imm32(ops[1]!));
    return this.fail('E_SYNTAX', `unknown call kind '${ops[0]!.text}' (expected local, helper or runtime)`, ops[0]!.column);
  }

  private target(ins: Instruction, t: Token, field: 'off' | 'imm'): void {
    const c = t.text[0];
    if (c === '+' || c === '-') {
      const n = this.integer(t);
      this.setTarget(ins, field, n, t.column);
      return;
    }
    if (!LABEL_NAME.test(t.text)) this.fail('E_SYNTAX', `expected a label or +N/-N, got '${t.text}'`, t.column);
    ins.reference = t.text;
    this.pending.push({ index: this.out.length, slot: this.slot, label: t.text, field, position: this.at(t.column) });
  }

  private setTarget(ins: Instruction, field: 'off' | 'imm', n: bigint, column: number, position?: SourcePosition): void {
    const limit = field === 'off' ? 0x8000n : 0x80000000n;
    if (n < -limit || n >= limit) {
      const message = `jump of ${n} slots does not fit in a ${field === 'off' ? 16 : 32}-bit offset`;
      if (position) throw new AsmError('E_JUMP_RANGE', message, position);
      this.fail('E_JUMP_RANGE', message, column);
    }
    ins[field] = Number(n);
  }

  private resolveTargets(): void {
    for (const p of this.pending) {
      let target = this.labels.get(p.label);
      if (target === undefined && p.label === 'exit') target = this.firstExitSlot;
      if (target === undefined) throw new AsmError('E_UNKNOWN_LABEL', `unknown label '${p.label}'`, p.position);
      const ins = this.out[p.index]!;
      this.setTarget(ins, p.field, BigInt(target - p.slot - 1), p.position.column, p.position);
      delete ins.reference;
    }
  }

  private isRegister(t: Token): boolean {
    return t.text.startsWith('%');
  }

  private register(t: Token): number {
    const m = /^%r(\d+)$/i.exec(t.text);
    if (!m) this.fail('E_REGISTER', `expected a register %r0..%r10, got '${t.text}'`, t.column);
    const n = Number(m[1]);
    if (n > 10) this.fail('E_REGISTER', `register %r${m[1]} out of range (%r0..%r10)`, t.column);
    return n;
  }

  /** A signed decimal or (optionally signed) hex integer. */
  private integer(t: Token, text = t.text, column = t.column): bigint {
    const m = /^([+-]?)(0x[0-9a-f]+|\d+)$/i.exec(text);
    if (!m) this.fail('E_SYNTAX', `expected an integer, got '${text}'`, column);
    const v = BigInt(m[2]!);
    return m[1] === '-' ? -v : v;
  }

  /** A 32-bit immediate: -2^31 .. 2^32-1 (hex above 0x7fffffff wraps to negative). */
  private imm32(t: Token): number {
    const v = this.integer(t);
    if (v < -0x80000000n || v > 0xffffffffn) this.fail('E_IMM_RANGE', `immediate ${t.text} does not fit in 32 bits`, t.column);
    return Number(BigInt.asIntN(32, v));
  }

  private imm64(t: Token): bigint {
    const v = this.integer(t);
    if (v < -(1n << 63n) || v >= 1n << 64n) this.fail('E_IMM_RANGE', `immediate ${t.text} does not fit in 64 bits`, t.column);
    return BigInt.asUintN(64, v);
  }

  /** `[%rN]`, `[%rN+off]`, `[%rN-off]`, spaces allowed inside the brackets. */
  private memory(t: Token): [number, number] {
    const m = /^\[\s*(%\w+)\s*(?:([+-])\s*(\w+)\s*)?\]$/.exec(t.text);
    if (!m) return this.fail('E_SYNTAX', `expected a memory operand [%rN+off], got '${t.text}'`, t.column);
    const reg = this.register({ text: m[1]!, column: t.column + t.text.indexOf(m[1]!) });
    if (m[2] === undefined) return [reg, 0];
    const offColumn = t.column + t.text.indexOf(m[3]!, m[1]!.length);
    const magnitude = this.integer(t, m[3]!, offColumn);
    const off = m[2] === '-' ? -magnitude : magnitude;
    if (off < -0x8000n || off > 0x7fffn) this.fail('E_OFFSET_RANGE', `offset ${m[2]}${m[3]} does not fit in 16 bits`, offColumn);
    return [reg, Number(off)];
  }
}
