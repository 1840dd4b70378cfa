/**
 * runqlat against bpftrace on the same workload: a process of the test's
 * own sleeps 2 ms a hundred times; each wakeup puts it on a run queue. The
 * tool (tp_btf programs, task fields through CO-RE) and a bpftrace script
 * with the same rule (enqueued at wakeup, or when switched out still
 * runnable; measured when switched in) count the same latencies for it.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, sleepsInRead, startBpftrace, startTool, stopBpftrace } from './support.js';

/** The total of a bpftrace-style histogram's counts. */
const total = (text: string): number => [...text.matchAll(/^\[[^\]\n)]*[\])][ \t]+(\d+) \|/gm)].reduce((n, m) => n + Number(m[1]), 0);

describe('tools: runqlat (compared with bpftrace)', function () {
  this.timeout(240000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-runqlat-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('histograms the run-queue latencies of one process: as many as bpftrace counts', async function () {
    needKernel(this);
    if (!haveBpftrace()) this.skip();
    // Waits for a line on stdin, then becomes (exec: same pid) a perl that sleeps 100 times.
    const workload = spawn('sh', ['-c', "read go; exec perl -e 'select(undef, undef, undef, 0.002) for 1..100'"], { stdio: ['pipe', 'ignore', 'ignore'] });
    const done = new Promise((r) => workload.on('exit', r));
    const pid = workload.pid!;
    try {
      // Until it sleeps in `read`, the shell can be preempted (a latency) while the tool is attached and bpftrace not yet.
      expect(await eventually(60, () => sleepsInRead(pid)), 'the workload waits in read').to.equal(true);
      const tool = await startTool('runqlat', ['--interval', '3600', '--count', '1'], join(dir, 'cache'), /Tracing run queue latency/, ['--set', `targetTgid=${pid}`]);
      const bt = await startBpftrace(
        `tracepoint:sched:sched_wakeup, tracepoint:sched:sched_wakeup_new /args->pid == ${pid}/ { @q[args->pid] = nsecs; }\n` +
        `tracepoint:sched:sched_switch {\n` +
        `  if (args->prev_pid == ${pid} && curtask->__state == 0) { @q[args->prev_pid] = nsecs; }\n` +
        `  if (args->next_pid == ${pid}) { $t = @q[args->next_pid]; if ($t) { @usecs = hist((nsecs - $t) / 1000); } delete(@q[args->next_pid]); } }\n` +
        `END { clear(@q); }`,
      );
      let traced = '';
      try {
        workload.stdin!.end('go\n');
        await done;
      } finally {
        traced = await stopBpftrace(bt);
      }
      tool.child.kill('SIGTERM');
      expect(await tool.exited, tool.stderr).to.equal(0);
      expect(await eventually(10, () => /usecs\n@runqLatency/.test(tool.stdout)), tool.stdout).to.equal(true);
      const fromBpftrace = total(traced);
      const fromTool = total(tool.stdout);
      // Most of the 100 sleeps are wakeups; not all: a sleep whose 2 ms timer fired while the process was still
      // preempted, before it scheduled out, never sleeps (seen once as 99 at load 12). Equality is the check.
      expect(fromBpftrace, traced).to.be.at.least(50);
      expect(fromTool, tool.stdout).to.equal(fromBpftrace);
    } finally {
      workload.kill('SIGKILL');
    }
  });
});
