import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  R_BPF_64_32, R_BPF_64_64, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_ABS, SHT_NOBITS, SHT_PROGBITS, STB_GLOBAL, STB_LOCAL, STB_WEAK,
  STT_FUNC, STT_OBJECT, STT_SECTION, STV_HIDDEN,
} from '../../src/elf/constants.js';
import { ElfError } from '../../src/elf/errors.js';
import { readElf } from '../../src/elf/reader.js';
import { ElfWriter } from '../../src/elf/writer.js';
import { bpfTestObjects, bpfTestsDir, readBpfTestObject } from './objects.js';
import { thrownBy } from '../support/thrown.js';
import { commandRuns } from '../support/tools.js';

function sample(littleEndian: boolean, rela = false): Uint8Array {
  const w = new ElfWriter({ littleEndian, rela });
  const code = new Uint8Array(32).map((_, i) => i);
  const text = w.addSection({ name: 'xdp', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: code, addralign: 8 });
  const bss = w.addSection({ name: '.bss', type: SHT_NOBITS, flags: SHF_ALLOC | SHF_WRITE, size: 4096, addralign: 8 });
  const glob = w.addSymbol({ name: 'prog', section: text, type: STT_FUNC, binding: STB_GLOBAL, size: 32 });
  const local = w.addSymbol({ name: 'counter', section: bss, type: STT_OBJECT, binding: STB_LOCAL, value: 16, size: 8, visibility: STV_HIDDEN });
  w.addSymbol({ name: 'weak', section: 0, binding: STB_WEAK });
  w.addSymbol({ name: 'abs', section: SHN_ABS, value: 0x1234 });
  const sec = w.addSymbol({ name: '', section: bss, type: STT_SECTION });
  w.addRelocation(text, { offset: 0, symbol: local, type: R_BPF_64_64, addend: -2 });
  w.addRelocation(text, { offset: 16, symbol: glob, type: R_BPF_64_32 });
  w.addRelocation(text, { offset: 24, symbol: sec, type: R_BPF_64_64 });
  return w.toBytes();
}

describe('elf: reader and writer', () => {
  for (const le of [true, false]) {
    for (const rela of [false, true]) {
      it(`round-trips sections, symbols and ${rela ? 'rela' : 'rel'} relocations (${le ? 'little' : 'big'} endian)`, () => {
        const f = readElf(sample(le, rela));
        expect(f.littleEndian).to.equal(le);
        expect(f.sections.map((s) => s.name)).to.deep.equal(['', 'xdp', '.bss', rela ? '.relaxdp' : '.relxdp', '.symtab', '.strtab', '.shstrtab']);
        expect(f.section('xdp')!.data).to.deep.equal(new Uint8Array(32).map((_, i) => i));
        expect(f.section('.bss')!.size).to.equal(4096);
        expect(f.section('.bss')!.data.length).to.equal(0);
        // Locals first, whatever order they were added in.
        expect(f.symbols.map((s) => s.name)).to.deep.equal(['', 'counter', 'abs', '', 'prog', 'weak']);
        const counter = f.symbols[1]!;
        expect([counter.value, counter.size, counter.type, counter.binding, counter.visibility, counter.sectionIndex]).to.deep.equal([16n, 8n, STT_OBJECT, STB_LOCAL, STV_HIDDEN, 2]);
        expect(f.symbols[2]!.sectionIndex).to.equal(SHN_ABS);
        expect(f.symbols[5]!.binding).to.equal(STB_WEAK);
        const [rel] = f.relocationsFor(1);
        expect(rel!.relocations.map((r) => [Number(r.offset), f.symbols[r.symbolIndex]!.name, r.type])).to.deep.equal([
          [0, 'counter', R_BPF_64_64], [16, 'prog', R_BPF_64_32], [24, '', R_BPF_64_64],
        ]);
        expect(rel!.relocations[0]!.addend).to.equal(rela ? -2n : undefined);
        expect(f.sections[f.sections.findIndex((s) => s.name === '.symtab')]!.info).to.equal(4);
      });
    }
  }

  it('writes objects llvm-readelf accepts', function () {
    if (!commandRuns('llvm-readelf', '--version')) this.skip();
    const dir = mkdtempSync('/tmp/tsbpf-elf-');
    writeFileSync(join(dir, 'x.o'), sample(true));
    const out = execFileSync('llvm-readelf', ['-S', '-s', '-r', join(dir, 'x.o')], { encoding: 'utf8' });
    expect(out).to.match(/\.relxdp/);
    expect(out).to.match(/R_BPF_64_64 .* counter/);
    expect(out).to.match(/FUNC +GLOBAL +DEFAULT +\d+ prog/);
  });

  for (const name of bpfTestObjects()) {
    it(`reads ${name} like llvm-readelf`, function () {
      const f = readElf(readBpfTestObject(name));
      let out: string;
      try {
        out = execFileSync('llvm-readelf', ['-S', '--wide', join(bpfTestsDir, name)], { encoding: 'utf8' });
      } catch {
        this.skip();
      }
      const names = [...out.matchAll(/^\s+\[\s*(\d+)\] (\S*)/gm)].map((m) => m[2]);
      expect(f.sections.map((s) => s.name)).to.deep.equal(names);
      const symtab = execFileSync('llvm-readelf', ['-s', '--wide', join(bpfTestsDir, name)], { encoding: 'utf8' });
      const count = [...symtab.matchAll(/^\s+\d+: /gm)].length;
      expect(f.symbols.length).to.equal(count);
    });
  }

  it('rejects bad input with typed errors naming where', () => {
    const good = sample(true);
    const cases: [Uint8Array, string, string | undefined][] = [
      [good.subarray(0, 10), 'E_TRUNCATED', 'header'],
      [patch(good, 0, [0]), 'E_MAGIC', 'header'],
      [patch(good, 4, [1]), 'E_CLASS', 'header'],
      [patch(good, 40, [0xff, 0xff, 0xff, 0xff]), 'E_OFFSET', 'header'],
      [patch(good, 60, [0xff, 0x7f]), 'E_SHNUM', 'header'],
      [patch(good, 62, [0x40]), 'E_SHSTRNDX', 'header'],
    ];
    for (const [bytes, code, section] of cases) {
      const e = thrownBy(() => readElf(bytes), ElfError, code);
      expect(e.code).to.equal(code);
      expect(e.section).to.equal(section);
    }
  });
});

function patch(bytes: Uint8Array, at: number, values: number[]): Uint8Array {
  const copy = bytes.slice();
  copy.set(values, at);
  return copy;
}
