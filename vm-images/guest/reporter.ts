/**
 * Mocha reporter used inside the dev VM: the usual spec output on the
 * console for the person watching, plus one machine-readable line
 * (`TSBPF-VM-MOCHA <json>`) written to TSBPF_VM_RESULTS (the guest's control
 * serial port) that the host parses into the kernel × pass/fail/skip table.
 */
import { appendFileSync } from 'node:fs';
import Mocha from 'mocha';

export interface GuestTestResult {
  title: string;
  file: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs: number;
  error?: string;
}

export interface GuestTestSummary {
  passes: number;
  failures: number;
  pending: number;
  durationMs: number;
  tests: GuestTestResult[];
}

const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_RUN_END } = Mocha.Runner.constants;

const relative = (file: string | undefined): string => (file ?? '').replace(`${process.cwd()}/`, '');

export default class VmReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const started = Date.now();
    const tests: GuestTestResult[] = [];
    const record = (test: Mocha.Runnable, state: GuestTestResult['state'], err?: Error) => {
      const r: GuestTestResult = { title: test.fullTitle(), file: relative(test.file), state, durationMs: test.duration ?? 0 };
      if (err) r.error = (err.message || String(err)).slice(0, 2000);
      tests.push(r);
    };
    runner.on(EVENT_TEST_PASS, (t) => record(t, 'passed'));
    runner.on(EVENT_TEST_PENDING, (t) => record(t, 'pending'));
    // A failing hook fails without a test event for each test it covers: it is counted once, under its own title.
    runner.on(EVENT_TEST_FAIL, (t, err) => record(t, 'failed', err));
    runner.once(EVENT_RUN_END, () => {
      const summary: GuestTestSummary = {
        passes: tests.filter((t) => t.state === 'passed').length,
        failures: tests.filter((t) => t.state === 'failed').length,
        pending: tests.filter((t) => t.state === 'pending').length,
        durationMs: Date.now() - started,
        tests,
      };
      const line = `TSBPF-VM-MOCHA ${JSON.stringify(summary)}\n`;
      const target = process.env.TSBPF_VM_RESULTS;
      if (target) appendFileSync(target, line);
      else process.stdout.write(line);
    });
  }
}
