/**
 * `tsbpf btf dump OBJ --format raw` prints what `bpftool btf dump file OBJ`
 * prints, for every clang object in bpf-tests (a kfunc in .ksyms is a FUNC
 * entry of its DATASEC, not a VAR: issue 13 item 10).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { bpfTestObjects, bpfTestsDir } from '../elf/objects.js';
import { haveBpftool } from '../support/tools.js';
import { readFileSync } from 'node:fs';
import { parseBtf, toRaw } from '../../src/btf/index.js';
import { readElf } from '../../src/elf/reader.js';

describe('btf: raw dump of bpf-tests objects matches bpftool', function () {
  before(function () {
    if (!haveBpftool()) this.skip(); // the oracle is missing
  });
  for (const file of bpfTestObjects()) {
    it(file, () => {
      const path = join(bpfTestsDir, file);
      const theirs = execFileSync('bpftool', ['btf', 'dump', 'file', path], { encoding: 'utf8' });
      const ours = toRaw(parseBtf(readElf(new Uint8Array(readFileSync(path))).section('.BTF')!.data));
      expect(`${ours.trimEnd()}\n`).to.equal(theirs);
    });
  }
});
