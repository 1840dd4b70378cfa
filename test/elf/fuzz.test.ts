/**
 * Bad input: mutated copies of valid objects (truncations, random bytes,
 * bad offsets, counts and sizes in the ELF and BTF headers, symbols and
 * relocations) give only typed errors that say where; never a crash, a
 * hang or an out-of-memory.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { AsmError } from '../../src/asm/errors.js';
import { BtfError } from '../../src/btf/errors.js';
import { ElfError } from '../../src/elf/errors.js';
import { kernelBtfBytes } from '../../src/elf/kernel-btf.js';
import { parseObject } from '../../src/elf/parse-object.js';
import { readElf } from '../../src/elf/reader.js';
import { bpfTestObjects, readBpfTestObject } from './objects.js';

const objects = bpfTestObjects().map((name) => ({ name, bytes: readBpfTestObject(name) }));

/** Interesting places to corrupt: header fields, section headers, .BTF/.BTF.ext headers, symbols, relocations. */
function hotSpots(bytes: Uint8Array): number[] {
  const spots = [24, 32, 40, 48, 58, 60, 62];
  const f = readElf(bytes);
  const shoff = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(40, true));
  for (let i = 0; i < f.sections.length; i++) for (const o of [0, 4, 24, 32, 40, 44, 56]) spots.push(shoff + i * 64 + o);
  for (const s of f.sections) {
    if (s.name === '.BTF' || s.name === '.BTF.ext') for (let o = 0; o < 32; o += 4) spots.push(s.offset + o);
    if (s.type === 2) for (let o = 0; o < Math.min(s.size, 24 * 40); o += 4) spots.push(s.offset + o);
    if (s.type === 9) for (let o = 0; o < Math.min(s.size, 16 * 20); o += 4) spots.push(s.offset + o);
    if (s.name === '.maps' || s.name === '.BTF') for (let o = 0; o < Math.min(s.size, 256); o += 4) spots.push(s.offset + o);
  }
  return spots.filter((x) => x < bytes.length - 4);
}

const mutation = (size: number, spots: number[]) => fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: size - 1 }) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.integer({ min: 0, max: size - 1 }), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('word' as const), at: fc.constantFrom(...spots),
    value: fc.oneof(fc.constantFrom(0, 1, 0xff, 0xffff, 0x7fffffff, 0xffffffff, size, size - 1, size + 8), fc.integer({ min: 0, max: 0xffffffff })),
  }),
);

function apply(bytes: Uint8Array, muts: { kind: string; at: number; value?: number }[]): Uint8Array {
  let out = bytes.slice();
  for (const m of muts) {
    if (m.kind === 'truncate') out = out.slice(0, Math.min(m.at, out.length));
    else if (m.kind === 'byte' && m.at < out.length) out[m.at] = m.value!;
    else if (m.kind === 'word' && m.at + 4 <= out.length) new DataView(out.buffer).setUint32(m.at, m.value! >>> 0, true);
  }
  return out;
}

function checkTyped(e: unknown): void {
  if (e instanceof ElfError) {
    expect(e.section !== undefined || e.offset !== undefined, `ElfError without a place: ${e.message}`).to.equal(true);
    return;
  }
  if (e instanceof BtfError) {
    expect(e.location, `BtfError without a place: ${e.message}`).to.not.equal(undefined);
    return;
  }
  if (e instanceof AsmError) return; // carries its slot
  throw e;
}

describe('elf: fuzzing parseObject with mutated bpf-tests objects', function () {
  for (const { name, bytes } of objects) {
    it(`${name}: only typed, located errors`, () => {
      const spots = hotSpots(bytes);
      fc.assert(
        fc.property(fc.array(mutation(bytes.length, spots), { minLength: 1, maxLength: 4 }), (muts) => {
          const input = apply(bytes, muts);
          try {
            const spec = parseObject(input, { name: 'fuzz' });
            kernelBtfBytes(spec); // what the loader would hand the kernel
          } catch (e) {
            checkTyped(e);
          }
        }),
        { numRuns: 250, seed: 42 },
      );
    });
  }

  it('rejects objects that are not ELF or not BPF with typed errors', () => {
    for (const input of [new Uint8Array(0), new Uint8Array(100), new TextEncoder().encode('\x7fELF not really an object at all........................................')]) {
      expect(() => parseObject(input)).to.throw(ElfError);
    }
  });
});
