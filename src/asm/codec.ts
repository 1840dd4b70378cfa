import { AsmError } from './errors.js';
import { type Instruction, slotCount } from './instruction.js';
import { LDDW, SLOT_SIZE } from './opcodes.js';

/** Total size in bytes of a program's instructions. */
export function byteLength(insns: readonly Instruction[]): number {
  let slots = 0;
  for (const ins of insns) slots += slotCount(ins);
  return slots * SLOT_SIZE;
}

/** Encodes instructions into little-endian 8-byte slots. */
export function encode(insns: readonly Instruction[]): Uint8Array {
  const out = new Uint8Array(byteLength(insns));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const ins of insns) {
    at = encodeInto(view, at, ins);
  }
  return out;
}

/** Encodes one instruction at byte offset `at`; returns the next offset. */
export function encodeInto(view: DataView, at: number, ins: Instruction): number {
  view.setUint8(at, ins.opcode);
  view.setUint8(at + 1, ((ins.src & 0xf) << 4) | (ins.dst & 0xf));
  view.setInt16(at + 2, ins.off, true);
  if (ins.opcode === LDDW) {
    const v = ins.imm64 ?? BigInt.asUintN(64, BigInt(ins.imm));
    view.setUint32(at + 4, Number(v & 0xffffffffn), true);
    view.setUint32(at + 8, 0, true);
    view.setUint32(at + 12, Number(v >> 32n), true);
    return at + 2 * SLOT_SIZE;
  }
  view.setInt32(at + 4, ins.imm, true);
  return at + SLOT_SIZE;
}

/**
 * Decodes little-endian 8-byte slots into instructions. A trailing partial
 * slot, or an lddw missing its second slot, is an AsmError naming the slot.
 */
export function decode(bytes: Uint8Array): Instruction[] {
  if (bytes.length % SLOT_SIZE !== 0) {
    throw new AsmError('E_TRUNCATED', `program is ${bytes.length} bytes, not a multiple of ${SLOT_SIZE}`, undefined, Math.floor(bytes.length / SLOT_SIZE));
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Instruction[] = [];
  const slots = bytes.length / SLOT_SIZE;
  for (let slot = 0; slot < slots; slot++) {
    const at = slot * SLOT_SIZE;
    const opcode = view.getUint8(at);
    const regs = view.getUint8(at + 1);
    const off = view.getInt16(at + 2, true);
    const imm = view.getInt32(at + 4, true);
    if (opcode === LDDW) {
      if (slot + 1 >= slots) throw new AsmError('E_TRUNCATED', 'lddw is missing its second slot', undefined, slot);
      const hi = view.getUint32(at + 12, true);
      const imm64 = (BigInt(hi) << 32n) | BigInt(imm >>> 0);
      out.push({ opcode, dst: regs & 0xf, src: regs >> 4, off, imm, imm64 });
      slot++;
    } else {
      out.push({ opcode, dst: regs & 0xf, src: regs >> 4, off, imm });
    }
  }
  return out;
}
