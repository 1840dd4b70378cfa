import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { readElf } from '../../src/elf/reader.js';
import { BtfBuilder, encodeBtf, encodeBtfExt, parseBtf, parseBtfExt, toRaw, type BtfExt } from '../../src/btf/index.js';

const testsDir = new URL('../../bpf-tests/', import.meta.url).pathname;
const objects = [
  new URL('./fixtures/core_kinds.bpf.o', import.meta.url).pathname,
  ...(existsSync(testsDir) ? readdirSync(testsDir).filter((f) => f.endsWith('.bpf.o')).map((f) => testsDir + f) : []),
];

describe('btf: .BTF.ext and clang objects', function () {
  for (const path of objects) {
    const name = path.split('/').pop()!;
    it(`${name}: .BTF and .BTF.ext re-encode to identical bytes`, function () {
      const elf = readElf(readFileSync(path));
      const btfBytes = elf.section('.BTF')!.data;
      const extBytes = elf.section('.BTF.ext')!.data;
      const btf = parseBtf(btfBytes).validate();
      const ext = parseBtfExt(extBytes, btf);
      expect(Buffer.from(encodeBtf(btf)).equals(Buffer.from(btfBytes))).to.equal(true);
      expect(Buffer.from(encodeBtfExt(ext)).equals(Buffer.from(extBytes))).to.equal(true);
      // Every func_info names a FUNC whose name is a symbol of its section; line_info quotes the source.
      expect(ext.funcInfo.length).to.be.greaterThan(0);
      for (const sec of ext.funcInfo) {
        const section = elf.section(sec.section)!;
        expect(section, sec.section).to.exist;
        for (const f of sec.records) {
          const fn = btf.type(f.typeId);
          expect(fn.kind).to.equal('func');
          const sym = elf.symbols.find((s) => s.name === fn.name && s.sectionIndex === section.index);
          expect(sym, fn.name).to.exist;
          expect(Number(sym!.value)).to.equal(f.insnOff);
        }
      }
      for (const sec of ext.lineInfo) {
        for (const l of sec.records) {
          expect(l.fileName).to.match(/\.[ch]$/);
          expect(l.insnOff % 8).to.equal(0);
        }
        // Line 0 marks compiler-made code; the rest quote source lines.
        expect(sec.records.some((l) => l.lineNumber > 0 && l.line.length > 0)).to.equal(true);
      }
    });
  }

  it('parses BTF that starts at an odd address inside a larger buffer', function () {
    const elf = readElf(readFileSync(objects[0]!));
    const bytes = elf.section('.BTF')!.data;
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 1);
    const view = shifted.subarray(1, 1 + bytes.length);
    expect(toRaw(parseBtf(view).validate())).to.equal(toRaw(parseBtf(new Uint8Array(bytes))));
  });

  it('encodes records built from strings (the DSL compiler\'s way) and reads them back, in both byte orders', function () {
    const b = new BtfBuilder();
    const int = b.int('int', 4, true);
    const proto = b.funcProto(int, []);
    const fn = b.func('count_packets', proto);
    const ext: BtfExt = {
      funcInfo: [{ section: 'xdp', records: [{ insnOff: 0, typeId: fn }] }],
      lineInfo: [
        {
          section: 'xdp',
          records: [
            { insnOff: 0, fileName: 'module.bpf.ts', line: 'export const countPackets = xdp((ctx) => {', lineNumber: 12, column: 1 },
            { insnOff: 16, fileName: 'module.bpf.ts', line: '  return XdpAction.PASS;', lineNumber: 13, column: 3 },
          ],
        },
      ],
      coreRelos: [{ section: 'xdp', records: [{ insnOff: 8, typeId: int, accessString: '0', kind: 'typeSize' }] }],
    };
    for (const littleEndian of [true, false]) {
      const bb = new BtfBuilder({ littleEndian });
      for (const t of b.types) bb.add(t!);
      const extBytes = encodeBtfExt(ext, bb, littleEndian);
      const btf = parseBtf(bb.encode());
      expect(btf.littleEndian).to.equal(littleEndian);
      const back = parseBtfExt(extBytes, btf);
      expect(back.funcInfo).to.deep.equal([{ section: 'xdp', sectionOff: back.funcInfo[0]!.sectionOff, records: [{ insnOff: 0, typeId: fn }] }]);
      expect(back.lineInfo[0]!.records.map((r) => [r.line, r.lineNumber, r.column])).to.deep.equal([
        ['export const countPackets = xdp((ctx) => {', 12, 1],
        ['  return XdpAction.PASS;', 13, 3],
      ]);
      expect(back.coreRelos[0]!.records[0]).to.deep.include({ insnOff: 8, typeId: int, accessString: '0', kind: 'typeSize' });
      // Without a builder, stored offsets are written back unchanged.
      expect(Buffer.from(encodeBtfExt(back, undefined, littleEndian)).equals(Buffer.from(extBytes))).to.equal(true);
    }
  });
});
