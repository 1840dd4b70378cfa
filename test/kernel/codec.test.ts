import { expect } from 'chai';
import fc from 'fast-check';
import { codec } from '../../src/kernel/index.js';

// Pure: no kernel needed. (Lives with the kernel tests because the codecs are part of src/kernel.)
describe('kernel: codecs', () => {
  const cases: Array<[string, codec.Codec<number>, number, number]> = [
    ['u8', codec.u8, 0, 0xff], ['u16', codec.u16, 0, 0xffff], ['u32', codec.u32, 0, 0xffffffff],
    ['i8', codec.i8, -128, 127], ['i16', codec.i16, -32768, 32767], ['i32', codec.i32, -(2 ** 31), 2 ** 31 - 1],
  ];
  for (const [name, c, min, max] of cases) {
    it(`${name} round-trips and matches DataView little-endian`, () => {
      fc.assert(fc.property(fc.integer({ min, max }), (n) => {
        const b = new Uint8Array(c.size);
        c.encode(n, b);
        const dv = new DataView(b.buffer);
        const viaDv = c.size === 1 ? (min < 0 ? dv.getInt8(0) : dv.getUint8(0)) : c.size === 2 ? (min < 0 ? dv.getInt16(0, true) : dv.getUint16(0, true)) : min < 0 ? dv.getInt32(0, true) : dv.getUint32(0, true);
        expect(viaDv).to.equal(n);
        expect(c.decode(b)).to.equal(n);
      }));
    });
  }

  it('u64/i64 round-trip bigints', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (n) => {
      const b = new Uint8Array(8);
      codec.u64.encode(n, b);
      expect(codec.u64.decode(b)).to.equal(n);
      expect(codec.i64.decode(b)).to.equal(BigInt.asIntN(64, n));
    }));
  });

  it('arrays and structs lay out like C', () => {
    const s = codec.struct({ tag: codec.u8, pair: codec.array(codec.u16, 2), big: codec.u64, tail: codec.u8 });
    expect(s.offsets).to.deep.equal({ tag: 0, pair: 2, big: 8, tail: 16 });
    expect(s.size).to.equal(24);
    const b = new Uint8Array(s.size);
    s.encode({ tag: 1, pair: [2, 3], big: 4n, tail: 5 }, b);
    expect(s.decode(b)).to.deep.equal({ tag: 1, pair: [2, 3], big: 4n, tail: 5 });
    expect(() => codec.bytes(4).encode(new Uint8Array(3), new Uint8Array(4))).to.throw(RangeError);
  });
});
