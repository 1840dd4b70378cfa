/**
 * The flake finder: runs test files N times with mocha (a fresh process each
 * time, JSON reporter) and reports every test whose result changed between
 * runs, those that failed every time, and runs that produced no results.
 *
 *   npm run flake -- test/kernel/link-tracepoint.test.ts --runs 20
 *   sudo TSBPF_REQUIRE_KERNEL=1 npm run flake -- 'test/kernel/**\/*.test.ts' --runs 5 --json
 *
 * Exit status: 0 when every run reported and every test had the same result
 * in every run and none failed; 1 otherwise; 2 for bad usage. The dev-VM twin
 * is `make vm-flake` (vm-images/vm.ts flake).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compareRuns, formatReport, reportClean, reportJson, resultsFromMochaJson, runCounts, type RunResult } from './compare.js';

const MOCHA = new URL('../../node_modules/mocha/bin/mocha.js', import.meta.url).pathname;

export const usage = `usage: npm run flake -- <test files or globs...> [--runs N] [--grep PATTERN] [--json]

Runs the files N times (default 10), each in a fresh mocha process, and reports
each test whose result (passed, failed, pending, not run) changed between runs.
  --runs N        how many runs (default 10)
  --grep PATTERN  only the tests whose full title matches (mocha --grep)
  --json          one JSON object per run, then the report as one JSON object
Exit status 0: every test the same in every run and none failed; 1: otherwise; 2: bad usage.
In a dev VM: make vm-flake KERNEL=6.12 VM_TESTS='test/kernel/x.test.ts' RUNS=5
`;

interface Options {
  files: string[];
  runs: number;
  grep?: string;
  json: boolean;
}

export function parseOptions(argv: string[]): Options | { error: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { runs: { type: 'string', short: 'n' }, grep: { type: 'string', short: 'g' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    return { error: (e as Error).message };
  }
  if (parsed.values.help) return { error: '' };
  const runs = parsed.values.runs === undefined ? 10 : Number(parsed.values.runs);
  if (!Number.isInteger(runs) || runs < 1) return { error: `--runs must be a whole number of at least 1, not '${parsed.values.runs}'` };
  if (parsed.positionals.length === 0) return { error: 'name the test files to run (files or globs, as for mocha)' };
  return { files: parsed.positionals, runs, json: parsed.values.json ?? false, ...(parsed.values.grep !== undefined ? { grep: parsed.values.grep } : {}) };
}

/** One mocha run of `files` in a fresh process; its results, or why there are none. */
async function runOnce(o: Options, dir: string, n: number): Promise<{ result: RunResult; seconds: number; stderr: string }> {
  const output = join(dir, `run-${n}.json`);
  const args = [MOCHA, '--reporter', 'json', '--reporter-option', `output=${output}`, ...(o.grep !== undefined ? ['--grep', o.grep] : []), ...o.files];
  const started = Date.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }); // here, so mocha finds the project's .mocharc
  let stderr = '';
  child.stdout.resume(); // tests' own output; the results go to the file
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const code = await new Promise<number | string>((resolve) => child.on('close', (c, signal) => resolve(c ?? signal ?? -1)));
  const seconds = (Date.now() - started) / 1000;
  let text: string;
  try {
    text = readFileSync(output, 'utf8');
  } catch {
    return { result: { tests: [], problem: `mocha exited ${code} without a report${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}` }, seconds, stderr };
  }
  return { result: resultsFromMochaJson(text, process.cwd()), seconds, stderr };
}

export async function main(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  if ('error' in o) {
    process.stderr.write(o.error ? `flake: ${o.error}\n\n${usage}` : usage);
    return o.error ? 2 : 0;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-flake-'));
  const what = o.files.join(' ');
  const results: RunResult[] = [];
  try {
    for (let n = 1; n <= o.runs; n++) {
      const { result, seconds } = await runOnce(o, dir, n);
      results.push(result);
      const c = runCounts(result);
      if (o.json) process.stdout.write(`${JSON.stringify({ run: n, of: o.runs, ...c, seconds, ...(result.problem ? { problem: result.problem } : {}) })}\n`);
      else process.stderr.write(`flake: run ${n}/${o.runs}: ${result.problem ?? `${c.passed} passed, ${c.failed} failed, ${c.pending} pending`} (${seconds.toFixed(1)} s)\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const report = compareRuns(results);
  if (o.json) process.stdout.write(`${JSON.stringify(reportJson(report, what))}\n`);
  else process.stdout.write(formatReport(report, what));
  return reportClean(report) ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
    process.stderr.write(`flake: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
