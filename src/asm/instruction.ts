import { LDDW } from './opcodes.js';

/** Where an instruction came from in a higher-level source (DSL or assembler text). */
export interface SourceSpan {
  file: string;
  line: number;
  column: number;
  /** The source line's text, for line_info and error frames. */
  text?: string;
}

/**
 * One eBPF instruction. The fields are the encoding's fields; the 64-bit
 * immediate load (opcode 0x18, two slots) is one Instruction whose full
 * constant is `imm64` (unsigned), with `imm` holding its low 32 bits signed.
 *
 * `reference` names something to be resolved later (a label for jumps and
 * bpf-to-bpf calls, a map or function for lddw); `symbol` names a label or
 * function defined at this instruction.
 */
export interface Instruction {
  opcode: number;
  dst: number;
  src: number;
  /** Signed 16-bit offset. */
  off: number;
  /** Signed 32-bit immediate. */
  imm: number;
  /** Full constant of lddw, as an unsigned 64-bit value. */
  imm64?: bigint;
  reference?: string;
  symbol?: string;
  /** The subprogram a bpf-to-bpf call or a PSEUDO_FUNC lddw names, until it is linked (its imm resolved). */
  callee?: string;
  source?: SourceSpan;
  /** Index of the CO-RE relocation (in its compiler's table) whose value this instruction's imm carries. */
  coreRelocation?: number;
}

/** Number of 8-byte slots an instruction occupies. */
export const slotCount = (ins: Instruction): number => (ins.opcode === LDDW ? 2 : 1);

/** The slot each instruction starts at (lddw takes two), then the slots of all of them. */
export function slotOffsets(code: readonly Instruction[]): number[] {
  const out: number[] = [];
  let slots = 0;
  for (const ins of code) {
    out.push(slots);
    slots += slotCount(ins);
  }
  out.push(slots);
  return out;
}

/** Makes a plain instruction with the numeric fields normalised. */
export function instruction(opcode: number, dst = 0, src = 0, off = 0, imm = 0): Instruction {
  return { opcode: opcode & 0xff, dst: dst & 0xf, src: src & 0xf, off: (off << 16) >> 16, imm: imm | 0 };
}

/** Makes a 64-bit immediate load (`lddw`); `src` selects the pseudo kind. */
export function wideLoad(dst: number, value: bigint | number, src = 0): Instruction {
  const imm64 = BigInt.asUintN(64, BigInt(value));
  return { opcode: LDDW, dst: dst & 0xf, src: src & 0xf, off: 0, imm: Number(BigInt.asIntN(32, imm64)), imm64 };
}
