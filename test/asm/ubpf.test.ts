import { expect } from 'chai';
import fc from 'fast-check';
import { encode } from '../../src/asm/codec.js';
import { parseConformanceFile, parseHexBytes, rawSlotsToBytes } from '../../src/asm/conformance-file.js';
import { AsmError } from '../../src/asm/errors.js';
import type { Instruction } from '../../src/asm/instruction.js';
import { parseUbpf } from '../../src/asm/ubpf.js';
import { thrownBy } from '../support/thrown.js';

/** [opcode, dst, src, off, imm] of each instruction. */
const fields = (insns: Instruction[]) => insns.map((i) => [i.opcode, i.dst, i.src, i.off, i.imm]);
const one = (text: string) => fields(parseUbpf(text))[0];

const asmError = (text: string): AsmError => thrownBy(() => parseUbpf(text, 'test.s'), AsmError, `an AsmError for ${JSON.stringify(text)}`);

describe('asm/ubpf syntax', () => {
  describe('ALU', () => {
    const ops: [string, number][] = [
      ['add', 0x00], ['sub', 0x10], ['mul', 0x20], ['div', 0x30], ['or', 0x40], ['and', 0x50],
      ['lsh', 0x60], ['rsh', 0x70], ['mod', 0x90], ['xor', 0xa0], ['mov', 0xb0], ['arsh', 0xc0],
    ];
    for (const [name, code] of ops) {
      it(`${name}, ${name}32, ${name}64 with register and immediate`, () => {
        expect(one(`${name} %r1, %r2`)).to.deep.equal([0x07 | code | 0x08, 1, 2, 0, 0]);
        expect(one(`${name}64 %r1, -5`)).to.deep.equal([0x07 | code, 1, 0, 0, -5]);
        expect(one(`${name}32 %r3, %r10`)).to.deep.equal([0x04 | code | 0x08, 3, 10, 0, 0]);
        expect(one(`${name}32 %r3, 0xffffffff`)).to.deep.equal([0x04 | code, 3, 0, 0, -1]);
      });
    }
    it('sdiv / smod have offset 1', () => {
      expect(one('sdiv %r1, %r2')).to.deep.equal([0x3f, 1, 2, 1, 0]);
      expect(one('sdiv32 %r1, 7')).to.deep.equal([0x34, 1, 0, 1, 7]);
      expect(one('smod %r1, -3')).to.deep.equal([0x97, 1, 0, 1, -3]);
      expect(one('smod32 %r1, %r4')).to.deep.equal([0x9c, 1, 4, 1, 0]);
    });
    it('neg has one operand', () => {
      expect(one('neg %r4')).to.deep.equal([0x87, 4, 0, 0, 0]);
      expect(one('neg32 %r4')).to.deep.equal([0x84, 4, 0, 0, 0]);
    });
    it('movsx forms set the offset to the source width', () => {
      expect(one('movsx832 %r1, %r2')).to.deep.equal([0xbc, 1, 2, 8, 0]);
      expect(one('movsx1632 %r1, %r2')).to.deep.equal([0xbc, 1, 2, 16, 0]);
      expect(one('movsx864 %r1, %r2')).to.deep.equal([0xbf, 1, 2, 8, 0]);
      expect(one('movsx1664 %r1, %r2')).to.deep.equal([0xbf, 1, 2, 16, 0]);
      expect(one('movsx3264 %r1, %r2')).to.deep.equal([0xbf, 1, 2, 32, 0]);
    });
    it('byte order: be/le in the ALU class, bswap/swap in ALU64', () => {
      for (const w of [16, 32, 64]) {
        expect(one(`be${w} %r0`)).to.deep.equal([0xdc, 0, 0, 0, w]);
        expect(one(`le${w} %r0`)).to.deep.equal([0xd4, 0, 0, 0, w]);
        expect(one(`bswap${w} %r0`)).to.deep.equal([0xd7, 0, 0, 0, w]);
        expect(one(`swap${w} %r0`)).to.deep.equal([0xd7, 0, 0, 0, w]);
      }
    });
  });

  describe('loads, stores and atomics', () => {
    it('lddw is one two-slot instruction with the full constant', () => {
      const [ins] = parseUbpf('lddw %r0, 0x1122334455667788');
      expect(ins).to.include({ opcode: 0x18, dst: 0, imm64: 0x1122334455667788n });
      expect(encode(parseUbpf('lddw %r0, 0x1122334455667788\nexit'))).to.deep.equal(
        rawSlotsToBytes([0x5566778800000018n, 0x1122334400000000n, 0x95n]),
      );
      expect(parseUbpf('lddw %r2, -1')[0]!.imm64).to.equal(0xffffffffffffffffn);
    });
    it('ldx/st/stx in every size, with [%rN], [%rN+off], [%rN-off]', () => {
      const sizes: [string, number][] = [['b', 0x10], ['h', 0x08], ['w', 0x00], ['dw', 0x18]];
      for (const [s, bits] of sizes) {
        expect(one(`ldx${s} %r1, [%r2+0x10]`)).to.deep.equal([0x61 | bits, 1, 2, 16, 0]);
        expect(one(`st${s} [%r10-8], -2`)).to.deep.equal([0x62 | bits, 10, 0, -8, -2]);
        expect(one(`stx${s} [%r3], %r4`)).to.deep.equal([0x63 | bits, 3, 4, 0, 0]);
      }
      expect(one('ldxw %r1, [ %r2 + 4 ]')).to.deep.equal([0x61, 1, 2, 4, 0]);
    });
    it('sign-extending loads', () => {
      expect(one('ldxsb %r1, [%r2+1]')).to.deep.equal([0x91, 1, 2, 1, 0]);
      expect(one('ldxsh %r1, [%r2+2]')).to.deep.equal([0x89, 1, 2, 2, 0]);
      expect(one('ldxsw %r1, [%r2+4]')).to.deep.equal([0x81, 1, 2, 4, 0]);
    });
    it('legacy packet loads', () => {
      expect(one('ldabsh 12')).to.deep.equal([0x28, 0, 0, 0, 12]);
      expect(one('ldindb %r3, 4')).to.deep.equal([0x50, 0, 3, 0, 4]);
    });
    it('atomics, 32 and 64 bit, with and without fetch', () => {
      const ops: [string, number][] = [['add', 0x00], ['or', 0x40], ['and', 0x50], ['xor', 0xa0]];
      for (const [op, code] of ops) {
        expect(one(`lock ${op} [%r10-8], %r1`)).to.deep.equal([0xdb, 10, 1, -8, code]);
        expect(one(`lock ${op}32 [%r10-8], %r1`)).to.deep.equal([0xc3, 10, 1, -8, code]);
        expect(one(`lock fetch ${op} [%r1+4], %r2`)).to.deep.equal([0xdb, 1, 2, 4, code | 1]);
        expect(one(`lock fetch ${op}32 [%r1+4], %r2`)).to.deep.equal([0xc3, 1, 2, 4, code | 1]);
      }
      expect(one('lock xchg [%r10-8], %r1')).to.deep.equal([0xdb, 10, 1, -8, 0xe1]);
      expect(one('lock xchg32 [%r10-8], %r1')).to.deep.equal([0xc3, 10, 1, -8, 0xe1]);
      expect(one('lock cmpxchg [%r10-8], %r1')).to.deep.equal([0xdb, 10, 1, -8, 0xf1]);
      expect(one('lock cmpxchg32 [%r10-8], %r1')).to.deep.equal([0xc3, 10, 1, -8, 0xf1]);
    });
  });

  describe('jumps and calls', () => {
    const conds: [string, number][] = [
      ['jeq', 0x10], ['jgt', 0x20], ['jge', 0x30], ['jset', 0x40], ['jne', 0x50], ['jsgt', 0x60],
      ['jsge', 0x70], ['jlt', 0xa0], ['jle', 0xb0], ['jslt', 0xc0], ['jsle', 0xd0],
    ];
    for (const [name, code] of conds) {
      it(`${name} and ${name}32`, () => {
        expect(one(`${name} %r1, %r2, +3`)).to.deep.equal([0x05 | code | 0x08, 1, 2, 3, 0]);
        expect(one(`${name} %r1, -7, -1`)).to.deep.equal([0x05 | code, 1, 0, -1, -7]);
        expect(one(`${name}32 %r1, %r2, +0`)).to.deep.equal([0x06 | code | 0x08, 1, 2, 0, 0]);
        expect(one(`${name}32 %r1, 0x80000000, +2`)).to.deep.equal([0x06 | code, 1, 0, 2, -0x80000000]);
      });
    }
    it('resolves labels in slots, counting lddw as two', () => {
      const insns = parseUbpf(['start:', 'ja end', 'lddw %r0, 1', 'jeq %r0, 1, start', 'end: exit'].join('\n'));
      expect(fields(insns)).to.deep.equal([
        [0x05, 0, 0, 3, 0],
        [0x18, 0, 0, 0, 1],
        [0x15, 0, 0, -4, 1],
        [0x95, 0, 0, 0, 0],
      ]);
    });
    it('ja32 keeps its target in imm', () => {
      expect(fields(parseUbpf('ja32 L\nmov %r0, 1\nL:\nexit'))[0]).to.deep.equal([0x06, 0, 0, 0, 1]);
      expect(one('ja32 -100000')).to.deep.equal([0x06, 0, 0, 0, -100000]);
    });
    it('`exit` is an implicit label for the first exit unless defined', () => {
      expect(fields(parseUbpf('jne %r0, 0, exit\nmov %r0, 1\nexit\nexit'))[0]).to.deep.equal([0x55, 0, 0, 1, 0]);
      expect(fields(parseUbpf('ja exit\nexit\nexit:\nexit'))[0]).to.deep.equal([0x05, 0, 0, 1, 0]);
    });
    it('calls: helper, local, runtime, register', () => {
      expect(one('call 5')).to.deep.equal([0x85, 0, 0, 0, 5]);
      expect(one('call helper 12')).to.deep.equal([0x85, 0, 0, 0, 12]);
      expect(one('call runtime 7')).to.deep.equal([0x85, 0, 2, 0, 7]);
      expect(one('call %r2')).to.deep.equal([0x8d, 2, 0, 0, 0]);
      expect(fields(parseUbpf('call local f\nexit\nf:\nexit'))[0]).to.deep.equal([0x85, 0, 1, 0, 1]);
      expect(one('exit')).to.deep.equal([0x95, 0, 0, 0, 0]);
    });
  });

  it('ignores comments, blank lines, commas or spaces between operands, and mnemonic case', () => {
    expect(fields(parseUbpf('# header\n\n  MOV %r1 2   # two\nadd %r1,%r2\n'))).to.deep.equal([
      [0xb7, 1, 0, 0, 2],
      [0x0f, 1, 2, 0, 0],
    ]);
  });

  it('records the source line of each instruction', () => {
    const [, second] = parseUbpf('mov %r0, 1\n  exit # done', 'p.s');
    expect(second!.source).to.deep.equal({ file: 'p.s', line: 2, column: 3, text: 'exit # done' });
  });

  describe('errors carry a code and file:line:col', () => {
    const cases: [string, string, string][] = [
      ['mov %r0, 1\nfrob %r1, 2', 'E_UNKNOWN_MNEMONIC', 'test.s:2:1'],
      ['mov %r11, 1', 'E_REGISTER', 'test.s:1:5'],
      ['mov %r1, %x', 'E_REGISTER', 'test.s:1:10'],
      ['mov32 %r1, 0x100000000', 'E_IMM_RANGE', 'test.s:1:12'],
      ['mov %r1, -2147483649', 'E_IMM_RANGE', 'test.s:1:10'],
      ['call 4294967295', 'E_IMM_RANGE', 'test.s:1:6'],
      ['call helper 2147483648', 'E_IMM_RANGE', 'test.s:1:13'],
      ['lddw %r1, 0x10000000000000000', 'E_IMM_RANGE', 'test.s:1:11'],
      ['ldxw %r1, [%r2+32768]', 'E_OFFSET_RANGE', 'test.s:1:16'],
      ['stw [%r2-32769], 1', 'E_OFFSET_RANGE', 'test.s:1:10'],
      ['ja nowhere', 'E_UNKNOWN_LABEL', 'test.s:1:4'],
      ['a:\nexit\na:\nexit', 'E_DUPLICATE_LABEL', 'test.s:3:1'],
      ['ja +32768', 'E_JUMP_RANGE', 'test.s:1:4'],
      ['mov %r1', 'E_OPERANDS', 'test.s:1:8'],
      ['exit %r0', 'E_OPERANDS', 'test.s:1:6'],
      ['mov %r1, 2, 3', 'E_OPERANDS', 'test.s:1:13'],
      ['ldxw %r1, %r2', 'E_SYNTAX', 'test.s:1:11'],
      ['mov %r1, 12abc', 'E_SYNTAX', 'test.s:1:10'],
      ['lock nand [%r1], %r2', 'E_UNKNOWN_MNEMONIC', 'test.s:1:6'],
      ['lock fetch xchg [%r1], %r2', 'E_SYNTAX', 'test.s:1:12'],
      ['call local', 'E_OPERANDS', 'test.s:1:11'],
      ['call far 3', 'E_SYNTAX', 'test.s:1:6'],
      ['ldxsdw %r1, [%r2]', 'E_UNKNOWN_MNEMONIC', 'test.s:1:1'],
      // Names an object literal inherits are not mnemonics.
      ['constructor %r1, %r2', 'E_UNKNOWN_MNEMONIC', 'test.s:1:1'],
      ['constructor32 %r1, 1, +0', 'E_UNKNOWN_MNEMONIC', 'test.s:1:1'],
    ];
    for (const [text, code, where] of cases) {
      it(`${JSON.stringify(text)} → ${code} at ${where}`, () => {
        const e = asmError(text);
        expect(e.code).to.equal(code);
        expect(e.message.startsWith(`${where}: `), e.message).to.equal(true);
      });
    }
    it('a jump whose label is too far is a range error', () => {
      const far = `ja far\n${'mov %r0, 0\n'.repeat(40000)}far:\nexit`;
      expect(asmError(far).code).to.equal('E_JUMP_RANGE');
    });
  });

  it('random text never throws anything but AsmError', () => {
    const words = ['mov', 'add32', 'lddw', 'ldxw', 'stxdw', 'lock', 'fetch', 'xchg', 'call', 'local', 'ja', 'jeq32', 'exit', 'be16',
      '%r1', '%r10', '%r99', '[%r1+4]', '[%r2-', '0x10', '-1', '+2', 'L:', 'L', ',', '#', 'movsx832', 'neg', ':', '[', ']'];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...words), fc.string({ maxLength: 6 })), { maxLength: 12 }), fc.integer({ min: 0, max: 11 }), (tokens, nl) => {
        const text = tokens.map((t, i) => (i === nl ? `${t}\n` : t)).join(' ');
        try {
          parseUbpf(text);
        } catch (e) {
          if (!(e instanceof AsmError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('asm/conformance-file', () => {
  const text = [
    '# Copyright header',
    '-- asm',
    'mov %r0, 1 # comment',
    'exit',
    '-- mem',
    '00 01 0a',
    'ff',
    '-- result',
    '',
    '0x2a',
    '',
    '-- c',
    '#include <x.h>',
  ].join('\n');

  it('reads asm, mem and result', () => {
    const t = parseConformanceFile(text, 'x.data');
    expect(Array.from(t.mem!)).to.deep.equal([0, 1, 10, 255]);
    expect(t.result).to.equal(42n);
    expect(fields(parseUbpf(t.asm!))).to.deep.equal([[0xb7, 0, 0, 0, 1], [0x95, 0, 0, 0, 0]]);
  });

  it('keeps asm line numbers equal to the file\'s', () => {
    const t = parseConformanceFile(text.replace('exit', 'exot'), 'x.data');
    expect(() => parseUbpf(t.asm!, 'x.data')).to.throw(AsmError, /^x\.data:4:1: /);
  });

  it('reads raw slots and decimal or negative results', () => {
    const t = parseConformanceFile('-- raw\n0x95\n\n18\n-- result\n-1\n');
    expect(t.raw).to.deep.equal([0x95n, 18n]);
    expect(t.result).to.equal(0xffffffffffffffffn);
    expect(parseConformanceFile('-- result\n1\n10\n').result).to.equal(10n);
  });

  it('reports bad sections with file:line:col', () => {
    expect(() => parseConformanceFile('-- mem\n00 zz\n', 'm.data')).to.throw(AsmError, /^m\.data:2:4: /);
    expect(() => parseConformanceFile('-- raw\nhello\n', 'r.data')).to.throw(AsmError, /^r\.data:2:1: /);
    expect(() => parseConformanceFile('-- result\n0xgg\n', 'q.data')).to.throw(AsmError, /^q\.data:2:1: /);
  });

  it('random files never throw anything but AsmError', () => {
    const lines = ['-- asm', '-- mem', '-- raw', '-- result', '-- error', '-- c', '0x10', '00 ff', 'zz', '-1', 'mov %r0, 1', '# x', ''];
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...lines), fc.string({ maxLength: 8 })), { maxLength: 12 }), (parts) => {
        try {
          const t = parseConformanceFile(parts.join('\n'), 'f.data');
          if (t.asm !== undefined) parseUbpf(t.asm, 'f.data');
        } catch (e) {
          if (!(e instanceof AsmError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('parses --mem style hex with optional spaces', () => {
    expect(Array.from(parseHexBytes('0011 22\n33'))).to.deep.equal([0, 0x11, 0x22, 0x33]);
    expect(() => parseHexBytes('0g')).to.throw(AsmError);
    expect(() => parseHexBytes('123')).to.throw(AsmError, /odd/);
  });
});
