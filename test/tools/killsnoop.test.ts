/**
 * killsnoop against bpftrace on the same workload: a shell of a name of the
 * test's own sends signal 0 to itself (succeeds), SIGTERM to a pid that does
 * not exist (-ESRCH) and SIGUSR1 to a child it then reaps.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, startBpftrace, startTool, stopBpftrace, stopTool } from './support.js';

describe('tools: killsnoop (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-killsnoop-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints TIME PID COMM SIG TPID RESULT for each kill, as bpftrace sees them', async function () {
    needKernel(this);
    if (!haveBpftrace()) this.skip();
    const name = `ks${process.pid % 100000}`;
    const sh = join(dir, name);
    copyFileSync('/bin/sh', sh);
    const tool = await startTool('killsnoop', ['--name', name], join(dir, 'cache'), /RESULT\n/);
    const bt = await startBpftrace(
      `tracepoint:syscalls:sys_enter_kill /comm == "${name}"/ { @tpid[tid] = args->pid; @sig[tid] = args->sig; }\n` +
      `tracepoint:syscalls:sys_exit_kill /comm == "${name}" && @sig[tid] >= 0/ { printf("%d %d %d %d\\n", pid, @sig[tid], @tpid[tid], args->ret); delete(@tpid[tid]); delete(@sig[tid]); }\n` +
      `END { clear(@tpid); clear(@sig); }`,
    );
    let traced = '';
    try {
      spawnSync(sh, ['-c', 'kill -0 $$; kill -15 4194000 2>/dev/null; sleep 5 & kill -USR1 $!; wait'], { stdio: 'ignore' });
      expect(await eventually(60, () => tool.stdout.trim().split('\n').length >= 4), tool.stdout).to.equal(true);
    } finally {
      traced = await stopBpftrace(bt);
    }
    const out = await stopTool(tool);
    const [header, ...rows] = out.trim().split('\n');
    expect(header).to.match(/^TIME\s+PID\s+COMM\s+SIG\s+TPID RESULT$/);
    const fromTool = rows.map((r) => {
      const m = /^\d\d:\d\d:\d\d\s+(\d+)\s+(\S+)\s+(-?\d+)\s+(-?\d+) (-?\d+)$/.exec(r)!;
      expect(m[2]).to.equal(name);
      return `${m[1]} ${m[3]} ${m[4]} ${m[5]}`;
    }).sort();
    const fromBpftrace = traced.trim().split('\n').filter((l) => l !== '').sort();
    expect(fromTool).to.have.length(3);
    expect(fromTool).to.deep.equal(fromBpftrace);
    expect(fromTool.map((r) => r.split(' ')[3]).sort()).to.deep.equal(['-3', '0', '0']);
  });
});
