/**
 * Runs a conformance-style program in the kernel (tsbpf exec --engine
 * kernel): the test program becomes a bpf-to-bpf subprogram of a small XDP
 * entry program, which stores the 64-bit r0 into an array map value and
 * returns. With `mem`, the packet is the memory: the entry proves the
 * packet is long enough (so the verifier lets the test read and write it)
 * and passes the packet pointer and length in r1/r2; without it r1 = r2 = 0.
 */
import { instruction, slotOffsets, wideLoad, type Instruction } from '../asm/instruction.js';
import { Class, JmpOp, Mode, PseudoCall, PseudoLoad, Size, Source, AluOp } from '../asm/opcodes.js';
import { BpfMap } from '../kernel/map.js';
import { Program } from '../kernel/program.js';

/** XDP refuses packets shorter than an Ethernet header. */
const MIN_PACKET = 14;
/** The verifier tracks packet ranges up to this length. */
const MAX_PACKET = 0xffff;

const ldxw = (dst: number, src: number, off: number): Instruction => instruction(Class.LDX | Size.W | Mode.MEM, dst, src, off);
const stxdw = (dst: number, src: number, off: number): Instruction => instruction(Class.STX | Size.DW | Mode.MEM, dst, src, off);
const mov64Reg = (dst: number, src: number): Instruction => instruction(Class.ALU64 | AluOp.MOV | Source.X, dst, src);
const mov64Imm = (dst: number, imm: number): Instruction => instruction(Class.ALU64 | AluOp.MOV | Source.K, dst, 0, 0, imm);
const add64Imm = (dst: number, imm: number): Instruction => instruction(Class.ALU64 | AluOp.ADD | Source.K, dst, 0, 0, imm);
const jgtReg = (dst: number, src: number, off: number): Instruction => instruction(Class.JMP | JmpOp.JGT | Source.X, dst, src, off);
const exit = (): Instruction => instruction(Class.JMP | JmpOp.EXIT);

/** Slots taken by a list of instructions. */
const slots = (insns: readonly Instruction[]): number => slotOffsets(insns).at(-1)!;

/** The entry program around `test`, storing r0 through a direct pointer into `result`'s value. */
export function wrapForKernel(test: readonly Instruction[], resultMapFd: number, memLength: number | undefined): Instruction[] {
  // r6 (callee-saved) = &result[0]: direct value access, so the entry needs no stack.
  const head: Instruction[] = [wideLoad(6, BigInt(resultMapFd), PseudoLoad.MAP_VALUE)];
  const tail: Instruction[] = [stxdw(6, 0, 0), mov64Imm(0, 2), exit()];
  if (memLength !== undefined) {
    head.push(
      ldxw(2, 1, 0), // r2 = ctx->data
      ldxw(3, 1, 4), // r3 = ctx->data_end
      mov64Reg(4, 2),
      add64Imm(4, memLength),
    );
    // if (data + len > data_end) skip the test: jump to `r0 = 2` in the tail.
    const afterJump: Instruction[] = [mov64Reg(1, 2), mov64Imm(2, memLength)];
    const callAt = 1; // the call follows afterJump
    head.push(jgtReg(4, 3, slots(afterJump) + callAt + 1), ...afterJump);
  } else {
    head.push(mov64Imm(1, 0), mov64Imm(2, 0));
  }
  // call local: imm counts slots from the next instruction to the test's first.
  const call = instruction(Class.JMP | JmpOp.CALL, 0, PseudoCall.CALL, 0, slots(tail));
  return [...head, call, ...tail, ...test];
}

/** Loads and runs `insns` in the kernel; resolves to r0. Verifier rejections are VerifierErrors. */
export async function runInKernel(insns: Instruction[], mem: Uint8Array | undefined): Promise<bigint> {
  if (mem && mem.byteLength > MAX_PACKET) throw new RangeError(`memory of ${mem.byteLength} bytes exceeds the ${MAX_PACKET}-byte packet the verifier can track`);
  using result = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1, name: 'tsbpf_exec' });
  using program = Program.load({ type: 'XDP', name: 'tsbpf_exec', license: 'GPL', instructions: wrapForKernel(insns, result.fd, mem?.byteLength) });
  const packet = new Uint8Array(Math.max(MIN_PACKET, mem?.byteLength ?? 0));
  if (mem) packet.set(mem);
  const run = program.testRun({ data: packet });
  if (mem && run.retval !== 2) throw new Error('the entry program skipped the test: the packet was shorter than the memory');
  const value = result.lookup(new Uint8Array(4))!;
  return new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true);
}
