/**
 * What the guest says on its control port (/dev/ttyS1, a file on the host),
 * one line each:
 *   TSBPF-VM-READY uptime=<s> kernel=<release>   the command is about to start
 *   TSBPF-VM-MOCHA <json>                        a test run's summary (guest/reporter.ts)
 *   TSBPF-VM-RUN-END status=<n>                  one of several test runs ended (vm-flake)
 *   TSBPF-VM-EXIT=<n> uptime=<s>                 the command's exit status
 * Pure parsing, so it is tested without booting anything.
 */
import type { GuestTestSummary } from './guest/reporter.js';
import { VmError } from './errors.js';

export interface GuestReport {
  /** Guest uptime (seconds since the kernel started) when the command started. */
  readyUptime?: number;
  release?: string;
  exitStatus?: number;
  exitUptime?: number;
  tests?: GuestTestSummary;
  /** vm-flake's runs, in order: each mocha's exit status and its summary (none if it crashed). */
  runs?: { status: number; tests?: GuestTestSummary }[];
}

const num = (s: string | undefined): number | undefined => {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
};

function checkSummary(value: unknown): GuestTestSummary {
  const v = value as Partial<GuestTestSummary> | null;
  const counts = v !== null && typeof v === 'object' && [v.passes, v.failures, v.pending].every((n) => Number.isInteger(n) && (n as number) >= 0);
  if (!counts || !Array.isArray(v.tests)) throw new VmError('BAD_RESULTS', 'the guest test summary lacks passes/failures/pending counts or its test list');
  return v as GuestTestSummary;
}

/** Parses the control port's text; lines it does not know are ignored (the kernel may print there too). */
export function parseControl(text: string): GuestReport {
  const report: GuestReport = {};
  let runSummary: GuestTestSummary | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r/g, '').trim();
    let m: RegExpExecArray | null;
    if ((m = /^TSBPF-VM-READY\b(.*)$/.exec(line))) {
      report.readyUptime = num(/uptime=(\S+)/.exec(m[1]!)?.[1]);
      report.release = /kernel=(\S+)/.exec(m[1]!)?.[1];
    } else if ((m = /^TSBPF-VM-EXIT=(\d+)\b(.*)$/.exec(line))) {
      report.exitStatus = Number(m[1]);
      report.exitUptime = num(/uptime=(\S+)/.exec(m[2]!)?.[1]);
    } else if ((m = /^TSBPF-VM-MOCHA (.*)$/.exec(line))) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(m[1]!);
      } catch (e) {
        throw new VmError('BAD_RESULTS', `the guest's test summary is not valid JSON (${(e as Error).message})`);
      }
      report.tests = runSummary = checkSummary(parsed);
    } else if ((m = /^TSBPF-VM-RUN-END status=(\d+)$/.exec(line))) {
      (report.runs ??= []).push({ status: Number(m[1]), ...(runSummary ? { tests: runSummary } : {}) });
      runSummary = undefined;
    }
  }
  return report;
}

/** The exit status line on the console, for when the control port is lost. */
export function exitStatusFromConsole(text: string): number | undefined {
  const all = [...text.matchAll(/^TSBPF-VM-EXIT=(\d+)\r?$/gm)];
  const last = all.at(-1);
  return last ? Number(last[1]) : undefined;
}
