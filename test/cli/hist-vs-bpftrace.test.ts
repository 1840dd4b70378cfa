/**
 * `tsbpf run` prints log2 histograms as bpftrace prints hist(): the same
 * workload (writes of known sizes by a uid nobody else uses) traced by both
 * at once, compared bucket by bucket; and --interval prints every S seconds.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnRun, until } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';
import { commandRuns } from '../support/tools.js';

const ROOT = new URL('../../', import.meta.url).pathname;
/** A uid with no account: only the test's workload runs as it. */
const UID = 50000 + (process.pid % 10000);

const module = `
import { tracepoint, log2Hist, linearHist, global, rodata, bpf, type u32, type u64 } from '${join(ROOT, 'src/dsl/index.js')}';
export const uid = rodata<u32>(0);
export const writes = global<u64>(0);
export const bytes = log2Hist();
export const small = linearHist({ min: 0, max: 2000, step: 250 });
export const onWrite = tracepoint('syscalls/sys_enter_write', (ctx) => {
  if (bpf.uid() !== uid.get()) return 0;
  writes.set(writes.get() + 1);
  bytes.record(ctx.count);
  small.record(ctx.count);
  return 0;
});
`;

/** bpftrace-style histogram text → { name → { bucket label → count } }. */
function histograms(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  let current: Record<string, number> | undefined;
  for (const line of text.split('\n')) {
    const head = /^@(\w+): $/.exec(line);
    if (head) {
      current = out[head[1]!] = {};
      continue;
    }
    const bucket = /^([[(].*?[\])])\s+(\d+) \|[@ ]*\|$/.exec(line);
    if (bucket && current) current[bucket[1]!] = Number(bucket[2]);
    else if (line.trim() === '') current = undefined;
  }
  return out;
}

/** Writes of these sizes, `count` each, as UID (dd with bs=size). */
function workload(): void {
  for (const [size, count] of [[1, 7], [3, 5], [100, 4], [1000, 3], [1500, 2], [5000, 6], [70000, 1], [1 << 20, 2]] as const) {
    const r = spawnSync('setpriv', [`--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', 'dd', 'if=/dev/zero', 'of=/dev/null', `bs=${size}`, `count=${count}`, 'status=none']);
    expect(r.status, String(r.stderr)).to.equal(0);
  }
}

describe('tsbpf run histograms against bpftrace', function () {
  this.timeout(240000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-hist-'));
    writeFileSync(join(dir, 'writes.bpf.ts'), module);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('log2Hist and linearHist print the same buckets and counts as bpftrace hist() and lhist() on the same writes', async function () {
    needKernel(this);
    if (!commandRuns('bpftrace', '--version')) this.skip(); // the oracle is missing (.ci/run installs it)
    const run = spawnRun([join(dir, 'writes.bpf.ts'), '--set', `uid=${UID}`], join(dir, 'cache'));
    const bt = spawn('bpftrace', ['-e', `BEGIN { printf("ready\\n"); } tracepoint:syscalls:sys_enter_write /uid == ${UID}/ { @bytes = hist(args->count); @small = lhist(args->count, 0, 2000, 250); }`]);
    let btOut = '';
    let btErr = '';
    bt.stdout.on('data', (d) => (btOut += d));
    bt.stderr.on('data', (d) => (btErr += d));
    const btExited = new Promise<number>((resolve) => bt.on('exit', (code) => resolve(code ?? -1)));
    try {
      expect(await until(run, 480, (r) => r.stderr.includes('running')), run.stderr).to.equal(true);
      // bpftrace runs BEGIN once every probe is attached.
      for (let i = 0; i < 480 && !btOut.includes('ready'); i++) await new Promise((r) => setTimeout(r, 250));
      expect(btOut, btErr).to.include('ready');
      workload();
    } finally {
      run.child.kill('SIGINT');
      bt.kill('SIGINT');
    }
    expect(await run.exited, run.stderr).to.equal(0);
    await btExited;
    const ours = histograms(run.stdout);
    const theirs = histograms(btOut);
    expect(Object.keys(theirs.bytes ?? {})).to.include('[1M, 2M)');
    expect(ours.bytes).to.deep.equal(theirs.bytes);
    expect(ours.small).to.deep.equal(theirs.small);
    expect(run.stdout).to.match(/^@writes: 30$/m);
  });

  it('--interval prints a time stamp and the maps every S seconds; --clear empties them after each print', async function () {
    needKernel(this);
    const run = spawnRun([join(dir, 'writes.bpf.ts'), '--set', `uid=${UID}`, '--interval', '1', '--clear'], join(dir, 'cache'));
    try {
      expect(await until(run, 480, (r) => /^\d\d:\d\d:\d\d$/m.test(r.stdout)), run.stderr).to.equal(true);
      workload();
      // Wait for a complete print (its @writes line) after the last one that showed the histogram: the cleared one.
      const clearedAfterHist = (out: string): boolean => {
        const ps = out.split(/^\d\d:\d\d:\d\d\n/m).slice(1);
        const last = ps.map((p) => p.includes('@bytes: ')).lastIndexOf(true);
        return last >= 0 && ps.slice(last + 1).some((p) => /@writes: \d+\n/.test(p));
      };
      expect(await until(run, 480, (r) => clearedAfterHist(r.stdout)), run.stdout).to.equal(true);
    } finally {
      run.child.kill('SIGINT');
    }
    expect(await run.exited, run.stderr).to.equal(0);
    const prints = run.stdout.split(/^\d\d:\d\d:\d\d\n/m).slice(1);
    const withHist = prints.filter((p) => p.includes('@bytes: '));
    // The writes show in the interval prints. A write that lands between a print and the clear
    // after it is dropped (bpftrace's print-then-clear has the same window), so at most 30.
    const total = withHist.reduce((sum, p) => sum + Object.values(histograms(p).bytes ?? {}).reduce((a, b) => a + b, 0), 0);
    expect(total).to.be.within(1, 30);
    // Cleared after each print: a later print without new writes showed no histogram (waited for above).
    for (const p of prints) expect(p).to.match(/@writes: \d+/);
  });
});
