/**
 * The 313 bpf_conformance programs (an oracle written by others), assembled
 * from their ubpf text, must print in LLVM syntax and assemble back from
 * that text to the same bytes.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { assemble, disassemble } from '../../src/asm/index.js';
import { parseConformanceFile, rawSlotsToBytes } from '../../src/asm/conformance-file.js';

const dir = new URL('../../../shared/conformance/tests/', import.meta.url);

describe('asm/conformance programs through the LLVM syntax', () => {
  it('all 313 programs: ubpf text → bytes → LLVM text → the same bytes', function () {
    if (!existsSync(dir)) {
      console.log('      (skipped: ../shared/conformance is not next to this checkout)');
      this.skip();
    }
    const files = readdirSync(dir).filter((f) => f.endsWith('.data'));
    expect(files.length).to.equal(313);
    const failures: string[] = [];
    for (const f of files) {
      const test = parseConformanceFile(readFileSync(new URL(f, dir), 'utf8'), f);
      const bytes = test.asm !== undefined ? assemble(test.asm, { syntax: 'ubpf', file: f }).bytes : rawSlotsToBytes(test.raw ?? []);
      const back = assemble(disassemble(bytes).join('\n'), { file: f }).bytes;
      if (back.length !== bytes.length || back.some((b, i) => b !== bytes[i])) failures.push(f);
    }
    expect(failures).to.deep.equal([]);
  });
});
