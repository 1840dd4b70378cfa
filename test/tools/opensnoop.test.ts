/**
 * opensnoop against bpftrace on the same workload: a shell of a name of the
 * test's own opens a file of the test (an fd), a path that does not exist
 * (-ENOENT) and a directory for writing (-EISDIR), each by open(2) or
 * openat(2) as the shell makes it. Both report each call's pid, result and
 * path; a second tool with -x reports only the failed ones.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, startBpftrace, startTool, stopBpftrace, stopTool } from './support.js';

/** PID COMM FD ERR PATH rows as "pid ret path" (ret: the fd, or -errno). */
function rowsOf(out: string, name: string): string[] {
  const [header, ...rows] = out.trim().split('\n');
  expect(header).to.match(/^PID\s+COMM\s+FD ERR PATH$/);
  return rows.map((r) => {
    const m = /^(\d+)\s+(\S+)\s+(-?\d+)\s+(\d+) (.*)$/.exec(r);
    expect(m, r).to.not.equal(null);
    expect(m![2]).to.equal(name);
    return `${m![1]} ${m![3] === '-1' ? -Number(m![4]) : m![3]} ${m![5]}`;
  }).sort();
}

describe('tools: opensnoop (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-opensnoop-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints PID COMM FD ERR PATH for every open of the workload, as bpftrace sees them; -x only the failed', async function () {
    needKernel(this);
    if (!haveBpftrace()) this.skip();
    const name = `os${process.pid % 100000}`;
    const sh = join(dir, name);
    copyFileSync('/bin/sh', sh);
    const file = join(dir, 'opened.txt');
    writeFileSync(file, 'x\n');
    const tool = await startTool('opensnoop', ['-n', name], join(dir, 'cache'), /PATH\n/);
    const failed = await startTool('opensnoop', ['-n', name, '-x'], join(dir, 'cache'), /PATH\n/);
    const bt = await startBpftrace(
      `tracepoint:syscalls:sys_enter_open, tracepoint:syscalls:sys_enter_openat /comm == "${name}"/ { @fn[tid] = args->filename; @in[tid] = 1; }\n` +
      `tracepoint:syscalls:sys_exit_open, tracepoint:syscalls:sys_exit_openat /comm == "${name}" && @in[tid] == 1/ { printf("%d %d %s\\n", pid, args->ret, str(@fn[tid])); delete(@fn[tid]); delete(@in[tid]); }\n` +
      `END { clear(@fn); clear(@in); }`,
    );
    let traced = '';
    try {
      spawnSync(sh, ['-c', `exec 3<${file}; true 4<${join(dir, 'missing')}; true 5>${dir}; exit 0`], { stdio: 'ignore' });
      expect(await eventually(60, () => tool.stdout.includes(dir) && failed.stdout.includes(`${dir}\n`)), tool.stdout).to.equal(true);
    } finally {
      traced = await stopBpftrace(bt);
    }
    const all = rowsOf(await stopTool(tool), name);
    const onlyFailed = rowsOf(await stopTool(failed), name);
    const fromBpftrace = traced.trim().split('\n').filter((l) => l !== '').sort();
    expect(all).to.deep.equal(fromBpftrace);
    expect(all.filter((r) => r.endsWith(` ${file}`) && / [3-9] /.test(r))).to.have.length(1);
    expect(all.filter((r) => r.endsWith(` -2 ${join(dir, 'missing')}`))).to.have.length(1);
    expect(all.filter((r) => r.endsWith(` -21 ${dir}`))).to.have.length(1);
    expect(onlyFailed).to.deep.equal(all.filter((r) => / -\d+ /.test(r)));
    expect(onlyFailed.length).to.be.at.least(2);
  });
});
