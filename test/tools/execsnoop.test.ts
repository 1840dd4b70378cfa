/**
 * execsnoop against bpftrace on the same workload: a script of a name of
 * the test's own runs a copy of true three times and a path that does not
 * exist; both report each execve with its pid, parent pid (execsnoop reads
 * it through CO-RE, bpftrace through curtask->real_parent) and result.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, startBpftrace, startTool, stopBpftrace, stopTool } from './support.js';

describe('tools: execsnoop (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-execsnoop-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints PCOMM PID PPID RET ARGS for every execve of the workload, as bpftrace sees them', async function () {
    needKernel(this);
    if (!haveBpftrace()) this.skip();
    const name = `xs${process.pid % 100000}`;
    const child = join(dir, `${name}t`);
    copyFileSync('/bin/true', child);
    const script = join(dir, name);
    writeFileSync(script, `#!/bin/sh\n${child} one\n${child} two words\n${child} three\n${join(dir, 'missing')} arg\nexit 0\n`, { mode: 0o755 });
    const tool = await startTool('execsnoop', ['--name', name], join(dir, 'cache'), /ARGS\n/);
    const bt = await startBpftrace(`tracepoint:syscalls:sys_exit_execve /strncmp(comm, "${name}", ${name.length}) == 0/ { printf("%s %d %d %d\\n", comm, pid, curtask->real_parent->tgid, args->ret); }`);
    let traced = '';
    try {
      spawnSync(script, { stdio: 'ignore' });
      // Five execve calls: the script, three copies of true, the missing path.
      expect(await eventually(60, () => tool.stdout.split('\n').length >= 7), tool.stdout).to.equal(true);
    } finally {
      traced = await stopBpftrace(bt);
    }
    const out = await stopTool(tool);
    const [header, ...rows] = out.trim().split('\n');
    expect(header).to.match(/^PCOMM\s+PID\s+PPID\s+RET ARGS$/);
    const fromTool = rows.map((r) => /^(\S+)\s+(\d+)\s+(\d+)\s+(-?\d+) /.exec(r)!.slice(1).join(' ')).sort();
    const fromBpftrace = traced.trim().split('\n').filter((l) => l !== '').sort();
    expect(fromTool).to.have.length(5);
    expect(fromTool).to.deep.equal(fromBpftrace);
    expect(rows.filter((r) => / -2 /.test(r))).to.have.length(1);
    expect(rows.some((r) => r.endsWith(`${child} two words`)), rows.join('\n')).to.equal(true);
    expect(rows.some((r) => r.endsWith(`${join(dir, 'missing')} arg`)), rows.join('\n')).to.equal(true);
  });
});
