// The 313 bpf_conformance programs: assembled with parseUbpf (or taken from
// `-- raw`), run in the interpreter, r0 compared with the expected result.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { encode } from '../../src/asm/codec.js';
import { parseConformanceFile, rawSlotsToBytes } from '../../src/asm/conformance-file.js';
import { parseUbpf } from '../../src/asm/ubpf.js';
import { runSync } from '../../src/interp/index.js';

// ../shared/conformance beside the checkout (see ARCHITECTURE.md), or TSBPF_CONFORMANCE_DIR.
const dir = process.env.TSBPF_CONFORMANCE_DIR
  ? `${process.env.TSBPF_CONFORMANCE_DIR.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('../../../shared/conformance/tests/', import.meta.url));
// A missing folder fails one test with a clear message instead of breaking the whole mocha run at load time.
let files: string[] = [];
let missing: string | undefined;
try {
  files = readdirSync(dir)
    .filter((f) => f.endsWith('.data'))
    .sort();
} catch (e) {
  missing = `${dir}: ${(e as Error).message} (set TSBPF_CONFORMANCE_DIR)`;
}

const hex = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;

describe('conformance suite through the interpreter', () => {
  it('has all 313 programs', () => {
    expect(missing, missing).to.equal(undefined);
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
