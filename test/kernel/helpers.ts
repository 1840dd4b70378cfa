/** Small helpers shared by the kernel tests (C's part). */
import { instruction, wideLoad, type Instruction } from '../../src/asm/instruction.js';
import { PseudoLoad } from '../../src/asm/opcodes.js';
import { release } from 'node:os';
import { BtfBuilder } from '../../src/btf/index.js';

/** Whether the running kernel is at least major.minor (from uname -r). */
export function kernelAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release());
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

export const u32le = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
export const u64le = (n: bigint | number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(n)), true);
  return b;
};
export const readU32 = (b: Uint8Array, at = 0): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
export const readU64 = (b: Uint8Array, at = 0): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at, true);

export const movImm = (dst: number, imm: number): Instruction => instruction(0xb7, dst, 0, 0, imm);
export const movReg = (dst: number, src: number): Instruction => instruction(0xbf, dst, src);
export const call = (helper: number): Instruction => instruction(0x85, 0, 0, 0, helper);
export const exit = (): Instruction => instruction(0x95);
export const ldMapFd = (dst: number, fd: number): Instruction => wideLoad(dst, fd, PseudoLoad.MAP_FD);

/** `return n` */
export const returnConst = (n: number): Instruction[] => [movImm(0, n), exit()];

/**
 * Tiny BTF for maps that need types: [1] int (4 bytes), [2] long (8 bytes),
 * [3] struct bpf_spin_lock, [4] struct locked { bpf_spin_lock lock; u32 x }.
 */
export function smallBtf(): { bytes: Uint8Array; int: number; long: number; locked: number } {
  const b = new BtfBuilder();
  const int = b.add({ kind: 'int', name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32 });
  const long = b.add({ kind: 'int', name: 'long', size: 8, signed: true, char: false, bool: false, bitOffset: 0, bits: 64 });
  const uint = b.add({ kind: 'int', name: 'unsigned int', size: 4, signed: false, char: false, bool: false, bitOffset: 0, bits: 32 });
  const lock = b.add({ kind: 'struct', name: 'bpf_spin_lock', size: 4, members: [{ name: 'val', type: uint, bitOffset: 0, bitfieldSize: 0 }] });
  const locked = b.add({ kind: 'struct', name: 'locked', size: 8, members: [
    { name: 'lock', type: lock, bitOffset: 0, bitfieldSize: 0 },
    { name: 'x', type: uint, bitOffset: 32, bitfieldSize: 0 },
  ] });
  return { bytes: b.encode(), int, long, locked };
}
