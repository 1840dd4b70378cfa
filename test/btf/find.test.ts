import { expect } from 'chai';
import { BtfBuilder, parseBtf } from '../../src/btf/index.js';

describe('btf: name lookups over the record index', function () {
  // 20 000 pointer records of 12 bytes: more records than the index's first guess (one per 32 bytes), so it grows during a scan.
  function manySmallRecords(): { bytes: Uint8Array; int: number; last: number; lastInt: number } {
    const b = new BtfBuilder();
    const int = b.int('int', 4, true);
    let t = int;
    for (let i = 0; i < 20000; i++) t = b.ptr(t);
    const last = b.struct('last', 8, [{ name: 'p', type: t, bitOffset: 0, bitfieldSize: 0 }]);
    const lastInt = b.int('last', 8);
    return { bytes: b.encode(), int, last, lastInt };
  }

  it('finds the last types of a blob whose index grows during the scan, aligned or not', function () {
    const { bytes, int, last, lastInt } = manySmallRecords();
    // An odd offset takes the DataView path; offset 0 the native-word path.
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    for (const blob of [bytes, unaligned]) {
      expect(parseBtf(blob).findByName('last', 'struct')).to.equal(last);
      expect(parseBtf(blob).findByName('last', 'int')).to.equal(lastInt);
      expect(parseBtf(blob).findAllByName('last')).to.deep.equal([last, lastInt]);
      expect(parseBtf(blob).findByName('int')).to.equal(int);
      expect(parseBtf(blob).findByName('missing')).to.equal(undefined);
      const btf = parseBtf(blob);
      expect(btf.findByName('int', 'int')).to.equal(int); // an early hit indexes only the start
      expect(btf.findByName('last', 'struct')).to.equal(last); // then the scan continues the index
      expect(btf.typeCount).to.equal(lastInt + 1);
    }
  });
});
