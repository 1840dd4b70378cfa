/**
 * Bad input: mutated copies of valid objects (truncations, random bytes,
 * bad offsets, counts and sizes in the ELF and BTF headers, symbols and
 * relocations) give only typed errors that say where; never a crash, a
 * hang or an out-of-memory.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ElfError } from '../../src/elf/errors.js';
import { kernelBtfBytes } from '../../src/elf/kernel-btf.js';
import { parseObject } from '../../src/elf/parse-object.js';
import { checkObjectError, elfHotSpots } from '../../fuzz/target-elf.js';
import { bpfTestObjects, readBpfTestObject } from './objects.js';

const objects = bpfTestObjects().map((name) => ({ name, bytes: readBpfTestObject(name) }));

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

describe('elf: fuzzing parseObject with mutated bpf-tests objects', function () {
  for (const { name, bytes } of objects) {
    it(`${name}: only typed, located errors`, () => {
      const spots = elfHotSpots(bytes);
      fc.assert(
        fc.property(fc.array(mutation(bytes.length, spots), { minLength: 1, maxLength: 4 }), (muts) => {
          const input = apply(bytes, muts);
          try {
            const spec = parseObject(input, { name: 'fuzz' });
            kernelBtfBytes(spec); // what the loader would hand the kernel
          } catch (e) {
            checkObjectError(e); // shared with npm run fuzz -- elf
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
