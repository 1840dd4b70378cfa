// The 313 bpf_conformance programs: assembled with parseUbpf (or taken from
// `-- raw`), run in the interpreter, r0 compared with the expected result.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { encode } from '../../src/asm/codec.js';
import { parseConformanceFile, rawSlotsToBytes } from '../../src/asm/conformance-file.js';
import { parseUbpf } from '../../src/asm/ubpf.js';
import { runSync } from '../../src/interp/index.js';
import { conformanceDir as dir, conformanceFiles as files, needConformance } from '../support/conformance.js';

const hex = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

describe('conformance suite through the interpreter', () => {
  before(function () {
    needConformance(this);
  });

  it('has all 313 programs', () => {
    expect(files).to.have.length(313);
  });

  for (const file of files) {
    it(file, () => {
      const test = parseConformanceFile(readFileSync(dir + file, 'utf8'), file);
      expect(test.result, 'expected result').to.be.a('bigint');
      const assembled = encode(parseUbpf(test.asm ?? '', file));
      const bytes = test.raw ? rawSlotsToBytes(test.raw) : assembled;
      if (test.raw) expect(assembled, 'asm and raw sections agree').to.deep.equal(bytes);
      const { r0 } = runSync(bytes, { mem: test.mem });
      expect(hex(r0)).to.equal(hex(test.result!));
    });
  }
});
