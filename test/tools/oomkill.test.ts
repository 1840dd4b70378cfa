/**
 * oomkill against bpftrace on the same workload: a perl of a name of the
 * test's own, alone in a memory cgroup of the test's own limited to 32 MiB
 * (cgroup v1's memory controller here, v2's memory.max where that is the
 * one), allocates 256 MiB and is OOM-killed. Both report one kill, with
 * the same triggering and killed pid.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, startBpftrace, startTool, stopBpftrace, stopTool } from './support.js';

/** A memory cgroup limited to `bytes` without swap: its directory and the file a pid is written to. */
function memoryCgroup(name: string, bytes: number): { dir: string; procs: string } | undefined {
  const v2 = '/sys/fs/cgroup/unified';
  if (existsSync(join(v2, 'cgroup.controllers')) && readFileSync(join(v2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory')) {
    const dir = join(v2, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'memory.max'), String(bytes));
    if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
    return { dir, procs: join(dir, 'cgroup.procs') };
  }
  if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes')) {
    const dir = join('/sys/fs/cgroup/memory', name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(bytes));
    return { dir, procs: join(dir, 'cgroup.procs') };
  }
  return undefined;
}

describe('tools: oomkill (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  let cgroup: { dir: string; procs: string } | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-oomkill-'));
  });
  after(() => {
    if (cgroup) {
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(cgroup.dir);
          break;
        } catch {
          // Its task is still exiting.
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the OOM kill of a process in a small memory cgroup, with the pids bpftrace sees', async function () {
    needKernel(this);
    if (!haveBpftrace()) this.skip();
    cgroup = memoryCgroup(`toolsa-oomkill-${process.pid}`, 32 << 20);
    if (!cgroup) this.skip();
    const name = `oom${process.pid % 100000}`;
    const perl = join(dir, name);
    copyFileSync('/usr/bin/perl', perl);
    const tool = await startTool('oomkill', [], join(dir, 'cache'), /Tracing OOM kills/);
    const bt = await startBpftrace(`tracepoint:oom:mark_victim { printf("%d %s %d %s\\n", pid, comm, args->pid, str(args->comm)); }`);
    let traced = '';
    let pid = 0;
    try {
      // Joins the cgroup, then (exec: same pid, the cgroup kept) allocates far past its limit.
      const child = spawn('sh', ['-c', `echo $$ > ${cgroup.procs} && exec ${perl} -e '$x = "a" x (256 * 1024 * 1024); sleep 1'`], { stdio: 'ignore' });
      pid = child.pid!;
      const signal = await new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, sig) => r(sig)));
      expect(signal).to.equal('SIGKILL');
      expect(await eventually(60, () => tool.stdout.includes('OOM kill of PID')), tool.stdout).to.equal(true);
    } finally {
      traced = await stopBpftrace(bt);
    }
    const out = await stopTool(tool);
    // Only this test's kill (another OOM on the machine meanwhile is seen by both).
    const rows = out.split('\n').filter((l) => l.includes(`OOM kill of PID ${pid} `));
    const fromTool = rows.map((r) => {
      const m = /^\d\d:\d\d:\d\d Triggered by PID (\d+) \("([^"]*)"\), OOM kill of PID (\d+) \("([^"]*)"\), \d+ kB total-vm, \d+ kB anon-rss, loadavg: /.exec(r);
      expect(m, r).to.not.equal(null);
      return m!.slice(1).join(' ');
    });
    const fromBpftrace = traced.trim().split('\n').filter((l) => l.includes(` ${pid} ${name}`));
    expect(fromTool).to.deep.equal(fromBpftrace);
    expect(fromTool).to.deep.equal([`${pid} ${name} ${pid} ${name}`]);
  });
});
