/**
 * biolatency against bpftrace on the same workload: a loop device of the
 * test's own over a file, written with direct I/O in 50 requests of 4 KiB
 * one after the other. The tool (tp_btf programs, the request's disk
 * through CO-RE) with -D -d LOOP and a bpftrace script on the block
 * tracepoints, matching issue and completion by device and sector, count
 * the same requests for that disk.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, startBpftrace, startTool, stopBpftrace, stopTool } from './support.js';

/** The total of a bpftrace histogram's counts. */
const bpftraceTotal = (text: string): number => [...text.matchAll(/^\[[^\]\n)]*[\])][ \t]+(\d+) \|/gm)].reduce((n, m) => n + Number(m[1]), 0);
/** The total of a bcc histogram's counts (`  4 -> 7   : 11  |***|`). */
const bccTotal = (text: string): number => [...text.matchAll(/^\s*\d+ -> \d+\s+: (\d+)\s+\|/gm)].reduce((n, m) => n + Number(m[1]), 0);

describe('tools: biolatency (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  let loop: string | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-biolatency-'));
  });
  after(() => {
    if (loop) spawnSync('losetup', ['-d', loop]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('histograms the latencies of one loop device: the same requests as bpftrace, per disk with -D', async function () {
    needKernel(this);
    if (!haveBpftrace() || spawnSync('losetup', ['--version']).status !== 0) this.skip();
    const image = join(dir, 'toolsa-biolatency.img');
    writeFileSync(image, '');
    truncateSync(image, 16 << 20);
    loop = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
    spawnSync('udevadm', ['settle'], { stdio: 'ignore' }); // udev's probe of the new device reads it
    const [major, minor] = readFileSync(`/sys/class/block/${basename(loop)}/dev`, 'utf8').trim().split(':').map(Number);
    const dev = (major! << 20) | minor!;
    const tool = await startTool('biolatency', ['-D', '-d', basename(loop)], join(dir, 'cache'), /Tracing block device I\/O/);
    const bt = await startBpftrace(
      `tracepoint:block:block_rq_issue /args->dev == ${dev}/ { @s[args->dev, args->sector] = nsecs; }\n` +
      `tracepoint:block:block_rq_complete /@s[args->dev, args->sector] != 0/ { @usecs = hist((nsecs - @s[args->dev, args->sector]) / 1000); delete(@s[args->dev, args->sector]); }\n` +
      `END { clear(@s); }`,
    );
    let traced = '';
    try {
      const dd = spawnSync('dd', ['if=/dev/zero', `of=${loop}`, 'bs=4k', 'count=50', 'oflag=direct'], { stdio: 'ignore' });
      expect(dd.status).to.equal(0);
    } finally {
      traced = await stopBpftrace(bt);
    }
    const out = await stopTool(tool);
    expect(await eventually(10, () => out.includes('distribution')), out).to.equal(true);
    const sections = out.split(/\n(?=disk = )/);
    const mine = sections.find((s) => s.startsWith(`disk = ${basename(loop!)}\n`));
    expect(mine, out).to.not.equal(undefined);
    expect(mine!).to.match(/^\s+usecs\s+: count\s+distribution$/m);
    const fromBpftrace = bpftraceTotal(traced);
    expect(fromBpftrace, traced).to.be.at.least(50);
    expect(bccTotal(mine!), out).to.equal(fromBpftrace);
  });
});
