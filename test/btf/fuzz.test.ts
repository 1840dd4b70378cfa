/**
 * Mutated BTF and .BTF.ext blobs (truncations, bad offsets and counts, type
 * ids rewired into loops, huge sizes) through every entry point: only
 * BtfError naming where may come out; never a crash, a hang or an OOM.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { readElf } from '../../src/elf/reader.js';
import { BtfBuilder, BtfError, parseBtf, sizeOf, toCHeader, toRaw } from '../../src/btf/index.js';
import { exercise as exerciseBlob, exerciseExt } from '../../fuzz/target-btf.js';


function fixture(name: string): { btf: Uint8Array; ext: Uint8Array | undefined } {
  const elf = readElf(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));
  // Copies: a Buffer's slice() would share memory with the file.
  const copy = (b: Uint8Array | undefined) => (b ? new Uint8Array(b) : undefined);
  return { btf: copy(elf.section('.BTF')!.data)!, ext: copy(elf.section('.BTF.ext')?.data) };
}

/** Valid BTF whose type graph loops through pointers and typedefs (legal), plus malformed self-containment. */
function loops(): Uint8Array {
  const b = new BtfBuilder();
  const int = b.int('int', 4, true);
  const s = b.reserve();
  const p = b.ptr(s);
  const td = b.typedef('node_t', p);
  b.set(s, { kind: 'struct', name: 'node', size: 16, members: [{ name: 'next', type: td, bitOffset: 0, bitfieldSize: 0 }, { name: 'v', type: int, bitOffset: 64, bitfieldSize: 0 }] });
  const anon = b.reserve();
  b.set(anon, { kind: 'struct', name: '', size: 8, members: [{ name: 'self', type: anon, bitOffset: 0, bitfieldSize: 0 }] });
  const t1 = b.reserve();
  const t2 = b.typedef('t2', t1);
  b.set(t1, { kind: 'typedef', name: 't1', type: t2 });
  const c = b.reserve();
  b.set(c, { kind: 'const', name: '', type: c });
  const arr = b.reserve();
  b.set(arr, { kind: 'array', name: '', type: arr, indexType: int, nelems: 0xffffffff });
  b.struct('holder', 0xffffffff, [{ name: 'a', type: anon, bitOffset: 0, bitfieldSize: 0 }, { name: 'x', type: arr, bitOffset: 64, bitfieldSize: 0 }]);
  return b.encode();
}

type Mutation = { op: 'set32'; at: number; value: number } | { op: 'byte'; at: number; value: number } | { op: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant('set32' as const),
    at: fc.nat(),
    value: fc.oneof(fc.integer({ min: 0, max: 24 }), fc.constantFrom(0xffff, 0xffffffff, 0x7fffffff, 0x80000000, 0x0d000003, 0x8400ffff), fc.nat()),
  }),
  fc.record({ op: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(input: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = new Uint8Array(input);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.op === 'truncate') b = new Uint8Array(b.subarray(0, at));
    else if (m.op === 'byte') b[at] = m.value;
    else if (at + 4 <= b.length) new DataView(b.buffer).setUint32(at & ~3, m.value >>> 0, true);
  }
  return b;
}

/** Every entry point (shared with `npm run fuzz -- btf`): only BtfError naming where. */
const exercise = (btf: Uint8Array, ext?: Uint8Array): void => {
  exerciseBlob(btf);
  if (ext) exerciseExt(btf, ext);
};

describe('btf: fuzzing with mutated blobs', function () {
  const layouts = fixture('layouts.bpf.o');
  const core = fixture('core_kinds.bpf.o');
  const cyclic = loops();

  it('the unmutated blobs go through every entry point', function () {
    exercise(layouts.btf);
    exercise(core.btf, core.ext);
    exercise(cyclic);
    // The malformed loops are reported, not followed forever.
    const btf = parseBtf(cyclic);
    expect(() => sizeOf(btf, btf.findByName('t1')!)).to.throw(BtfError, /loops/);
    expect(() => toCHeader(btf)).to.throw(BtfError, /contains itself/);
  });

  for (const [name, blob] of [['layouts .BTF', layouts.btf], ['core_kinds .BTF', core.btf], ['looping .BTF', cyclic]] as const)
    it(`mutated ${name}: only BtfError`, function () {
      fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => exercise(mutate(blob, ms))), { numRuns: 300 });
    });

  it('mutated .BTF.ext with its .BTF: only BtfError', function () {
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => void exerciseExt(core.btf, mutate(core.ext!, ms))), { numRuns: 500 });
  });

  it('mutated big-endian BTF: only BtfError', function () {
    const be = BtfBuilder.from(parseBtf(layouts.btf));
    const bytes = new BtfBuilder({ littleEndian: false, strings: parseBtf(layouts.btf).strings.bytes });
    for (const t of be.types) bytes.add(t!);
    const blob = bytes.encode();
    expect(toRaw(parseBtf(blob))).to.equal(toRaw(parseBtf(layouts.btf)));
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (ms) => exercise(mutate(blob, ms))), { numRuns: 100 });
  });
});
