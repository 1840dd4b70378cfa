import { expect } from 'chai';
import { BtfObject } from '../../src/kernel/btf-object.js';
import { ALL_BTF_FEATURES, BtfBuilder, parseBtf, sanitizeBtf, toRaw, type Btf, type BtfFeatures } from '../../src/btf/index.js';
import { needKernel } from '../support/kernel.js';

/** A small BTF with every kind that older kernels reject. */
function everyNewKind(): Btf {
  const b = new BtfBuilder();
  const int = b.int('int', 4, true);
  const dbl = b.add({ kind: 'float', name: 'double', size: 8 });
  const tagged = b.add({ kind: 'type_tag', name: 'user', type: int });
  const ptr = b.ptr(tagged);
  const proto = b.funcProto(int, [{ name: 'ctx', type: ptr }]);
  const fn = b.func('handler', proto, 'global');
  b.add({ kind: 'decl_tag', name: 'bpf_kfunc', type: fn, componentIdx: -1 });
  const big = b.add({ kind: 'enum64', name: 'big', size: 8, signed: false, values: [{ name: 'BIG_A', value: 1n << 40n }, { name: 'BIG_B', value: 2n }] });
  const neg = b.add({ kind: 'enum', name: 'neg', size: 4, signed: true, values: [{ name: 'NEG_A', value: -1 }] });
  const s = b.struct('holder', 24, [
    { name: 'd', type: dbl, bitOffset: 0, bitfieldSize: 0 },
    { name: 'e', type: big, bitOffset: 64, bitfieldSize: 0 },
    { name: 'n', type: neg, bitOffset: 128, bitfieldSize: 0 },
  ]);
  const v = b.variable('state', s, 'global');
  b.datasec('.data.state', 24, [{ type: v, offset: 0, size: 24 }]);
  return parseBtf(b.encode());
}

const NONE: BtfFeatures = { func: false, funcGlobal: false, datasec: false, float: false, declTag: false, typeTag: false, enum64: false };

describe('btf: sanitising for older kernels', function () {
  it('leaves BTF alone when the kernel supports everything', function () {
    const btf = everyNewKind();
    const r = sanitizeBtf(btf, ALL_BTF_FEATURES);
    expect(r.changed).to.equal(false);
    expect(r.bytes).to.equal(btf.bytes);
  });

  it('replaces each unsupported kind as libbpf does, keeping type ids and strings', function () {
    const btf = everyNewKind();
    const out = parseBtf(sanitizeBtf(btf, NONE).bytes);
    const kinds = (x: Btf) => [...x.ids()].map((id) => x.kind(id));
    expect(kinds(btf)).to.deep.equal(['int', 'float', 'type_tag', 'ptr', 'func_proto', 'func', 'decl_tag', 'enum64', 'enum', 'struct', 'var', 'datasec']);
    expect(kinds(out)).to.deep.equal(['int', 'struct', 'const', 'ptr', 'enum', 'typedef', 'int', 'union', 'enum', 'struct', 'int', 'struct', 'int']);
    // Strings of the original are kept at their offsets (.BTF.ext refers to them).
    expect(Buffer.from(out.strings.bytes.subarray(0, btf.strings.length)).equals(Buffer.from(btf.strings.bytes))).to.equal(true);
    const sec = out.type(12);
    expect(sec).to.deep.include({ kind: 'struct', name: '_data_state', size: 24 });
    expect(sec.kind === 'struct' && sec.members[0]).to.deep.include({ name: 'state', type: 11, bitOffset: 0 });
    const union = out.type(8);
    expect(union.kind === 'union' && union.members.map((m) => [m.name, out.type(m.type).name])).to.deep.equal([
      ['BIG_A', 'enum64_placeholder'],
      ['BIG_B', 'enum64_placeholder'],
    ]);
    expect(out.type(9)).to.deep.include({ kind: 'enum', signed: false });
    // Only global linkage missing: the func stays a func, made static.
    const onlyLinkage = parseBtf(sanitizeBtf(btf, { ...ALL_BTF_FEATURES, funcGlobal: false }).bytes);
    expect(onlyLinkage.type(6)).to.deep.include({ kind: 'func', linkage: 'static' });
    expect(toRaw(onlyLinkage).split('\n').length).to.equal(toRaw(btf).split('\n').length);
  });

  it('the kernel accepts both the original and the fully sanitised BTF', function () {
    needKernel(this);
    const btf = everyNewKind();
    const original = BtfObject.load(btf.bytes);
    original.close();
    // func_proto→enum needs named parameters, which this one has.
    const sanitized = BtfObject.load(sanitizeBtf(btf, { ...NONE }).bytes);
    sanitized.close();
  });
});
