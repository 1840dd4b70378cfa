/** The kernel × pass/fail/skip table that `vm-test` prints at the end. Pure. */

export interface KernelOutcome {
  kernel: string;
  release?: string;
  passes?: number;
  failures?: number;
  pending?: number;
  /** Wall time of the whole boot, seconds. */
  seconds: number;
  /** Host seconds from starting qemu until the command started in the guest. */
  bootSeconds?: number;
  /** Why there are no counts, or why the run failed beyond failing tests. */
  problem?: string;
}

export const outcomeOk = (o: KernelOutcome): boolean => o.problem === undefined && o.failures === 0 && o.passes !== undefined;

export function formatTable(outcomes: KernelOutcome[]): string {
  const header = ['kernel', 'release', 'pass', 'fail', 'skip', 'boot s', 'total s', 'result'];
  const rows = outcomes.map((o) => [
    o.kernel,
    o.release ?? '?',
    o.passes === undefined ? '-' : String(o.passes),
    o.failures === undefined ? '-' : String(o.failures),
    o.pending === undefined ? '-' : String(o.pending),
    o.bootSeconds === undefined ? '-' : o.bootSeconds.toFixed(1),
    o.seconds.toFixed(1),
    outcomeOk(o) ? 'ok' : `FAIL${o.problem ? `: ${o.problem}` : ''}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** The plain closing line CI reads: "N passed, N failed, N skipped" over all kernels. */
export function totalsLine(outcomes: KernelOutcome[]): string {
  const sum = (k: 'passes' | 'failures' | 'pending') => outcomes.reduce((a, o) => a + (o[k] ?? 0), 0);
  const broken = outcomes.filter((o) => o.problem !== undefined).length;
  return `vm-test: ${sum('passes')} passed, ${sum('failures') + broken} failed, ${sum('pending')} skipped`;
}
