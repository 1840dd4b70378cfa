/**
 * exitsnoop against bpftrace on the same workload: three shells of a name
 * of the test's own exit with 0, with 3, and killed by SIGKILL; both report
 * each exit with its pid, parent (execsnoop's CO-RE read, bpftrace's
 * curtask->real_parent) and task->exit_code.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { describeExit } from '../../examples/tools/exitsnoop.bpf.js';
import { eventually, haveBpftrace, startBpftrace, startTool, stopBpftrace, stopTool } from './support.js';

describe('tools: exitsnoop (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-exitsnoop-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints PCOMM PID PPID TID AGE(s) EXIT_CODE for each exit, as bpftrace sees them', async function () {
    needKernel(this);
    if (!haveBpftrace()) this.skip();
    const name = `ex${process.pid % 100000}`;
    const sh = join(dir, name);
    copyFileSync('/bin/sh', sh);
    const tool = await startTool('exitsnoop', ['--name', name], join(dir, 'cache'), /EXIT_CODE\n/);
    const bt = await startBpftrace(`tracepoint:sched:sched_process_exit /comm == "${name}" && pid == tid/ { printf("%d %d %d\\n", pid, curtask->real_parent->tgid, curtask->exit_code); }`);
    let traced = '';
    try {
      for (const script of ['exit 0', 'exit 3', 'kill -9 $$']) spawnSync(sh, ['-c', script], { stdio: 'ignore' });
      expect(await eventually(60, () => tool.stdout.trim().split('\n').length >= 4), tool.stdout).to.equal(true);
    } finally {
      traced = await stopBpftrace(bt);
    }
    const out = await stopTool(tool);
    const [header, ...rows] = out.trim().split('\n');
    expect(header).to.match(/^PCOMM\s+PID\s+PPID\s+TID\s+AGE\(s\) EXIT_CODE$/);
    const fromTool = rows.map((r) => {
      const m = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+\.\d\d) (.*)$/.exec(r)!;
      expect(m[1]).to.equal(name);
      expect(m[2]).to.equal(m[4]);
      return `${m[2]} ${m[3]} ${m[6]}`;
    }).sort();
    const fromBpftrace = traced.trim().split('\n').filter((l) => l !== '').map((l) => {
      const [pid, ppid, code] = l.split(' ');
      return `${pid} ${ppid} ${describeExit(Number(code))}`;
    }).sort();
    expect(fromTool).to.have.length(3);
    expect(fromTool).to.deep.equal(fromBpftrace);
    expect(fromTool.map((r) => r.split(' ').slice(2).join(' ')).sort()).to.deep.equal(['0', '3', 'signal 9 (SIGKILL)']);
  });
});
