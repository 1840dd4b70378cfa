import { expect } from 'chai';
import { compareRuns, formatReport, reportClean, reportJson, resultsFromMochaJson, runCounts, type RunResult, type TestResult } from './compare.js';
import { parseOptions } from './run.js';

const t = (title: string, state: TestResult['state'], error?: string, file = 'test/x.test.ts'): TestResult => ({ title, file, state, ...(error !== undefined ? { error } : {}) });
const run = (...tests: TestResult[]): RunResult => ({ tests });

describe('flake finder: comparing runs', () => {
  it('finds nothing when every test has the same result in every run', () => {
    const r = compareRuns([run(t('a', 'passed'), t('b', 'pending')), run(t('b', 'pending'), t('a', 'passed'))]);
    expect(r).to.deep.include({ runs: 2, runsWithResults: [1, 2], tests: 2, changed: [], alwaysFailed: [], brokenRuns: [] });
    expect(reportClean(r)).to.equal(true);
    expect(formatReport(r, 'test/x.test.ts')).to.equal('flake: 2 runs of test/x.test.ts: 2 tests, 0 changed their result, 0 failed every run\n');
  });

  it('reports a test that failed in some runs, with its counts, the failing runs and each distinct error', () => {
    const r = compareRuns([
      run(t('a', 'passed'), t('count', 'passed')),
      run(t('a', 'passed'), t('count', 'failed', 'expected 26n to equal 25n')),
      run(t('a', 'passed'), t('count', 'passed')),
      run(t('a', 'passed'), t('count', 'failed', 'expected 26n to equal 25n')),
      run(t('a', 'passed'), t('count', 'failed', 'expected 27n to equal 25n\n  at stack')),
    ]);
    expect(r.changed).to.have.length(1);
    expect(r.changed[0]).to.deep.equal({
      title: 'count', file: 'test/x.test.ts',
      states: ['passed', 'failed', 'passed', 'failed', 'failed'],
      counts: { passed: 2, failed: 3 },
      failedRuns: [2, 4, 5],
      errors: ['expected 26n to equal 25n', 'expected 27n to equal 25n\n  at stack'],
    });
    expect(reportClean(r)).to.equal(false);
    const text = formatReport(r, 'test/x.test.ts');
    expect(text).to.contain('CHANGED count (test/x.test.ts)\n  passed 2, failed 3 (failed in runs 2, 4, 5)\n  expected 26n to equal 25n\n  expected 27n to equal 25n\n');
    expect(text).not.to.contain('at stack');
  });

  it('counts a change between passed and pending, and a test missing from a run (a hook failed) as changes', () => {
    const r = compareRuns([
      run(t('skips sometimes', 'passed'), t('under hook', 'passed')),
      run(t('skips sometimes', 'pending'), t('"before all" hook for "under hook"', 'failed', 'EBUSY')),
    ]);
    expect(r.changed.map((h) => [h.title, h.states])).to.deep.equal([
      ['skips sometimes', ['passed', 'pending']],
      ['under hook', ['passed', 'not run']],
      ['"before all" hook for "under hook"', ['not run', 'failed']],
    ]);
  });

  it('reports tests that failed in every run apart from the changed ones', () => {
    const r = compareRuns([run(t('broken', 'failed', 'no')), run(t('broken', 'failed', 'no'))]);
    expect(r.changed).to.deep.equal([]);
    expect(r.alwaysFailed.map((h) => [h.title, h.failedRuns, h.errors])).to.deep.equal([['broken', [1, 2], ['no']]]);
    expect(reportClean(r)).to.equal(false);
    expect(formatReport(r, 'x')).to.contain('FAILED  broken (test/x.test.ts)\n  failed 2 (failed in runs 1, 2)\n  no\n');
  });

  it('leaves runs without results out of the comparison and reports them', () => {
    const r = compareRuns([run(t('a', 'passed')), { tests: [], problem: 'mocha exited 134 without a report' }, run(t('a', 'passed'))]);
    expect(r.runsWithResults).to.deep.equal([1, 3]);
    expect(r.changed).to.deep.equal([]);
    expect(r.brokenRuns).to.deep.equal([{ run: 2, problem: 'mocha exited 134 without a report' }]);
    expect(reportClean(r)).to.equal(false);
    expect(formatReport(r, 'x')).to.contain(', 1 run without results\n').and.to.contain('BROKEN  run 2: mocha exited 134 without a report');
    expect(reportClean(compareRuns([{ tests: [], problem: 'x' }]))).to.equal(false);
  });

  it('tells tests apart by file, and same-titled tests in one file by their order', () => {
    const r = compareRuns([
      run(t('same', 'passed', undefined, 'a.ts'), t('same', 'passed', undefined, 'b.ts'), t('twice', 'passed'), t('twice', 'passed')),
      run(t('same', 'passed', undefined, 'a.ts'), t('same', 'failed', 'x', 'b.ts'), t('twice', 'passed'), t('twice', 'failed', 'y')),
    ]);
    expect(r.tests).to.equal(4);
    expect(r.changed.map((h) => [h.file, h.title, h.states])).to.deep.equal([['b.ts', 'same', ['passed', 'failed']], ['test/x.test.ts', 'twice', ['passed', 'failed']]]);
  });

  it('gives one JSON object with the changed tests, and per-run counts', () => {
    const r = compareRuns([run(t('a', 'passed'), t('b', 'pending')), run(t('a', 'failed', 'boom'), t('b', 'pending'))]);
    expect(reportJson(r, 'x')).to.deep.equal({
      flake: 'x', runs: 2, runsWithResults: 2, tests: 2, clean: false, brokenRuns: [], alwaysFailed: [],
      changed: [{ title: 'a', file: 'test/x.test.ts', counts: { passed: 1, failed: 1 }, failedRuns: [2], errors: ['boom'] }],
    });
    expect(runCounts(run(t('a', 'passed'), t('b', 'pending'), t('c', 'failed')))).to.deep.equal({ passed: 1, failed: 1, pending: 1 });
  });
});

describe('flake finder: mocha JSON reports and options', () => {
  it('reads passes, failures (hooks included) and pending from mocha\'s JSON reporter, files relative to the root', () => {
    const json = JSON.stringify({
      stats: { tests: 3 },
      tests: [],
      passes: [{ title: 'p', fullTitle: 'suite p', file: '/repo/test/a.test.ts', err: {} }],
      failures: [
        { title: 'f', fullTitle: 'suite f', file: '/repo/test/a.test.ts', err: { message: 'expected 1 to equal 2', stack: '...' } },
        { title: '"before all" hook', fullTitle: 'other "before all" hook', file: '/repo/test/b.test.ts', err: { stack: 'Error: only a stack' } },
      ],
      pending: [{ title: 's', fullTitle: 'suite s', file: '/elsewhere/c.test.ts', err: {} }],
    });
    expect(resultsFromMochaJson(json, '/repo')).to.deep.equal({
      tests: [
        { title: 'suite p', file: 'test/a.test.ts', state: 'passed' },
        { title: 'suite f', file: 'test/a.test.ts', state: 'failed', error: 'expected 1 to equal 2' },
        { title: 'other "before all" hook', file: 'test/b.test.ts', state: 'failed', error: 'Error: only a stack' },
        { title: 'suite s', file: '/elsewhere/c.test.ts', state: 'pending' },
      ],
    });
  });

  it('turns a report that does not parse or lacks its lists into a run without results', () => {
    expect(resultsFromMochaJson('{"passes": [').problem).to.match(/does not parse/);
    expect(resultsFromMochaJson('{"passes": []}').problem).to.match(/lacks its passes\/failures\/pending/);
    expect(resultsFromMochaJson('null').problem).to.match(/lacks/);
  });

  it('parses its command line: files, --runs, --grep, --json; bad values are errors', () => {
    expect(parseOptions(['test/a.test.ts', '--runs', '20'])).to.deep.equal({ files: ['test/a.test.ts'], runs: 20, json: false });
    expect(parseOptions(['a', 'b', '--grep', 'kprobe', '--json'])).to.deep.equal({ files: ['a', 'b'], runs: 10, json: true, grep: 'kprobe' });
    expect(parseOptions(['a', '--runs', '0'])).to.deep.equal({ error: "--runs must be a whole number of at least 1, not '0'" });
    expect(parseOptions(['a', '--runs', '2.5'])).to.have.property('error');
    expect(parseOptions(['--runs', '3'])).to.deep.equal({ error: 'name the test files to run (files or globs, as for mocha)' });
    expect(parseOptions(['a', '--frobnicate'])).to.have.property('error').that.matches(/frobnicate/);
    expect(parseOptions(['--help'])).to.deep.equal({ error: '' });
  });
});
