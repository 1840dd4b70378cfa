/**
 * Random valid instructions for property tests, the LLVM differential test
 * and the benchmark. `profile` picks the set:
 *  - 'all': every valid form of v1-v4 and the kernel extensions we print;
 *  - 'llvm14-print': what llvm-objdump 14 prints correctly (no mod, jset,
 *    v4, store-immediate, pseudo lddw, local/kfunc calls, callx);
 *  - 'llvm14-parse': of those, what llvm-mc 14 also reads (no atomic
 *    fetch/xchg/cmpxchg text).
 */
import type { Instruction } from '../../src/asm/instruction.js';
import { AluOp, AtomicOp, Class, JmpOp, LDDW, Mode, Size, Source } from '../../src/asm/opcodes.js';

export type Profile = 'all' | 'llvm14-print' | 'llvm14-parse';

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  constructor(private readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  reg(): number {
    return this.int(11);
  }
  /** Interesting 32-bit immediates: small, edges, random. */
  imm(): number {
    switch (this.int(4)) {
      case 0:
        return this.int(64) - 32;
      case 1:
        return this.pick([0, 1, -1, 0x7fffffff, -0x80000000, 0xffff, 255]);
      default:
        return (this.next() * 4294967296) | 0;
    }
  }
  off(): number {
    return this.int(3) === 0 ? this.pick([0, 1, -1, 32767, -32768]) : this.int(65536) - 32768;
  }
  u64(): bigint {
    const hi = BigInt((this.next() * 4294967296) >>> 0);
    const lo = BigInt((this.next() * 4294967296) >>> 0);
    return this.int(3) === 0 ? BigInt(this.imm() >>> 0) : (hi << 32n) | lo;
  }
}

const ins = (opcode: number, dst = 0, src = 0, off = 0, imm = 0): Instruction => ({ opcode, dst, src, off, imm });
const wideIns = (dst: number, src: number, imm64: bigint): Instruction => ({
  opcode: LDDW,
  dst,
  src,
  off: 0,
  imm: Number(BigInt.asIntN(32, imm64)),
  imm64,
});

const ALU_BINARY = [AluOp.ADD, AluOp.SUB, AluOp.MUL, AluOp.DIV, AluOp.OR, AluOp.AND, AluOp.LSH, AluOp.RSH, AluOp.MOD, AluOp.XOR, AluOp.MOV, AluOp.ARSH];
const JUMP_COND = [JmpOp.JEQ, JmpOp.JGT, JmpOp.JGE, JmpOp.JSET, JmpOp.JNE, JmpOp.JSGT, JmpOp.JSGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSLT, JmpOp.JSLE];
const SIZES = [Size.B, Size.H, Size.W, Size.DW];
const ATOMIC_IMMS = [
  AtomicOp.ADD,
  AtomicOp.OR,
  AtomicOp.AND,
  AtomicOp.XOR,
  AtomicOp.ADD | AtomicOp.FETCH,
  AtomicOp.OR | AtomicOp.FETCH,
  AtomicOp.AND | AtomicOp.FETCH,
  AtomicOp.XOR | AtomicOp.FETCH,
  AtomicOp.XCHG,
  AtomicOp.CMPXCHG,
];

/** One random valid instruction of the profile. */
export function randomInstruction(g: Gen, profile: Profile = 'all'): Instruction {
  const all = profile === 'all';
  for (;;) {
    const form = g.int(13);
    switch (form) {
      case 0:
      case 1: {
        // ALU / ALU64 binary ops
        const cls = g.pick([Class.ALU, Class.ALU64]);
        const op = g.pick(ALU_BINARY);
        if (op === AluOp.MOD && !all) continue;
        const x = g.int(2) === 1;
        let off = 0;
        if (all && (op === AluOp.DIV || op === AluOp.MOD)) off = g.int(2);
        if (all && op === AluOp.MOV && x && g.int(3) === 0) off = g.pick(cls === Class.ALU64 ? [8, 16, 32] : [8, 16]);
        if (all && op === AluOp.MOV && x && cls === Class.ALU64 && g.int(20) === 0) {
          return ins(cls | op | Source.X, g.reg(), g.reg(), 1, (g.int(65536) << 16) | g.int(65536));
        }
        return x ? ins(cls | op | Source.X, g.reg(), g.reg(), off, 0) : ins(cls | op | Source.K, g.reg(), 0, off, g.imm());
      }
      case 2: {
        // neg, byte swaps
        const cls = g.pick([Class.ALU, Class.ALU64]);
        const which = g.int(3);
        if (which === 0) return ins(cls | AluOp.NEG, g.reg());
        const width = g.pick([16, 32, 64]);
        if (cls === Class.ALU64) {
          if (!all) continue;
          return ins(Class.ALU64 | AluOp.END, g.reg(), 0, 0, width);
        }
        return ins(Class.ALU | AluOp.END | (which === 1 ? Source.K : Source.X), g.reg(), 0, 0, width);
      }
      case 3:
      case 4: {
        // conditional jumps
        const cls = g.pick([Class.JMP, Class.JMP32]);
        const op = g.pick(JUMP_COND);
        if (op === JmpOp.JSET && !all) continue;
        return g.int(2) ? ins(cls | op | Source.X, g.reg(), g.reg(), g.off()) : ins(cls | op | Source.K, g.reg(), 0, g.off(), g.imm());
      }
      case 5: {
        // other control flow
        const which = g.int(8);
        if (which === 0) return ins(Class.JMP | JmpOp.JA, 0, 0, g.off());
        if (which === 1) return ins(Class.JMP | JmpOp.EXIT);
        if (which === 2) return ins(Class.JMP | JmpOp.CALL, 0, 0, 0, g.int(3) ? g.int(212) : g.imm() & 0x7fffffff);
        if (!all) continue;
        if (which === 3) return ins(Class.JMP32 | JmpOp.JA, 0, 0, 0, g.imm());
        if (which === 4) return ins(Class.JMP | JmpOp.CALL, 0, 1, 0, g.imm());
        if (which === 5) return ins(Class.JMP | JmpOp.CALL, 0, 2, g.int(2) ? 0 : g.off(), g.imm());
        if (which === 6) return ins(Class.JMP | JmpOp.CALL | Source.X, g.reg());
        return ins(Class.JMP | 0xe0, 0, 0, g.off());
      }
      case 6: {
        // lddw
        const src = all && g.int(2) ? 1 + g.int(6) : 0;
        return wideIns(g.reg(), src, g.u64());
      }
      case 7: {
        // legacy packet loads
        const size = g.pick([Size.B, Size.H, Size.W]);
        if (g.int(2)) return ins(Class.LD | Mode.ABS | size, 0, 0, 0, g.imm());
        return ins(Class.LD | Mode.IND | size, 0, g.reg(), 0, all && g.int(2) ? g.imm() : 0);
      }
      case 8:
      case 9: {
        // loads
        if (all && g.int(4) === 0) return ins(Class.LDX | Mode.MEMSX | g.pick([Size.B, Size.H, Size.W]), g.reg(), g.reg(), g.off());
        return ins(Class.LDX | Mode.MEM | g.pick(SIZES), g.reg(), g.reg(), g.off());
      }
      case 10:
        // stores
        if (all && g.int(2)) return ins(Class.ST | Mode.MEM | g.pick(SIZES), g.reg(), 0, g.off(), g.imm());
        return ins(Class.STX | Mode.MEM | g.pick(SIZES), g.reg(), g.reg(), g.off());
      case 11:
      case 12: {
        // atomics
        if (all && g.int(5) === 0) return ins(Class.STX | Mode.ATOMIC | g.pick(SIZES), g.reg(), g.reg(), g.off(), g.pick([0x100, 0x110]));
        const imm = g.pick(ATOMIC_IMMS);
        if (profile === 'llvm14-parse' && (imm & AtomicOp.FETCH) !== 0) continue;
        return ins(Class.STX | Mode.ATOMIC | g.pick([Size.W, Size.DW]), g.reg(), g.reg(), g.off(), imm);
      }
    }
  }
}

/** `count` random instructions from a seed. */
export function randomProgram(count: number, seed: number, profile: Profile = 'all'): Instruction[] {
  const g = new Gen(rng(seed));
  const out: Instruction[] = [];
  for (let i = 0; i < count; i++) out.push(randomInstruction(g, profile));
  return out;
}
