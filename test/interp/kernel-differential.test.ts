// Differential test: random programs (every ALU/ALU64 op, conditional jumps,
// stack and packet loads/stores incl. sign-extending loads, atomics) run in the
// interpreter and in the kernel (BPF_PROG_TEST_RUN through the exec runner);
// r0, which folds every register and the stack, must agree.
import { expect } from 'chai';
import fc from 'fast-check';
import { encode } from '../../src/asm/codec.js';
import { type Instruction, instruction, wideLoad } from '../../src/asm/instruction.js';
import { AluOp, AtomicOp, Class, EXIT, JA, JA32, JmpOp, Mode, Size, Source } from '../../src/asm/opcodes.js';
import { runInKernel } from '../../src/cli/exec-kernel.js';
import { runSync } from '../../src/interp/index.js';
import { needKernel } from '../support/kernel.js';

const STACK_SLOTS = 8; // the program uses [r10-64, r10)
const PACKET = 64; // bytes of packet memory; r9 points at it and is never a random operand
const reg = fc.integer({ min: 0, max: 8 });
const value64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x8000000000000000n, 0xffffffffffffffffn),
);
const imm32 = fc.oneof(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.constantFrom(0, 1, -1, 0x7fffffff, -0x80000000));

const ALU_CODES = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH, AluOp.RSH, AluOp.NEG, AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH, AluOp.END];
const JMP_CODES = [JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT, JmpOp.JSGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE];
const SIZES = [Size.B, Size.H, Size.W, Size.DW];
const bytesOf = (size: number) => (size === Size.B ? 1 : size === Size.H ? 2 : size === Size.W ? 4 : 8);

/** A stack offset in [-64, 0) aligned to `bytes`. */
const stackOffset = (pick: number, bytes: number) => -8 * STACK_SLOTS + bytes * (pick % ((8 * STACK_SLOTS) / bytes));

/** One random instruction, made valid for the verifier (shift amounts in range, r10 only as the stack base). */
const anyInsn = fc
  .record({ kind: fc.integer({ min: 0, max: 11 }), a: fc.nat(), b: fc.nat(), dst: reg, src: reg, imm: imm32, x: fc.boolean(), wide: fc.boolean() })
  .map(({ kind, a, b, dst, src, imm, x, wide }): Instruction | { jump: Instruction } => {
    const cls = wide ? Class.ALU64 : Class.ALU;
    if (kind <= 5) {
      const code = ALU_CODES[a % ALU_CODES.length]!;
      if (code === AluOp.NEG) return instruction(cls | AluOp.NEG, dst);
      if (code === AluOp.END) {
        const width = [16, 32, 64][b % 3]!;
        const opcode = [Class.ALU | AluOp.END | Source.K, Class.ALU | AluOp.END | Source.X, Class.ALU64 | AluOp.END][a % 3]!;
        return instruction(opcode, dst, 0, 0, width);
      }
      if (code === AluOp.MOV && x && b % 3 === 0) {
        const from = wide ? [8, 16, 32][a % 3]! : [8, 16][a % 2]!;
        return instruction(cls | AluOp.MOV | Source.X, dst, src, from);
      }
      const signed = (code === AluOp.DIV || code === AluOp.MOD) && b % 2 === 1 ? 1 : 0;
      const shift = code === AluOp.LSH || code === AluOp.RSH || code === AluOp.ARSH;
      if (x) return instruction(cls | code | Source.X, dst, src, signed);
      // the verifier refuses shifts out of range and division by a zero constant
      const k = shift ? (imm >>> 0) % (wide ? 64 : 32) : (code === AluOp.DIV || code === AluOp.MOD) && imm === 0 ? 1 : imm;
      return instruction(cls | code | Source.K, dst, 0, signed, k);
    }
    if (kind === 6) {
      const off = b % 4;
      // now and then an unconditional ja or gotol (ja32, offset in imm): by 0, since skipping code would leave it unreachable for the verifier
      if (a % 13 === 0) return wide ? instruction(JA, 0, 0, 0) : instruction(JA32, 0, 0, 0, 0);
      const code = JMP_CODES[a % JMP_CODES.length]!;
      const jcls = wide ? Class.JMP : Class.JMP32;
      return { jump: x ? instruction(jcls | code | Source.X, dst, src, off) : instruction(jcls | code | Source.K, dst, 0, off, imm) };
    }
    const size = SIZES[a % 4]!;
    if (kind >= 10) {
      // packet memory through r9: loads (maybe sign-extending) and stores
      const off = bytesOf(size) * (b % (PACKET / bytesOf(size)));
      if (kind === 10) return instruction(Class.LDX | size | (size !== Size.DW && b % 2 === 1 ? Mode.MEMSX : Mode.MEM), dst, 9, off);
      return x ? instruction(Class.STX | size | Mode.MEM, 9, src, off) : instruction(Class.ST | size | Mode.MEM, 9, 0, off, imm);
    }
    const off = stackOffset(b, bytesOf(size));
    if (kind === 7) {
      const signExtend = size !== Size.DW && b % 2 === 1;
      return instruction(Class.LDX | size | (signExtend ? Mode.MEMSX : Mode.MEM), dst, 10, off);
    }
    if (kind === 8) return x ? instruction(Class.STX | size | Mode.MEM, 10, src, off) : instruction(Class.ST | size | Mode.MEM, 10, 0, off, imm);
    const atomicSize = wide ? Size.DW : Size.W;
    const ops = [AtomicOp.ADD, AtomicOp.OR, AtomicOp.AND, AtomicOp.XOR, AtomicOp.XCHG, AtomicOp.CMPXCHG];
    const op = ops[a % ops.length]!;
    const fetch = op === AtomicOp.XCHG || op === AtomicOp.CMPXCHG ? 0 : b % 2;
    return instruction(Class.STX | atomicSize | Mode.ATOMIC, 10, src, stackOffset(b >> 1, bytesOf(atomicSize)), op | fetch);
  });

/** Initialises r0-r8 and the stack (r9 = the packet from r1), runs the body, folds registers, stack and packet into r0. */
function buildProgram(inits: bigint[], stack: bigint[], body: (Instruction | { jump: Instruction })[]): Instruction[] {
  const out: Instruction[] = [instruction(Class.ALU64 | AluOp.MOV | Source.X, 9, 1), ...inits.slice(0, 9).map((v, r) => wideLoad(r, v))];
  stack.forEach((v, i) => {
    out.push(wideLoad(1, v), instruction(Class.STX | Size.DW | Mode.MEM, 10, 1, -8 * (i + 1)));
  });
  out.push(wideLoad(1, inits[1]!));
  body.forEach((item, i) => {
    if ('jump' in item) {
      // stay inside the body (or land on the first fold instruction)
      const room = body.length - i - 1;
      out.push({ ...item.jump, off: Math.min(item.jump.off, room) });
    } else out.push(item);
  });
  const fold = (r: number) => [instruction(Class.ALU64 | AluOp.MUL | Source.K, 0, 0, 0, 31), instruction(Class.ALU64 | AluOp.ADD | Source.X, 0, r)];
  for (let r = 1; r <= 8; r++) out.push(...fold(r));
  for (let i = 1; i <= STACK_SLOTS; i++) out.push(instruction(Class.LDX | Size.DW | Mode.MEM, 1, 10, -8 * i), ...fold(1));
  for (let i = 0; i < PACKET / 8; i++) out.push(instruction(Class.LDX | Size.DW | Mode.MEM, 1, 9, 8 * i), ...fold(1));
  out.push(instruction(EXIT));
  return out;
}

describe('interp agrees with the kernel on random programs', function () {
  before(function () {
    needKernel(this);
  });

  it('ALU, ALU64, JMP/JMP32, stack and packet loads/stores, atomics', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(value64, { minLength: 10, maxLength: 10 }),
        fc.array(value64, { minLength: STACK_SLOTS, maxLength: STACK_SLOTS }),
        fc.array(anyInsn, { minLength: 1, maxLength: 40 }),
        fc.uint8Array({ minLength: PACKET, maxLength: PACKET }),
        async (inits, stack, body, packet) => {
          const program = buildProgram(inits, stack, body);
          const expected = runSync(encode(program), { mem: packet.slice() }).r0;
          const actual = await runInKernel(program, packet.slice());
          expect(`0x${actual.toString(16)}`).to.equal(`0x${expected.toString(16)}`);
        },
      ),
      { numRuns: 300 },
    );
  });
});
