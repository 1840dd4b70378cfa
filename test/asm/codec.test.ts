import { expect } from 'chai';
import { decode, encode } from '../../src/asm/codec.js';
import { instruction, wideLoad } from '../../src/asm/instruction.js';

describe('asm/codec', () => {
  it('encodes and decodes a plain and a wide instruction', () => {
    const insns = [instruction(0xb7, 0, 0, 0, -1), wideLoad(1, 0x1122334455667788n), instruction(0x95)];
    const bytes = encode(insns);
    expect(bytes.length).to.equal(32);
    expect(decode(bytes)).to.deep.equal(insns);
  });
  it('rejects a truncated program with the slot', () => {
    expect(() => decode(new Uint8Array(12))).to.throw(/slot 1/);
  });
});
