/**
 * The 313 bpf_conformance programs (an oracle written by others), assembled
 * from their ubpf text, must print in LLVM syntax and assemble back from
 * that text to the same bytes.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { assemble, disassemble } from '../../src/asm/index.js';
import { parseConformanceFile, rawSlotsToBytes } from '../../src/asm/conformance-file.js';
import { conformanceDir as dir, conformanceFiles as files, needConformance } from '../support/conformance.js';

describe('asm/conformance programs through the LLVM syntax', () => {
  it('all 313 programs: ubpf text → bytes → LLVM text → the same bytes', function () {
    needConformance(this);
    expect(files.length).to.equal(313);
    const failures: string[] = [];
    for (const f of files) {
      const test = parseConformanceFile(readFileSync(dir + f, 'utf8'), f);
      const bytes = test.asm !== undefined ? assemble(test.asm, { syntax: 'ubpf', file: f }).bytes : rawSlotsToBytes(test.raw ?? []);
      const back = assemble(disassemble(bytes).join('\n'), { file: f }).bytes;
      if (back.length !== bytes.length || back.some((b, i) => b !== bytes[i])) failures.push(f);
    }
    expect(failures).to.deep.equal([]);
  });
});
