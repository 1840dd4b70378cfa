/**
 * The differential fuzzer's fixed-seed batch (issue 9 item 3): 2,000 random
 * modules, each run by the reference evaluator and the interpreter, every
 * 10th also in the kernel (BPF_PROG_TEST_RUN), must agree on r0, the packet,
 * every map and the events. A disagreement fails with the shrunk module and
 * the command that runs it again. More: npm run fuzz:dsl -- --count N --seed S.
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelRequired, kernelUnavailableReason } from '../../support/kernel.js';
import { fuzz } from './fuzz.js';

const SEED = 20261203;
const COUNT = 2000;

describe('dsl differential fuzzer: evaluator, interpreter and kernel agree', function () {
  // Minutes of CPU on a loaded machine; the batch itself takes about 30 s of CPU.
  this.timeout(20 * 60_000);

  it(`${COUNT} random modules (seed ${SEED}; every 10th also in the kernel)`, function () {
    const reason = kernelUnavailableReason();
    if (reason !== null && kernelRequired) throw new Error(`kernel test cannot run (${reason}) but TSBPF_REQUIRE_KERNEL=1`);
    const kernel = reason === null;
    const out = mkdtempSync(join(tmpdir(), 'tsbpf-difffuzz-'));
    const s = fuzz({ seed: SEED, size: 'small', count: COUNT, batch: 50, kernelEvery: kernel ? 10 : 0, out, shrink: true, maxFailures: 1 });
    const report = s.failures.map((f) => `program ${f.index}: ${f.kind}\n${f.detail}\nshrunk to ${f.file}:\n${f.source}`).join('\n\n');
    expect(s.failures.length, report).to.equal(0);
    expect(s.programs).to.equal(COUNT);
    // The generator stays inside the language (stack-hungry programs are the known exception).
    expect(s.invalid, s.invalidExamples.join('\n\n')).to.be.below(COUNT * 0.02);
    if (kernel) expect(s.kernel - s.tooComplex).to.be.at.least(COUNT / 10 - 10);
  });
});
