import { expect } from 'chai';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ElfSymbolError, ElfSymbols } from '../../src/kernel/elf-symbols.js';
import { encodePerfEventAttr, PERF_ATTR_SIZE, PerfAttrFlag, PerfType } from '../../src/syscall/perf-event.js';

const bytes = new Uint8Array(readFileSync('/bin/true'));
const libcPath = (): string | undefined =>
  readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/)[5]).find((p) => p && /\/libc\.so\.6$/.test(p));

describe('kernel/elf-symbols (pure)', function () {
  it('finds the .dynsym functions of libc, with file offsets inside the file', function () {
    const libc = libcPath();
    if (!libc) this.skip();
    const file = new Uint8Array(readFileSync(libc!));
    const syms = new ElfSymbols(file, libc);
    expect(syms.functions().size).to.be.greaterThan(1000);
    for (const s of syms.functions().values()) expect(s.fileOffset < BigInt(file.byteLength)).to.equal(true);
  });

  it('agrees with nm -D on the address of a libc function', function () {
    const libc = libcPath();
    if (!libc) this.skip();
    const nm = execFileSync('nm', ['-D', '--defined-only', libc!], { encoding: 'utf8' });
    const want = BigInt('0x' + /^([0-9a-f]+) [TtWi] getppid(@@?\S+)?$/m.exec(nm)![1]);
    const sym = new ElfSymbols(new Uint8Array(readFileSync(libc!)), libc).lookup('getppid');
    expect(sym.address).to.equal(want);
    expect(sym.table).to.equal('.dynsym');
  });

  it('a missing symbol and a non-ELF file are typed errors', function () {
    expect(() => new ElfSymbols(bytes).lookup('no_such_symbol_xyz')).to.throw(ElfSymbolError).with.property('code', 'ENOSYM');
    expect(() => new ElfSymbols(new TextEncoder().encode('#!/bin/sh\necho hi\n'))).to.throw(ElfSymbolError).with.property('code', 'ENOTELF');
  });

  it('truncated or corrupted files give ElfSymbolError or a result, never another error', function () {
    fc.assert(
      fc.property(fc.nat(bytes.byteLength), fc.array(fc.tuple(fc.nat(Math.min(bytes.byteLength - 1, 4095)), fc.nat(255)), { maxLength: 16 }), (cut, edits) => {
        const copy = bytes.slice(0, Math.max(cut, 0));
        for (const [at, v] of edits) if (at < copy.byteLength) copy[at] = v;
        try {
          new ElfSymbols(copy).functions();
        } catch (err) {
          if (!(err instanceof ElfSymbolError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('syscall/perf-event attr encoding (pure)', function () {
  it('writes type, size, config, period, flags and probe fields at the uapi offsets', function () {
    const out = new Uint8Array(PERF_ATTR_SIZE + 8).fill(0xee);
    encodePerfEventAttr({ type: PerfType.TRACEPOINT, config: 1234n, samplePeriod: 1n, sampleType: 1 << 10, flags: PerfAttrFlag.DISABLED, wakeupEvents: 1, config1: 0x1000n, config2: 0x20n }, out);
    const v = new DataView(out.buffer);
    expect(v.getUint32(0, true)).to.equal(2);
    expect(v.getUint32(4, true)).to.equal(PERF_ATTR_SIZE);
    expect(v.getBigUint64(8, true)).to.equal(1234n);
    expect(v.getBigUint64(16, true)).to.equal(1n);
    expect(v.getBigUint64(24, true)).to.equal(1024n);
    expect(v.getBigUint64(40, true)).to.equal(1n);
    expect(v.getUint32(48, true)).to.equal(1);
    expect(v.getBigUint64(56, true)).to.equal(0x1000n);
    expect(v.getBigUint64(64, true)).to.equal(0x20n);
    expect(out[PERF_ATTR_SIZE]).to.equal(0xee, 'nothing written past the struct');
    expect(() => encodePerfEventAttr({ type: 1 }, new Uint8Array(64))).to.throw(RangeError);
  });
});
