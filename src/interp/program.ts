/**
 * A program decoded once into parallel typed arrays, one entry per slot, so
 * the execution loop reads plain numbers instead of objects.
 */
import { LDDW, SLOT_SIZE } from '../asm/opcodes.js';
import { InterpError } from './errors.js';

export interface DecodedProgram {
  readonly length: number;
  readonly opcode: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int16Array;
  readonly imm: Int32Array;
  /**
   * The immediate as an unsigned 64-bit value: imm sign-extended, or the full
   * constant for lddw (whose second slot has opcode 0, which never executes).
   */
  readonly imm64: BigUint64Array;
  /** `off` as a bigint, for address arithmetic. */
  readonly offBig: BigInt64Array;
  /** For lddw: the second slot's imm (the map value offset of pseudo loads). */
  readonly immHigh: Int32Array;
}

export function decodeProgram(bytes: Uint8Array): DecodedProgram {
  if (bytes.length % SLOT_SIZE !== 0) {
    throw new InterpError('E_DECODE', `program is ${bytes.length} bytes, not a multiple of ${SLOT_SIZE} (slot ${Math.floor(bytes.length / SLOT_SIZE)} is truncated)`);
  }
  const n = bytes.length / SLOT_SIZE;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const p = {
    length: n,
    opcode: new Uint8Array(n),
    dst: new Uint8Array(n),
    src: new Uint8Array(n),
    off: new Int16Array(n),
    imm: new Int32Array(n),
    imm64: new BigUint64Array(n),
    offBig: new BigInt64Array(n),
    immHigh: new Int32Array(n),
  };
  for (let i = 0; i < n; i++) {
    const at = i * SLOT_SIZE;
    const op = view.getUint8(at);
    const regs = view.getUint8(at + 1);
    p.opcode[i] = op;
    p.dst[i] = regs & 0xf;
    p.src[i] = regs >> 4;
    p.off[i] = view.getInt16(at + 2, true);
    p.offBig[i] = BigInt(p.off[i]!);
    p.imm[i] = view.getInt32(at + 4, true);
    p.imm64[i] = BigInt(p.imm[i]!);
    if (op === LDDW) {
      if (i + 1 >= n) throw new InterpError('E_DECODE', `slot ${i}: lddw is missing its second slot`, i);
      const hi = view.getInt32(at + 12, true);
      p.immHigh[i] = hi;
      p.imm64[i] = (BigInt(hi >>> 0) << 32n) | BigInt(p.imm[i]! >>> 0);
      i++; // the second slot stays all zero: opcode 0 is invalid if jumped to
    }
  }
  return p;
}
