/**
 * Patching an instruction with a CO-RE result, as libbpf does. Structural
 * instruction type so that src/btf needs nothing from src/asm; src/asm's
 * Instruction fits it.
 */
import { BtfError } from '../errors.js';
import type { CoreResult } from './resolve.js';

export interface CoreInsn {
  opcode: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** For lddw (opcode 0x18): the full 64-bit constant. */
  imm64?: bigint;
}

/** `call 0xbad2310`: an unknown helper id the verifier reports only if reached. */
export const POISON_HELPER_ID = 195896080;
const CALL = 0x85;
const LDDW = 0x18;

const CLASS_LD = 0x00;
const CLASS_LDX = 0x01;
const CLASS_ST = 0x02;
const CLASS_STX = 0x03;
const CLASS_ALU = 0x04;
const CLASS_ALU64 = 0x07;
const SIZE_BYTES: Record<number, number> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };
const BYTES_SIZE: Record<number, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };

function fail(msg: string, slot?: number): BtfError {
  return new BtfError('CORE_PATCH', slot === undefined ? msg : `insn #${slot}: ${msg}`, { section: '.BTF.ext core_relo' });
}

const poisonCall = <T extends CoreInsn>(insn: T): T => {
  const { imm64: _drop, ...rest } = insn;
  void _drop;
  return { ...rest, opcode: CALL, dst: 0, src: 0, off: 0, imm: POISON_HELPER_ID } as T;
};

/**
 * Returns the instruction(s) replacing `insn`. A poisoned lddw becomes two
 * poison calls so that the slot count (and every jump offset) is unchanged;
 * every other case returns one instruction. `slot` is only for messages.
 */
export function applyCoreRelocation<T extends CoreInsn>(insn: T, result: CoreResult, slot?: number): T[] {
  const poison = () => (insn.opcode === LDDW ? [poisonCall(insn), poisonCall(insn)] : [poisonCall(insn)]);
  if (result.poison) return poison();
  const cls = insn.opcode & 0x07;
  const orig = result.localValue;
  const next = result.targetValue;
  switch (cls) {
    case CLASS_ALU:
    case CLASS_ALU64: {
      if ((insn.opcode & 0x08) !== 0) throw fail(`${result.path}: ALU instruction does not use an immediate`, slot);
      if (result.validate && BigInt(insn.imm >>> 0) !== BigInt.asUintN(32, orig) && BigInt(insn.imm) !== orig)
        throw fail(`${result.path}: unexpected ALU immediate ${insn.imm}, expected ${orig}`, slot);
      return [{ ...insn, imm: Number(BigInt.asIntN(32, next)) }];
    }
    case CLASS_LDX:
    case CLASS_ST:
    case CLASS_STX: {
      if (result.validate && BigInt(insn.off) !== orig) throw fail(`${result.path}: unexpected memory offset ${insn.off}, expected ${orig}`, slot);
      if (next > 0x7fffn) throw fail(`${result.path}: offset ${next} does not fit in 16 bits`, slot);
      if (result.failMemSizeAdjust) return poison();
      let opcode = insn.opcode;
      if (result.targetSize !== result.localSize) {
        const have = SIZE_BYTES[insn.opcode & 0x18]!;
        if (have !== result.localSize) throw fail(`${result.path}: unexpected memory size ${have}, expected ${result.localSize}`, slot);
        const size = BYTES_SIZE[result.targetSize];
        if (size === undefined) throw fail(`${result.path}: invalid new memory size ${result.targetSize}`, slot);
        opcode = (insn.opcode & 0xe0) | size | cls;
      }
      return [{ ...insn, opcode, off: Number(next) }];
    }
    case CLASS_LD: {
      if (insn.opcode !== LDDW || insn.src !== 0 || insn.off !== 0) throw fail(`${result.path}: lddw has an unexpected form`, slot);
      const cur = insn.imm64 ?? BigInt.asUintN(64, BigInt(insn.imm));
      if (result.validate && cur !== BigInt.asUintN(64, orig)) throw fail(`${result.path}: unexpected lddw value ${cur}, expected ${orig}`, slot);
      const imm64 = BigInt.asUintN(64, next);
      return [{ ...insn, imm: Number(BigInt.asIntN(32, imm64)), imm64 }];
    }
    default:
      throw fail(`${result.path}: cannot relocate opcode 0x${insn.opcode.toString(16)}`, slot);
  }
}
