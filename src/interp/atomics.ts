/** The atomic instructions (BPF_STX | BPF_ATOMIC): read-modify-write ops, xchg, cmpxchg, load-acquire, store-release. */
import { AtomicOp } from '../asm/opcodes.js';
import type { Memory } from './memory.js';

/** Atomic read-modify-write on 4 or 8 bytes, plus load-acquire / store-release. */
export function atomic(
  memory: Memory,
  R: BigUint64Array,
  pc: number,
  imm: number,
  off: bigint,
  size: number,
  d: number,
  s: number,
  invalid: (why?: string) => never,
): void {
  // r10 is read-only: load-acquire writes dst, the fetching forms (not cmpxchg, which writes r0) write src.
  if (imm === LOAD_ACQUIRE ? d === 10 : (imm & AtomicOp.FETCH) !== 0 && imm !== AtomicOp.CMPXCHG && s === 10) invalid('r10 is read-only');
  if (imm === LOAD_ACQUIRE) {
    // dst = *(src + off): the one atomic that reads through src.
    R[d] = memory.load(R[s]! + off, size, pc);
    return;
  }
  const addr = R[d]! + off;
  if (imm === STORE_RELEASE) {
    memory.store(addr, size, R[s]!, pc);
    return;
  }
  if (size !== 4 && size !== 8) invalid('atomic read-modify-write needs a 32- or 64-bit size');
  const mask = size === 8 ? 0xffffffffffffffffn : 0xffffffffn;
  const old = memory.load(addr, size, pc);
  const operand = R[s]! & mask;
  const op = imm & ~AtomicOp.FETCH;
  let next: bigint;
  switch (imm) {
    case AtomicOp.XCHG:
      memory.store(addr, size, operand, pc);
      R[s] = old;
      return;
    case AtomicOp.CMPXCHG:
      if ((R[0]! & mask) === old) memory.store(addr, size, operand, pc);
      R[0] = old;
      return;
    default:
      if (op === AtomicOp.ADD) next = old + operand;
      else if (op === AtomicOp.OR) next = old | operand;
      else if (op === AtomicOp.AND) next = old & operand;
      else if (op === AtomicOp.XOR) next = old ^ operand;
      else return invalid(`unknown atomic operation 0x${imm.toString(16)}`);
  }
  memory.store(addr, size, next, pc);
  if (imm & AtomicOp.FETCH) R[s] = old;
}

/** Kernel atomic modes beyond RFC 9669 (BPF_LOAD_ACQ, BPF_STORE_REL). */
const LOAD_ACQUIRE = 0x100;
const STORE_RELEASE = 0x110;
