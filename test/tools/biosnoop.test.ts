/**
 * biosnoop against bpftrace on the same workload: a loop device of the
 * test's own over a file, written with direct I/O in 20 requests of 4 KiB
 * and read back in 10, by a copy of dd with a name of the test's own. The
 * tool (tp_btf programs, a hash keyed by the request, its disk, sector and
 * size read through CO-RE) with -Q -d LOOP and a bpftrace script on the
 * block tracepoints (keyed by device and sector) list the same requests,
 * with the process noted at insertion or else at issue.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, startBpftrace, startTool, stopBpftrace, stopTool } from './support.js';

describe('tools: biosnoop (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  let loop: string | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-biosnoop-'));
  });
  after(() => {
    if (loop) spawnSync('losetup', ['-d', loop]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists each request of one loop device with COMM PID DISK T SECTOR BYTES QUE LAT, as bpftrace sees them', async function () {
    needKernel(this);
    const dd = spawnSync('which', ['dd'], { encoding: 'utf8' }).stdout.trim();
    if (!haveBpftrace() || spawnSync('losetup', ['--version']).status !== 0 || dd === '') this.skip();
    const image = join(dir, 'port10-biosnoop.img');
    writeFileSync(image, '');
    truncateSync(image, 16 << 20);
    loop = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
    const [major, minor] = readFileSync(`/sys/class/block/${basename(loop)}/dev`, 'utf8').trim().split(':').map(Number);
    const dev = (major! << 20) | minor!;
    // The workload's own name: the requests of this process are exactly the ones it makes.
    const name = `bs${process.pid % 100000}`;
    const copy = join(dir, name);
    copyFileSync(dd, copy);
    const tool = await startTool('biosnoop', ['-Q', '-d', basename(loop)], join(dir, 'cache'), /LAT\(ms\)\n/);
    const key = 'args->dev, args->sector';
    const bt = await startBpftrace(
      `tracepoint:block:block_rq_insert /args->dev == ${dev}/ { @c[${key}] = comm; @p[${key}] = pid; }\n` +
      `tracepoint:block:block_rq_issue /args->dev == ${dev}/ { if (@p[${key}] == 0) { @c[${key}] = comm; @p[${key}] = pid; } @t[${key}] = nsecs; @b[${key}] = args->bytes; }\n` +
      `tracepoint:block:block_rq_complete /@t[${key}] != 0/ { printf("%s %d %s %d %d\\n", @c[${key}], @p[${key}], args->rwbs, args->sector, @b[${key}]);\n` +
      `  delete(@c[${key}]); delete(@p[${key}]); delete(@t[${key}]); delete(@b[${key}]); }\n` +
      `END { clear(@c); clear(@p); clear(@t); clear(@b); }`,
    );
    let traced = '';
    try {
      expect(spawnSync(copy, ['if=/dev/zero', `of=${loop}`, 'bs=4k', 'count=20', 'oflag=direct'], { stdio: 'ignore' }).status).to.equal(0);
      expect(spawnSync(copy, [`if=${loop}`, 'of=/dev/null', 'bs=4k', 'count=10', 'iflag=direct'], { stdio: 'ignore' }).status).to.equal(0);
      const mine = (text: string) => text.split('\n').filter((l) => l.includes(` ${name} `) || l.startsWith(`${name} `)).length;
      await eventually(30, () => mine(tool.stdout) >= 30 && mine(bt.stdout) >= 30);
    } catch (e) {
      tool.child.kill('SIGKILL');
      throw e;
    } finally {
      traced = await stopBpftrace(bt);
    }
    const out = await stopTool(tool);

    const [header, ...rows] = out.trim().split('\n');
    expect(header).to.match(/^TIME\(s\)\s+COMM\s+PID\s+DISK\s+T SECTOR\s+BYTES\s+QUE\(ms\) LAT\(ms\)$/);
    const seen = rows.map((r) => {
      const m = /^\d+\.\d{6}\s+(\S+)\s+(\d+)\s+(\S+)\s+([RWFD?]) (\d+)\s+(\d+)\s+(\d+\.\d\d)\s+(\d+\.\d\d)$/.exec(r);
      expect(m, r).to.not.equal(null);
      expect(m![3]).to.equal(basename(loop!));
      return { comm: m![1]!, line: `${m![1]} ${m![2]} ${m![4]} ${m![5]} ${m![6]}` };
    }).filter((r) => r.comm === name).map((r) => r.line).sort();
    const expected = traced.trim().split('\n').filter((l) => l.startsWith(`${name} `)).map((l) => {
      const [comm, pid, rwbs, sector, bytes] = l.split(' ');
      return `${comm} ${pid} ${rwbs![0]} ${sector} ${bytes}`;
    }).sort();
    expect(seen).to.deep.equal(expected);
    // By construction: sectors 0, 8, … of 4 KiB each, 20 written and 10 read.
    const ops = (op: string) => seen.filter((l) => l.split(' ')[2] === op).map((l) => Number(l.split(' ')[3])).sort((a, b) => a - b);
    expect(ops('W')).to.deep.equal(Array.from({ length: 20 }, (_, i) => i * 8));
    expect(ops('R')).to.deep.equal(Array.from({ length: 10 }, (_, i) => i * 8));
    expect(seen.every((l) => l.endsWith(' 4096'))).to.equal(true);
  });
});
