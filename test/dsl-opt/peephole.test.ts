/**
 * The DSL compiler's peephole passes: each rewrite must shrink the code and
 * keep its meaning (checked by running both versions in the interpreter),
 * and must stay away when r0 or a label makes it unsafe.
 */
import { expect } from 'chai';
import { encode } from '../../src/asm/codec.js';
import { type Instruction, instruction } from '../../src/asm/instruction.js';
import { AluOp, Class, JmpOp, Mode, Size, Source } from '../../src/asm/opcodes.js';
import { resolveJumps } from '../../src/dsl/compiler/emit.js';
import { peephole } from '../../src/dsl/compiler/peephole.js';
import { runSync } from '../../src/interp/index.js';

type Item = Instruction | { label: string };

const ldxw = (dst: number, src: number, off: number) => instruction(Class.LDX | Mode.MEM | Size.W, dst, src, off);
const addK = (dst: number, k: number) => instruction(Class.ALU64 | AluOp.ADD | Source.K, dst, 0, 0, k);
const addX = (dst: number, src: number) => instruction(Class.ALU64 | AluOp.ADD | Source.X, dst, src);
const movK = (dst: number, k: number) => instruction(Class.ALU64 | AluOp.MOV | Source.K, dst, 0, 0, k);
const movX = (dst: number, src: number) => instruction(Class.ALU64 | AluOp.MOV | Source.X, dst, src);
const stxw = (base: number, src: number, off: number) => instruction(Class.STX | Mode.MEM | Size.W, base, src, off);
const jK = (op: number, dst: number, k: number, label: string) => ({ ...instruction(Class.JMP | op | Source.K, dst, 0, 0, k), reference: label });
const ja = (label: string) => ({ ...instruction(Class.JMP | JmpOp.JA), reference: label });
const exit = () => instruction(Class.JMP | JmpOp.EXIT);

/** Splits items into instructions and label positions (fresh objects each time: resolving jumps mutates them). */
function split(items: () => Item[]): { out: Instruction[]; labelAt: Map<string, number> } {
  const out: Instruction[] = [];
  const labelAt = new Map<string, number>();
  for (const it of items()) {
    if ('label' in it) labelAt.set(it.label, out.length);
    else out.push(it);
  }
  return { out, labelAt };
}

function run(code: Instruction[], word: number): bigint {
  const mem = new Uint8Array(16);
  new DataView(mem.buffer).setUint32(0, word, true);
  new DataView(mem.buffer).setUint32(4, word * 3, true);
  return runSync(encode(code), { mem }).r0;
}

/** Runs the peephole; checks the result agrees with the original on every input; returns the new length. */
function optimisedLength(items: () => Item[], inputs = [0, 1, 5, 10, 11, 17, 200]): number {
  const plain = split(items);
  const before = resolveJumps(plain.out, plain.labelAt);
  const opt = split(items);
  const { out, labelAt } = peephole(opt.out, opt.labelAt);
  const after = resolveJumps(out, labelAt);
  for (const x of inputs) expect(run(after, x), `input ${x}`).to.equal(run(before, x));
  return after.length;
}

describe('dsl compiler peephole', () => {
  it('computes a returned register in r0 instead of moving it there', () => {
    const prog = () => [ldxw(2, 1, 0), addK(2, 5), stxw(1, 2, 8), addX(2, 2), movX(0, 2), exit()];
    expect(optimisedLength(prog)).to.equal(5);
    const { out, labelAt } = split(prog);
    const code = peephole(out, labelAt).out;
    expect(code[0]!.dst).to.equal(0);
    expect(code[3]).to.include({ dst: 0, src: 0 });
  });

  it('keeps the move when r0 is used in between or a label sits inside the computation', () => {
    expect(optimisedLength(() => [movK(0, 9), ldxw(2, 1, 0), addX(2, 0), movX(0, 2), exit()])).to.equal(5);
    expect(optimisedLength(() => [ldxw(2, 1, 0), jK(JmpOp.JGT, 2, 10, 'L'), addK(2, 1), { label: 'L' }, addK(2, 1), movX(0, 2), exit()])).to.equal(6);
  });

  it('hoists a constant return above an inverted branch to a shared exit', () => {
    const prog = () => [ldxw(2, 1, 0), jK(JmpOp.JGT, 2, 10, 'L'), movK(0, 7), exit(), { label: 'L' }, movX(0, 2), exit()];
    // The constant moves above the branch and the returned r2 is computed in r0: 7 → 5.
    expect(optimisedLength(prog)).to.equal(5);
  });

  it('does not hoist when r0 is live where the branch lands', () => {
    const prog = () => [movK(0, 3), ldxw(2, 1, 0), jK(JmpOp.JGT, 2, 10, 'L'), movK(0, 7), exit(), { label: 'L' }, addX(0, 2), exit()];
    expect(optimisedLength(prog)).to.equal(7);
  });

  it('turns a branch over a goto into the inverted branch', () => {
    const prog = () => [
      ldxw(2, 1, 0), jK(JmpOp.JEQ, 2, 17, 'L'), ja('R'), { label: 'L' }, ldxw(0, 1, 4), exit(),
      { label: 'R' }, movK(0, 1), exit(),
    ];
    expect(optimisedLength(prog)).to.equal(6);
  });

  it('moves a constant return fallen into past a branch to where a goto to it was', () => {
    const prog = () => [
      ldxw(2, 1, 0), jK(JmpOp.JLE, 2, 10, 'A'), { label: 'R' }, movK(0, 2), exit(),
      { label: 'A' }, ldxw(3, 1, 4), jK(JmpOp.JEQ, 3, 15, 'R'), addK(3, 1), stxw(1, 3, 8), ja('R'),
    ];
    expect(optimisedLength(prog)).to.equal(8);
  });

  it('random forward-jumping programs compute the same r0 after the peephole (2000 programs)', () => {
    let seed = 0x2545f491;
    const rand = (n: number) => {
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const CMPS = [JmpOp.JEQ, JmpOp.JNE, JmpOp.JGT, JmpOp.JGE, JmpOp.JLT, JmpOp.JLE, JmpOp.JSET];
    const reg = () => [0, 2, 3][rand(3)]!;
    let shrunk = 0;
    for (let p = 0; p < 2000; p++) {
      const n = 4 + rand(16);
      // Each entry: an instruction, with a forward jump target index for jumps.
      const body: Array<{ make: () => Instruction; target?: number }> = [];
      for (let i = 0; i < n; i++) {
        const x = reg();
        const y = reg();
        const k = rand(20);
        const pick = rand(12);
        if (pick === 0) body.push({ make: () => ldxw(x, 1, 4 * rand(2)) });
        else if (pick === 1) body.push({ make: () => movK(x, k) });
        else if (pick === 2) body.push({ make: () => addK(x, k) });
        else if (pick === 3) body.push({ make: () => addX(x, y) });
        else if (pick === 4) body.push({ make: () => movX(x, y) });
        else if (pick === 5) { body.push({ make: () => movK(0, k) }); body.push({ make: exit }); }
        else if (pick === 6) { body.push({ make: () => movX(0, x) }); body.push({ make: exit }); }
        else if (pick === 7) body.push({ make: () => ja('?'), target: -1 });
        else if (pick === 8) body.push({ make: () => stxw(1, x, 8) });
        else if (pick === 9) body.push({ make: () => ldxw(x, 1, 8) });
        else body.push({ make: () => jK(CMPS[rand(CMPS.length)]!, x, k, '?'), target: -1 });
      }
      body.push({ make: exit });
      body.forEach((b, i) => {
        if (b.target === -1) b.target = i + 1 + rand(body.length - i - 1);
      });
      const made = body.map((b) => b.make());
      const prog = (): Item[] => {
        const items: Item[] = [movK(0, 0), movK(2, 0), movK(3, 0)];
        body.forEach((b, i) => {
          if (body.some((o) => o.target === i)) items.push({ label: `L${i}` });
          items.push(b.target !== undefined ? { ...made[i]!, reference: `L${b.target}` } : { ...made[i]! });
        });
        return items;
      };
      const before = split(prog).out.length;
      if (optimisedLength(prog, [0, 3, 7, 12]) < before) shrunk++;
    }
    expect(shrunk).to.be.greaterThan(100);
  });
});
