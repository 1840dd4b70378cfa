// Property test: every ALU/ALU64 (and conditional jump) operation of the
// interpreter against a plain BigInt model of RFC 9669, for random operands
// with the edge cases (0, ±1, INT_MIN, INT_MAX, shift widths) mixed in.
import { expect } from 'chai';
import fc from 'fast-check';
import { encode } from '../../src/asm/codec.js';
import { instruction, wideLoad } from '../../src/asm/instruction.js';
import { AluOp, Class, EXIT, JmpOp, Source } from '../../src/asm/opcodes.js';
import { runSync } from '../../src/interp/index.js';

const edges64 = [0n, 1n, 2n, 31n, 32n, 63n, 64n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0xfffffffffffffffen, 0xffffffff80000000n];
const edgesImm = [0, 1, -1, 2, 31, 32, 63, 64, 0x7fffffff, -0x80000000, 16, 8];

const operand64 = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(...edges64), fc.bigInt({ min: 0n, max: 300n }));
const immediate = fc.oneof(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.constantFrom(...edgesImm), fc.integer({ min: -70, max: 70 }));

const byteswap = (v: bigint, width: number): bigint => {
  let out = 0n;
  for (let i = 0; i < width / 8; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
};

/** RFC 9669 semantics of one ALU instruction, written as directly as possible. */
function aluModel(is64: boolean, code: number, x: boolean, off: number, dst: bigint, src: bigint, imm: number): bigint {
  const bits = is64 ? 64 : 32;
  const U = (v: bigint) => BigInt.asUintN(bits, v);
  const S = (v: bigint) => BigInt.asIntN(bits, v);
  const a = U(dst);
  const b = x ? U(src) : U(BigInt(imm)); // imm is sign-extended to 64 bits, then used at the operation's width
  const shift = b % BigInt(bits);
  switch (code) {
    case AluOp.ADD: return U(a + b);
    case AluOp.SUB: return U(a - b);
    case AluOp.MUL: return U(a * b);
    case AluOp.DIV: return off === 0 ? (b === 0n ? 0n : a / b) : S(b) === 0n ? 0n : U(S(a) / S(b));
    case AluOp.MOD: return off === 0 ? (b === 0n ? a : a % b) : S(b) === 0n ? a : U(S(a) % S(b));
    case AluOp.OR: return a | b;
    case AluOp.AND: return a & b;
    case AluOp.XOR: return a ^ b;
    case AluOp.LSH: return U(a << shift);
    case AluOp.RSH: return a >> shift;
    case AluOp.ARSH: return U(S(a) >> shift);
    case AluOp.NEG: return U(-a);
    case AluOp.MOV: return off === 0 ? b : U(BigInt.asIntN(off, src));
    default: throw new Error(`no model for ${code}`);
  }
}

function endModel(opcode: number, width: number, dst: bigint): bigint {
  const low = dst & ((1n << BigInt(width)) - 1n);
  if (opcode === (Class.ALU | AluOp.END | Source.K)) return low; // to little-endian on a little-endian machine: truncate
  return byteswap(low, width); // to big-endian, and ALU64 bswap
}

/** Runs `lddw r1, dst; lddw r2, src; <ins>; mov r0, r1; exit`. */
function exec(ins: ReturnType<typeof instruction>, dst: bigint, src: bigint): bigint {
  const program = [wideLoad(1, dst), wideLoad(2, src), ins, instruction(Class.ALU64 | AluOp.MOV | Source.X, 0, 1), instruction(EXIT)];
  return runSync(encode(program)).r0;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

describe('interp: ALU semantics against a BigInt model (fast-check)', () => {
  const codes: [string, number, number[]][] = [
    ['add', AluOp.ADD, [0]], ['sub', AluOp.SUB, [0]], ['mul', AluOp.MUL, [0]], ['div', AluOp.DIV, [0]], ['sdiv', AluOp.DIV, [1]],
    ['or', AluOp.OR, [0]], ['and', AluOp.AND, [0]], ['lsh', AluOp.LSH, [0]], ['rsh', AluOp.RSH, [0]], ['mod', AluOp.MOD, [0]],
    ['smod', AluOp.MOD, [1]], ['xor', AluOp.XOR, [0]], ['mov', AluOp.MOV, [0]], ['arsh', AluOp.ARSH, [0]],
  ];
  for (const is64 of [false, true]) {
    const cls = is64 ? Class.ALU64 : Class.ALU;
    const suffix = is64 ? '64' : '32';
    for (const [name, code, offs] of codes) {
      for (const x of [false, true]) {
        it(`${name}${suffix} ${x ? 'reg' : 'imm'}`, () => {
          fc.assert(
            fc.property(operand64, operand64, immediate, (dst, src, imm) => {
              const off = offs[0]!;
              const got = exec(instruction(cls | code | (x ? Source.X : Source.K), 1, x ? 2 : 0, off, x ? 0 : imm), dst, src);
              expect(hex(got)).to.equal(hex(aluModel(is64, code, x, off, dst, src, imm)));
            }),
            { numRuns: 300 },
          );
        });
      }
    }
    it(`neg${suffix}`, () => {
      fc.assert(
        fc.property(operand64, (dst) => {
          expect(hex(exec(instruction(cls | AluOp.NEG, 1), dst, 0n))).to.equal(hex(aluModel(is64, AluOp.NEG, false, 0, dst, 0n, 0)));
        }),
        { numRuns: 300 },
      );
    });
    for (const from of is64 ? [8, 16, 32] : [8, 16]) {
      it(`movsx${from}${suffix}`, () => {
        fc.assert(
          fc.property(operand64, operand64, (dst, src) => {
            const got = exec(instruction(cls | AluOp.MOV | Source.X, 1, 2, from), dst, src);
            expect(hex(got)).to.equal(hex(aluModel(is64, AluOp.MOV, true, from, dst, src, 0)));
          }),
          { numRuns: 300 },
        );
      });
    }
  }
  const ends: [string, number][] = [['le', Class.ALU | AluOp.END | Source.K], ['be', Class.ALU | AluOp.END | Source.X], ['bswap', Class.ALU64 | AluOp.END]];
  for (const [name, opcode] of ends) {
    for (const width of [16, 32, 64]) {
      it(`${name}${width}`, () => {
        fc.assert(
          fc.property(operand64, (dst) => {
            expect(hex(exec(instruction(opcode, 1, 0, 0, width), dst, 0n))).to.equal(hex(endModel(opcode, width, dst)));
          }),
          { numRuns: 200 },
        );
      });
    }
  }
});

describe('interp: conditional jumps against a BigInt model (fast-check)', () => {
  const conds: [string, number, (a: bigint, b: bigint, sa: bigint, sb: bigint) => boolean][] = [
    ['jeq', JmpOp.JEQ, (a, b) => a === b], ['jne', JmpOp.JNE, (a, b) => a !== b],
    ['jgt', JmpOp.JGT, (a, b) => a > b], ['jge', JmpOp.JGE, (a, b) => a >= b],
    ['jlt', JmpOp.JLT, (a, b) => a < b], ['jle', JmpOp.JLE, (a, b) => a <= b],
    ['jset', JmpOp.JSET, (a, b) => (a & b) !== 0n],
    ['jsgt', JmpOp.JSGT, (_a, _b, a, b) => a > b], ['jsge', JmpOp.JSGE, (_a, _b, a, b) => a >= b],
    ['jslt', JmpOp.JSLT, (_a, _b, a, b) => a < b], ['jsle', JmpOp.JSLE, (_a, _b, a, b) => a <= b],
  ];
  for (const wide of [true, false]) {
    const bits = wide ? 64 : 32;
    for (const [name, code, holds] of conds) {
      for (const x of [false, true]) {
        it(`${name}${wide ? '' : '32'} ${x ? 'reg' : 'imm'}`, () => {
          fc.assert(
            fc.property(operand64, operand64, immediate, (dst, src, imm) => {
              const jump = instruction((wide ? Class.JMP : Class.JMP32) | code | (x ? Source.X : Source.K), 1, x ? 2 : 0, 1, x ? 0 : imm);
              const program = [wideLoad(1, dst), wideLoad(2, src), instruction(Class.ALU64 | AluOp.MOV, 0, 0, 0, 0), jump, instruction(EXIT), instruction(Class.ALU64 | AluOp.MOV, 0, 0, 0, 1), instruction(EXIT)];
              const b = x ? src : BigInt.asUintN(64, BigInt(imm));
              const U = (v: bigint) => BigInt.asUintN(bits, v);
              const S = (v: bigint) => BigInt.asIntN(bits, v);
              const expected = holds(U(dst), U(b), S(dst), S(b)) ? 1n : 0n;
              expect(runSync(encode(program)).r0).to.equal(expected);
            }),
            { numRuns: 150 },
          );
        });
      }
    }
  }
});
