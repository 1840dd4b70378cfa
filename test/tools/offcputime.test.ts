/**
 * offcputime against bpftrace on the same workload: a perl of the test's
 * own sleeps 5 ms a hundred times in select(2), then blocks reading stdin.
 * Both measure, at sched_switch, each time it was switched out until it
 * was switched in again: the totals for it agree within 2% (the two
 * programs read the clock at slightly different moments of the same
 * events), and the kernel stack of the sleeps names do_select for both.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnRun, until } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, stopTool, traceDuring } from './support.js';

describe('tools: offcputime (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-offcputime-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('totals the off-CPU time of one process by stack, as bpftrace does', async function () {
    needKernel(this);
    if (!haveBpftrace()) this.skip();
    // Waits for a line, becomes (exec: same pid) a perl that sleeps 100 × 5 ms, says so, then blocks on stdin.
    const workload = spawn('sh', ['-c', "read go; exec perl -e '$| = 1; select(undef, undef, undef, 0.005) for 1..100; print qq(slept\\n); <STDIN>'"], { stdio: ['pipe', 'pipe', 'ignore'] });
    let said = '';
    workload.stdout!.on('data', (d) => (said += d));
    const pid = workload.pid!;
    try {
      const tool = spawnRun(['examples/tools/offcputime.bpf.ts', '--', '-p', String(pid), '-f', '-d'], join(dir, 'cache'));
      expect(await until(tool, 960, (r) => r.stderr.includes('Tracing off-CPU time')), tool.stderr).to.equal(true);
      const traced = await traceDuring(
        `tracepoint:sched:sched_switch {\n` +
        `  if (pid == ${pid}) { @start[tid] = nsecs; @ks[tid] = kstack; }\n` +
        `  $s = @start[args->next_pid];\n` +
        `  if ($s != 0) { $us = (nsecs - $s) / 1000; if ($us >= 1) { @us = sum($us); @bystack[@ks[args->next_pid]] = sum($us); } delete(@start[args->next_pid]); } }\n` +
        `END { clear(@start); clear(@ks); }`,
        tool,
        async () => {
          workload.stdin!.write('go\n');
          expect(await eventually(120, () => said.includes('slept')), said).to.equal(true);
        },
      );
      const out = await stopTool(tool);
      const lines = out.split('\n').filter((l) => /^\S.* \d+$/.test(l));
      const fromTool = lines.reduce((n, l) => n + Number(/ (\d+)$/.exec(l)![1]), 0);
      const fromBpftrace = Number(/^@us: (\d+)$/m.exec(traced)?.[1] ?? 0);
      expect(fromBpftrace, traced).to.be.at.least(100 * 5000);
      expect(Math.abs(fromTool - fromBpftrace) / fromBpftrace, `${out}\n${traced}`).to.be.below(0.02);
      const heaviest = lines.sort((a, b) => Number(/ (\d+)$/.exec(b)![1]) - Number(/ (\d+)$/.exec(a)![1]))[0]!;
      expect(heaviest, out).to.match(/;-;.*do_select/);
      expect(traced).to.match(/do_select/);
    } finally {
      workload.kill('SIGKILL');
    }
  });
});
