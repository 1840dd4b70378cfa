/**
 * A program as columns of typed arrays instead of one object per
 * instruction. The text assembler fills it; a million instructions then
 * encode without a million long-lived objects for the garbage collector to
 * copy, and `Instruction` objects are made only when someone asks for them.
 */
import type { Instruction } from './instruction.js';
import { LDDW, SLOT_SIZE } from './opcodes.js';

const LDDW_OPCODE = LDDW;
const SLOT = SLOT_SIZE;

export class InstructionColumns {
  count = 0;
  slots = 0;
  opcode = new Uint8Array(256);
  dst = new Uint8Array(256);
  src = new Uint8Array(256);
  off = new Int16Array(256);
  /** imm, or the low half of an lddw constant. */
  imm = new Int32Array(256);
  /** The high half of an lddw constant. */
  hi = new Int32Array(256);
  line = new Int32Array(256);
  column = new Int32Array(256);
  readonly references = new Map<number, string>();
  readonly symbols = new Map<number, string>();

  private grow(): void {
    const n = this.opcode.length * 2;
    const grown = <T extends Uint8Array | Int16Array | Int32Array>(a: T, make: new (n: number) => T): T => {
      const b = new make(n);
      b.set(a);
      return b;
    };
    this.opcode = grown(this.opcode, Uint8Array);
    this.dst = grown(this.dst, Uint8Array);
    this.src = grown(this.src, Uint8Array);
    this.off = grown(this.off, Int16Array);
    this.imm = grown(this.imm, Int32Array);
    this.hi = grown(this.hi, Int32Array);
    this.line = grown(this.line, Int32Array);
    this.column = grown(this.column, Int32Array);
  }

  /** Appends an instruction; returns its index. */
  push(ins: Instruction, line: number, column: number): number {
    const i = this.count++;
    if (i === this.opcode.length) this.grow();
    this.opcode[i] = ins.opcode;
    this.dst[i] = ins.dst;
    this.src[i] = ins.src;
    this.off[i] = ins.off;
    if (ins.opcode === LDDW_OPCODE && ins.imm64 !== undefined) {
      this.imm[i] = Number(BigInt.asIntN(32, ins.imm64));
      this.hi[i] = Number(BigInt.asIntN(32, ins.imm64 >> 32n));
    } else this.imm[i] = ins.imm;
    this.line[i] = line;
    this.column[i] = column;
    if (ins.reference !== undefined) this.references.set(i, ins.reference);
    if (ins.symbol !== undefined) this.symbols.set(i, ins.symbol);
    this.slots += ins.opcode === LDDW_OPCODE ? 2 : 1;
    return i;
  }

  /** Instruction `i` as an object, with its source span when `file` is given. */
  instruction(i: number, file?: string): Instruction {
    const opcode = this.opcode[i]!;
    const ins: Instruction = { opcode, dst: this.dst[i]!, src: this.src[i]!, off: this.off[i]!, imm: this.imm[i]! };
    if (opcode === LDDW_OPCODE) ins.imm64 = (BigInt(this.hi[i]! >>> 0) << 32n) | BigInt(this.imm[i]! >>> 0);
    const reference = this.references.get(i);
    if (reference !== undefined) ins.reference = reference;
    const symbol = this.symbols.get(i);
    if (symbol !== undefined) ins.symbol = symbol;
    if (file !== undefined) ins.source = { file, line: this.line[i]!, column: this.column[i]! };
    return ins;
  }

  toInstructions(file?: string): Instruction[] {
    const out: Instruction[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.instruction(i, file);
    return out;
  }

  /** Little-endian 8-byte slots, as `encode` makes them. */
  encode(): Uint8Array {
    const out = new Uint8Array(this.slots * SLOT);
    const view = new DataView(out.buffer);
    let at = 0;
    for (let i = 0; i < this.count; i++) {
      const opcode = this.opcode[i]!;
      out[at] = opcode;
      out[at + 1] = (this.src[i]! << 4) | this.dst[i]!;
      view.setInt16(at + 2, this.off[i]!, true);
      view.setInt32(at + 4, this.imm[i]!, true);
      at += SLOT;
      if (opcode === LDDW_OPCODE) {
        view.setInt32(at + 4, this.hi[i]!, true);
        at += SLOT;
      }
    }
    return out;
  }
}
