import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { decode } from '../../src/asm/codec.js';
import { parseConformanceFile, rawSlotsToBytes } from '../../src/asm/conformance-file.js';
import { parseUbpf } from '../../src/asm/ubpf.js';
import { runInKernel } from '../../src/cli/exec-kernel.js';
import { VerifierError } from '../../src/kernel/index.js';
import { conformanceDir as DIR, conformanceFiles as files, needConformance } from '../support/conformance.js';
import { skipWithout } from '../support/features.js';
import { needKernel } from '../support/kernel.js';

/** Rejected by the 6.18 verifier by design (see the conformance README), with the verifier's words. */
const rejected = new Map<string, RegExp>([['callx.data', /unknown opcode 8d/]]);
for (const op of ['lsh', 'rsh', 'arsh']) {
  for (const width of ['32', '64']) {
    for (const kind of ['high', 'neg']) rejected.set(`${op}${width}-imm-${kind}.data`, /invalid shift/);
  }
}

describe('kernel: conformance programs through BPF_PROG_TEST_RUN', function () {
  before(function () {
    needConformance(this);
    needKernel(this);
    // The expected results (300 pass, 13 rejected) are those of Linux 6.18; kernels
    // without ISA v4 (before 6.6) reject many more programs by design.
    skipWithout(this, 'isa_v4');
  });

  it('has all 313 programs, 13 of them expected to be rejected', () => {
    expect(files).to.have.length(313);
    expect([...rejected.keys()].filter((f) => files.includes(f))).to.have.length(13);
  });

  for (const file of files) {
    it(file, async () => {
      const test = parseConformanceFile(readFileSync(`${DIR}${file}`, 'utf8'), file);
      const insns = test.raw ? decode(rawSlotsToBytes(test.raw)) : parseUbpf(test.asm ?? '', file);
      const expectedRejection = rejected.get(file);
      if (expectedRejection) {
        let err: unknown;
        try {
          await runInKernel(insns, test.mem);
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(VerifierError);
        expect((err as VerifierError).message).to.match(expectedRejection);
        return;
      }
      const r0 = await runInKernel(insns, test.mem);
      expect(`0x${r0.toString(16)}`).to.equal(`0x${test.result!.toString(16)}`);
    });
  }

});
