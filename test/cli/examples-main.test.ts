/**
 * The two examples whose user-space half lives in the module (`export async
 * function main`), run end to end by `tsbpf run` against the kernel: the
 * test makes the workload they report on, under a process name of its own.
 */
import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnRun, until } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';

describe('examples with a user-space main, through tsbpf run', function () {
  this.timeout(240000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-main-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('opensnoop prints columns for the processes named by --name, and only those', async function () {
    needKernel(this);
    // A copy of cat under a name of our own: its comm is that name.
    const name = `snoop${process.pid % 100000}`;
    const cat = join(dir, name);
    copyFileSync('/bin/cat', cat);
    const target = join(dir, 'opened-by-the-test.txt');
    writeFileSync(target, 'x\n');
    const run = spawnRun(['examples/tools/opensnoop.bpf.ts', '--', '--name', name, '-U', '-e'], join(dir, 'cache1'));
    try {
      expect(await until(run, 480, (r) => r.stdout.includes('PATH\n')), run.stderr).to.equal(true);
      // The header is printed once main runs, after attach: every open from now on is seen.
      const seen = await until(run, 240, (r) => {
        spawn(cat, [target], { stdio: 'ignore' });
        return r.stdout.includes(target);
      });
      expect(seen, run.stdout + run.stderr).to.equal(true);
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited, run.stderr).to.equal(0);
    const [header, ...rows] = run.stdout.replace(/\n+$/, '').split('\n');
    expect(header).to.match(/^UID\s+PID\s+COMM\s+FD ERR FLAGS\s+PATH$/);
    expect(rows.length).to.be.greaterThan(0);
    for (const row of rows) expect(row, JSON.stringify(row)).to.match(new RegExp(`^\\d+\\s+\\d+\\s+${name}\\s+-?\\d+\\s+\\d+ 0[0-7]*\\s+\\S`));
    // The test's file was opened: an fd (≥ 3) and no error.
    expect(rows.some((r) => new RegExp(`\\s([3-9]|\\d\\d+)\\s+0 0[0-7]*\\s+${target}$`).test(r)), rows.join('\n')).to.equal(true);
  });

  it('syscall-top prints --count tables of the top processes by system calls, then main returns and run exits', async function () {
    needKernel(this);
    const name = `busy${process.pid % 100000}`;
    const dd = join(dir, name);
    copyFileSync('/bin/dd', dd);
    let busy: ChildProcess | undefined;
    const run = spawnRun(['examples/syscall-top.bpf.ts', '--', '--interval', '1', '--top', '50', '--count', '3'], join(dir, 'cache2'));
    try {
      expect(await until(run, 480, (r) => r.stderr.includes('attached onSyscall')), run.stderr).to.equal(true);
      // One byte at a time: two system calls per byte, many thousands a second.
      busy = spawn(dd, ['if=/dev/zero', 'of=/dev/null', 'bs=1', 'count=100000000'], { stdio: 'ignore' });
      expect(await run.exited, run.stderr).to.equal(0);
    } finally {
      busy?.kill('SIGKILL');
      run.child.kill('SIGKILL');
    }
    const tables = run.stdout.split('\n\n').filter((t) => t.includes('top 50 by system calls in 1s'));
    expect(tables).to.have.length(3);
    let sawBusy = false;
    for (const table of tables) {
      const rows = table.split('\n').slice(2).filter((l) => !l.startsWith('(shown)') && l.trim() !== '');
      const calls = rows.map((r) => Number(/\s(\d+)\s+\d+$/.exec(r)![1]));
      expect(calls).to.deep.equal([...calls].sort((a, b) => b - a)); // sorted, largest first
      expect(rows.length).to.be.at.most(50);
      const mine = rows.find((r) => r.startsWith(`${name} `));
      if (mine) {
        sawBusy = true;
        expect(Number(/\s(\d+)\s+\d+$/.exec(mine)![1])).to.be.greaterThan(100);
      }
    }
    expect(sawBusy, run.stdout).to.equal(true);
  });
});
