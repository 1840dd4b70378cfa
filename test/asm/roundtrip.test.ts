import { expect } from 'chai';
import fc from 'fast-check';
import { AsmError, assemble, decode, disassemble, encode, type Instruction, invalidReason } from '../../src/asm/index.js';
import { Gen, randomInstruction, rng } from './random-instructions.js';

/** fast-check arbitrary over random valid instructions (v1-v4, every form). */
const validInstruction = fc.integer({ min: 0, max: 0x7fffffff }).map((seed) => randomInstruction(new Gen(rng(seed)), 'all'));
const validProgram = fc.array(validInstruction, { minLength: 1, maxLength: 40 });

/** Assembled instructions carry a source span; compare only the encoding fields. */
const fields = (ins: Instruction) => ({ opcode: ins.opcode, dst: ins.dst, src: ins.src, off: ins.off, imm: ins.imm, imm64: ins.imm64 });

describe('asm/round trip (fast-check)', () => {
  it('decode(encode(x)) == x for random valid instructions', () => {
    fc.assert(
      fc.property(validProgram, (insns) => {
        expect(decode(encode(insns))).to.deep.equal(insns);
      }),
      { numRuns: 500 },
    );
  });

  it('assemble(disassemble(bytes)) == bytes for random valid programs', () => {
    fc.assert(
      fc.property(validProgram, (insns) => {
        const bytes = encode(insns);
        const text = disassemble(bytes);
        const back = assemble(text.join('\n'));
        expect(back.bytes).to.deep.equal(bytes);
        expect(back.instructions.map(fields)).to.deep.equal(insns.map(fields));
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips 50 000 random instructions in one program', () => {
    const g = new Gen(rng(12345));
    const insns = Array.from({ length: 50000 }, () => randomInstruction(g));
    const bytes = encode(insns);
    expect(assemble(disassemble(bytes).join('\n')).bytes).to.deep.equal(bytes);
  });

  it('exhaustively: every opcode byte with edge-case fields either round-trips or is a typed decode error', () => {
    const regs = [0, 1, 10, 11, 15];
    const offs = [0, 1, 8, 16, 32, -1, 32767, -32768];
    const imms = [0, 1, 16, 32, 64, -1, 0x100, 0x110, 0xe1, 0xf1, 0x41, 0x7fffffff, -0x80000000];
    const valid: Instruction[] = [];
    let invalid = 0;
    for (let opcode = 0; opcode < 256; opcode++) {
      if (opcode === 0x18) continue; // lddw: covered by the properties
      for (const dst of regs)
        for (const src of regs)
          for (const off of offs)
            for (const imm of imms) {
              if (invalidReason(opcode, dst, src, off, imm) === null) {
                valid.push({ opcode, dst, src, off, imm });
                continue;
              }
              // Each invalid encoding must be refused with its slot; sample them to stay fast.
              if (invalid++ % 37 !== 0) continue;
              const bytes = encode([{ opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }, { opcode, dst, src, off, imm }]);
              expect(() => disassemble(bytes)).to.throw(AsmError).with.property('slot', 1);
            }
    }
    expect(valid.length).to.be.greaterThan(10000);
    const bytes = encode(valid);
    const text = disassemble(bytes);
    expect(text.length).to.equal(valid.length);
    expect(assemble(text.join('\n')).bytes).to.deep.equal(bytes);
  });
});

describe('asm/fuzz (fast-check)', () => {
  it('random text gives instructions or an AsmError with line:col, nothing else', () => {
    const alphabet = fc.constantFrom(...'rw0123456789 =+-*/%&|^<>!s()[],:;#.xl\n\tabcdefgiklmnopqtuy_'.split(''));
    const tokenish = fc.constantFrom('r1', 'w2', 'r11', ' = ', ' += ', '*(u32 *)', '(r1 + 4)', ' ll', 'goto', ' +3', 'lbl', 'lbl:', 'if ', ' == ', 'call ', 'exit', '\n', '0x', '99999999999', '-', 'lock ', 'skb[', ']', 'kfunc(', 'map_fd(', ')', '//', '/*', '*/', ',');
    fc.assert(
      fc.property(fc.array(fc.oneof(alphabet, tokenish), { maxLength: 60 }), (parts) => {
        const text = parts.join('');
        try {
          assemble(text);
        } catch (e) {
          expect(e, text).to.be.instanceOf(AsmError);
          expect((e as AsmError).position?.line, text).to.be.a('number');
          expect((e as AsmError).position?.column, text).to.be.a('number');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated valid text gives instructions or an AsmError', () => {
    fc.assert(
      fc.property(validProgram, fc.integer({ min: 0, max: 1000 }), fc.string({ maxLength: 3 }), (insns, at, junk) => {
        const text = disassemble(encode(insns)).join('\n');
        const cut = at % (text.length + 1);
        const mutated = text.slice(0, cut) + junk + text.slice(cut + 1);
        try {
          assemble(mutated);
        } catch (e) {
          expect(e, mutated).to.be.instanceOf(AsmError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes disassemble or give an AsmError with the slot', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          disassemble(bytes);
        } catch (e) {
          expect(e).to.be.instanceOf(AsmError);
          expect((e as AsmError).slot).to.be.a('number');
        }
        expect(disassemble(bytes, { strict: false })).to.be.an('array');
      }),
      { numRuns: 3000 },
    );
  });
});
