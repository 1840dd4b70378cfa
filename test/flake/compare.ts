/**
 * The flake finder's judgement: given the results of several runs of the same
 * test files, which tests changed their result from run to run (flaky), which
 * failed every time, and which runs produced no results at all. Pure, so it is
 * unit-tested (compare.test.ts); the host runner (run.ts) and the dev-VM runner
 * (vm-images/vm.ts flake) feed it mocha results.
 */

export type TestState = 'passed' | 'failed' | 'pending';

/** One test's result in one run (a failing hook is a failed "test" under the hook's title). */
export interface TestResult {
  /** Mocha's full title (describe titles and the test title). */
  title: string;
  file: string;
  state: TestState;
  error?: string;
}

/** One run: its test results, or why it produced none (mocha crashed, timed out, wrote no report). */
export interface RunResult {
  tests: TestResult[];
  problem?: string;
}

/** A test's result in each run: `not run` when a run with results did not report it (a hook failed, a crash). */
export type RunState = TestState | 'not run';

export interface TestHistory {
  title: string;
  file: string;
  /** The state in each run with results, in run order (index i is runs[i] of `runsWithResults`). */
  states: RunState[];
  /** How many runs had each state. */
  counts: Partial<Record<RunState, number>>;
  /** 1-based run numbers in which the test failed. */
  failedRuns: number[];
  /** Distinct error messages, first seen first. */
  errors: string[];
}

export interface FlakeReport {
  /** Runs asked for. */
  runs: number;
  /** 1-based numbers of the runs that produced results. */
  runsWithResults: number[];
  /** Runs that produced no results, and why. */
  brokenRuns: { run: number; problem: string }[];
  /** Distinct tests seen in any run. */
  tests: number;
  /** Tests whose result was not the same in every run with results. */
  changed: TestHistory[];
  /** Tests that failed in every run with results. */
  alwaysFailed: TestHistory[];
}

/** True when the runs show nothing wrong: every run produced results, no test changed, none failed. */
export const reportClean = (r: FlakeReport): boolean => r.brokenRuns.length === 0 && r.changed.length === 0 && r.alwaysFailed.length === 0 && r.runsWithResults.length > 0;

/**
 * Keys tests by file and title; a title that occurs twice in one run (tests
 * made in a loop with the same name) is told apart by its occurrence number.
 */
function keyed(tests: TestResult[]): Map<string, TestResult> {
  const seen = new Map<string, number>();
  const out = new Map<string, TestResult>();
  for (const t of tests) {
    const base = `${t.file}\0${t.title}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    out.set(n === 1 ? base : `${base}\0${n}`, t);
  }
  return out;
}

export function compareRuns(runs: RunResult[]): FlakeReport {
  const brokenRuns: FlakeReport['brokenRuns'] = [];
  const good: { run: number; tests: Map<string, TestResult> }[] = [];
  runs.forEach((r, i) => {
    if (r.problem !== undefined) brokenRuns.push({ run: i + 1, problem: r.problem });
    else good.push({ run: i + 1, tests: keyed(r.tests) });
  });
  // Every test seen in any run, in the order first seen.
  const all = new Map<string, { title: string; file: string }>();
  for (const g of good) for (const [k, t] of g.tests) if (!all.has(k)) all.set(k, { title: t.title, file: t.file });

  const changed: TestHistory[] = [];
  const alwaysFailed: TestHistory[] = [];
  for (const [key, { title, file }] of all) {
    const h: TestHistory = { title, file, states: [], counts: {}, failedRuns: [], errors: [] };
    for (const g of good) {
      const t = g.tests.get(key);
      const state: RunState = t ? t.state : 'not run';
      h.states.push(state);
      h.counts[state] = (h.counts[state] ?? 0) + 1;
      if (state === 'failed') {
        h.failedRuns.push(g.run);
        const message = t?.error?.trim() || '(no message)';
        if (!h.errors.includes(message)) h.errors.push(message);
      }
    }
    if (new Set(h.states).size > 1) changed.push(h);
    else if (h.states[0] === 'failed') alwaysFailed.push(h);
  }
  return { runs: runs.length, runsWithResults: good.map((g) => g.run), brokenRuns, tests: all.size, changed, alwaysFailed };
}

const firstLine = (s: string): string => s.split('\n')[0]!.slice(0, 300);

/** The report as text: one summary line, then each changed or always-failing test with its counts and first error. */
export function formatReport(r: FlakeReport, what: string): string {
  const lines = [
    `flake: ${r.runs} run${r.runs === 1 ? '' : 's'} of ${what}: ${r.tests} tests, ${r.changed.length} changed their result, ${r.alwaysFailed.length} failed every run` +
      (r.brokenRuns.length ? `, ${r.brokenRuns.length} run${r.brokenRuns.length === 1 ? '' : 's'} without results` : ''),
  ];
  const describe = (label: string, h: TestHistory) => {
    const counts = Object.entries(h.counts).map(([s, n]) => `${s} ${n}`).join(', ');
    lines.push(`${label} ${h.title} (${h.file})`);
    lines.push(`  ${counts}${h.failedRuns.length ? ` (failed in run${h.failedRuns.length === 1 ? '' : 's'} ${h.failedRuns.join(', ')})` : ''}`);
    for (const e of h.errors.slice(0, 3)) lines.push(`  ${firstLine(e)}`);
  };
  for (const h of r.changed) describe('CHANGED', h);
  for (const h of r.alwaysFailed) describe('FAILED ', h);
  for (const b of r.brokenRuns) lines.push(`BROKEN  run ${b.run}: ${b.problem}`);
  return lines.join('\n') + '\n';
}

/** The report as one JSON object (for --json). */
export function reportJson(r: FlakeReport, what: string): Record<string, unknown> {
  const slim = (h: TestHistory) => ({ title: h.title, file: h.file, counts: h.counts, failedRuns: h.failedRuns, errors: h.errors });
  return {
    flake: what,
    runs: r.runs,
    runsWithResults: r.runsWithResults.length,
    tests: r.tests,
    changed: r.changed.map(slim),
    alwaysFailed: r.alwaysFailed.map(slim),
    brokenRuns: r.brokenRuns,
    clean: reportClean(r),
  };
}

/** Summary counts of one run, for progress lines. */
export function runCounts(r: RunResult): { passed: number; failed: number; pending: number } {
  const n = (s: TestState) => r.tests.filter((t) => t.state === s).length;
  return { passed: n('passed'), failed: n('failed'), pending: n('pending') };
}

/** Mocha's JSON reporter output (`--reporter json`), the parts read here. */
interface MochaJsonTest {
  fullTitle?: string;
  title?: string;
  file?: string;
  err?: { message?: string; stack?: string };
}
interface MochaJson {
  passes?: MochaJsonTest[];
  failures?: MochaJsonTest[];
  pending?: MochaJsonTest[];
}

/**
 * Test results from mocha's JSON reporter. Failures include failing hooks
 * (under the hook's title), which the `tests` list does not have; files are
 * made relative to `root`.
 */
export function resultsFromMochaJson(text: string, root = ''): RunResult {
  let json: MochaJson;
  try {
    json = JSON.parse(text) as MochaJson;
  } catch (e) {
    return { tests: [], problem: `mocha's JSON report does not parse (${(e as Error).message})` };
  }
  if (!json || typeof json !== 'object' || !Array.isArray(json.passes) || !Array.isArray(json.failures) || !Array.isArray(json.pending)) {
    return { tests: [], problem: "mocha's JSON report lacks its passes/failures/pending lists" };
  }
  const prefix = root && !root.endsWith('/') ? `${root}/` : root;
  const one = (t: MochaJsonTest, state: TestState): TestResult => {
    const file = t.file ?? '';
    const r: TestResult = { title: t.fullTitle ?? t.title ?? '', file: prefix && file.startsWith(prefix) ? file.slice(prefix.length) : file, state };
    if (state === 'failed') r.error = t.err?.message ?? t.err?.stack ?? '';
    return r;
  };
  return {
    tests: [
      ...json.passes.map((t) => one(t, 'passed')),
      ...json.failures.map((t) => one(t, 'failed')),
      ...json.pending.map((t) => one(t, 'pending')),
    ],
  };
}
