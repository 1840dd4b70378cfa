/**
 * `npm run fuzz` in CI: a fixed-seed short run of every target (the long
 * runs are recorded in fuzz/RESULTS.md) finds no crash and no hang, and the
 * runner itself catches an untyped error, a hang and a signal, each with a
 * reproducer that replays.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFuzz } from '../../fuzz/runner.js';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('fuzz targets (fixed seed, short)', function () {
  let out: string;
  before(() => (out = mkdtempSync(join(tmpdir(), 'tsbpf-fuzz-'))));
  after(() => rmSync(out, { recursive: true, force: true }));

  // Counts keep the whole suite near 30 s on an idle 2-core machine.
  for (const [target, count] of [['asm', 1500], ['interp', 400], ['elf', 300], ['btf', 300], ['compiler', 20]] as const) {
    it(`${target}: ${count} inputs, no crash, no hang`, async () => {
      const s = await runFuzz({ target, seed: 13, count, outDir: out });
      expect(s.findings.map((f) => `${f.kind} #${f.index}: ${f.error} (${f.file})`)).to.deep.equal([]);
      expect(s.ok + s.rejected).to.equal(count);
      // Mutation must reach the accepting paths too, not only the first check.
      expect(s.ok, 'inputs accepted').to.be.greaterThan(0);
    });
  }

  it('the runner reports an untyped error, a hang and a signal on their inputs, with reproducers', async () => {
    // Seed 6 of the self-test target: signal, throw, hang, ok, rejected.
    const s = await runFuzz({ target: 'selftest', seed: 6, count: 5, outDir: out, timeoutMs: 1500 });
    expect(s.findings.map((f) => [f.kind, f.index])).to.deep.equal([['signal', 0], ['crash', 1], ['hang', 2]]);
    expect([s.ok, s.rejected]).to.deep.equal([1, 1]);
    for (const f of s.findings) {
      expect(existsSync(f.file) && existsSync(`${f.file}.log`)).to.equal(true);
      expect(readFileSync(`${f.file}.log`, 'utf8')).to.contain(`npm run fuzz -- selftest --replay ${f.file}`);
    }
    expect(readFileSync(s.findings[1]!.file, 'utf8')).to.equal('throw');
    expect(readFileSync(`${s.findings[1]!.file}.log`, 'utf8')).to.contain('TypeError: selftest: an untyped error');
  });

  it('npm run fuzz -- TARGET --replay FILE runs one input', () => {
    const file = join(out, 'ok.txt');
    execFileSync('sh', ['-c', `printf ok > ${file}`]);
    const text = execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'fuzz/run.ts'), 'selftest', '--replay', file], { encoding: 'utf8', cwd: ROOT });
    expect(text).to.match(/ok\.txt: ok in /);
  });
});
