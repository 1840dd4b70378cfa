/**
 * bashreadline against bpftrace on the same workload: an interactive bash
 * on a pseudo-terminal (script(1)) reads three command lines of the test's
 * own; both see each line returned by readline().
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, startBpftrace, startTool, stopBpftrace, stopTool } from './support.js';

const haveScript = (): boolean => spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

describe('tools: bashreadline (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-bashreadline-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints each command line an interactive bash reads, as bpftrace sees them', async function () {
    needKernel(this);
    if (!haveBpftrace() || !haveScript()) this.skip();
    const mark = `tsbpf-mark-${process.pid}`;
    const tool = await startTool('bashreadline', [], join(dir, 'cache'), /COMMAND\n/);
    const bt = await startBpftrace(`uretprobe:/bin/bash:readline { printf("%d %s\\n", pid, str(retval)); }`);
    let traced = '';
    try {
      const bash = spawn('script', ['-qc', 'bash --norc --noprofile -i', '/dev/null'], { stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, TERM: 'dumb' } });
      const exited = new Promise((r) => bash.on('exit', r));
      for (const cmd of [`: ${mark} one`, `: ${mark} two`, `: ${mark} three`, 'exit']) bash.stdin!.write(`${cmd}\n`);
      await exited;
      expect(await eventually(60, () => tool.stdout.split(mark).length >= 4), tool.stdout).to.equal(true);
    } finally {
      traced = await stopBpftrace(bt);
    }
    const out = await stopTool(tool);
    const fromTool = out.trim().split('\n').filter((l) => l.includes(mark)).map((r) => /^\d\d:\d\d:\d\d\s+(\d+)\s+(.*)$/.exec(r)!.slice(1).join(' '));
    const fromBpftrace = traced.trim().split('\n').filter((l) => l.includes(mark));
    expect(fromTool).to.have.length(3);
    expect(fromTool).to.deep.equal(fromBpftrace);
  });
});
