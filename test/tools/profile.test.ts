/**
 * profile against bpftrace on the same workload: a C program of the test's
 * own (built with clang, frame pointers kept) spends most of its time in
 * spin_hot and the rest in getppid(2) calls. Both sample it at 99 Hz; the
 * samples differ, what they say does not: the hottest user function is
 * spin_hot, called from main, in about the same share of samples, and the
 * kernel stacks of the system calls go through do_syscall_64, named
 * through kallsyms by both.
 */
import { expect } from 'chai';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { spawnRun, until } from '../support/cli.js';
import { eventually, haveBpftrace, stopTool, traceDuring } from './support.js';

const WORKLOAD = `#include <unistd.h>
#include <sys/syscall.h>
__attribute__((noinline)) void spin_hot(volatile unsigned long *n) { for (unsigned long i = 0; i < 3000000; i++) (*n)++; }
__attribute__((noinline)) void spin_syscalls(void) { for (int i = 0; i < 2000; i++) syscall(SYS_getppid); }
int main(void) { volatile unsigned long n = 0; for (;;) { spin_hot(&n); spin_syscalls(); } }
`;

/** Samples by user leaf function, from profile's folded lines (comm;user…;-;kernel… count). */
function toolLeaves(folded: string): { leaves: Map<string, number>; kernel: string[] } {
  const leaves = new Map<string, number>();
  const kernel: string[] = [];
  for (const line of folded.trim().split('\n')) {
    const m = /^(\S+) (\d+)$/.exec(line);
    expect(m, line).to.not.equal(null);
    const frames = m![1]!.split(';').slice(1);
    const cut = frames.indexOf('-');
    const user = cut < 0 ? frames : frames.slice(0, cut);
    if (cut >= 0) kernel.push(...frames.slice(cut + 1));
    const leaf = user.at(-1);
    if (leaf === 'spin_hot') expect(user.at(-2), line).to.equal('main');
    if (leaf !== undefined) leaves.set(leaf, (leaves.get(leaf) ?? 0) + Number(m![2]));
  }
  return { leaves, kernel };
}

/** Samples by user leaf function, from bpftrace's @u[ustack] (frames as `name+off`), and the kernel frames of @k[kstack]. */
function bpftraceLeaves(out: string): { leaves: Map<string, number>; kernel: string[] } {
  const leaves = new Map<string, number>();
  for (const m of out.matchAll(/@u\[\n\s+([^\n+]+)(?:\+\d+)?\n([\s\S]*?)\]: (\d+)/g)) {
    if (m[1] === 'spin_hot') expect(m[2]!.trim().split('\n')[0]!.trim().replace(/\+\d+$/, '')).to.equal('main');
    leaves.set(m[1]!, (leaves.get(m[1]!) ?? 0) + Number(m[3]));
  }
  const kernel = [...out.matchAll(/@k\[([\s\S]*?)\]: \d+/g)].flatMap((m) => m[1]!.trim().split('\n').map((f) => f.trim().replace(/\+\d+$/, '')));
  return { leaves, kernel };
}

const share = (m: Map<string, number>, key: string) => (m.get(key) ?? 0) / Math.max(1, [...m.values()].reduce((a, b) => a + b, 0));
const hottest = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1])[0]?.[0];

describe('tools: profile (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  let workload: ChildProcess | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-profile-'));
  });
  after(() => {
    workload?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the same hot user function (from main) and kernel entry as bpftrace, in about the same share of samples', async function () {
    needKernel(this);
    if (!haveBpftrace() || spawnSync('clang', ['--version'], { stdio: 'ignore' }).status !== 0) this.skip();
    writeFileSync(join(dir, 'spin.c'), WORKLOAD);
    const binary = join(dir, `prof${process.pid % 100000}`);
    const cc = spawnSync('clang', ['-O1', '-fno-omit-frame-pointer', '-o', binary, join(dir, 'spin.c')], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).to.equal(0);
    workload = spawn(binary, [], { stdio: 'ignore' });
    const pid = workload.pid!;
    // Folded output has no header on stdout (bcc's neither): started once stderr says it samples.
    const tool = spawnRun(['examples/tools/profile.bpf.ts', '--', '-p', String(pid), '-f', '-d'], join(dir, 'cache'));
    expect(await until(tool, 960, (r) => r.stderr.includes('Sampling at 99 Hertz')), tool.stderr).to.equal(true);
    const traced = await traceDuring(`profile:hz:99 /pid == ${pid}/ { @u[ustack] = count(); @k[kstack] = count(); @n++; }\ninterval:s:1 { printf("samples %d\\n", @n); }\nEND { clear(@n); }`, tool, async (bt) => {
      // At least 100 samples of bpftrace's (about a second of CPU for the workload, longer on a loaded host).
      expect(await eventually(240, () => /samples (\d{3,})\n/.test(bt.stdout)), bt.stdout).to.equal(true);
    });
    const out = await stopTool(tool);
    workload.kill('SIGKILL');
    const fromTool = toolLeaves(out.split('\n').filter((l) => /^\S+ \d+$/.test(l)).join('\n'));
    const fromBpftrace = bpftraceLeaves(traced);
    expect(hottest(fromTool.leaves), out).to.equal('spin_hot');
    expect(hottest(fromBpftrace.leaves), traced).to.equal('spin_hot');
    expect(Math.abs(share(fromTool.leaves, 'spin_hot') - share(fromBpftrace.leaves, 'spin_hot')), `${out}\n${traced}`).to.be.below(0.25);
    expect(fromBpftrace.kernel).to.include('do_syscall_64');
    expect(fromTool.kernel, out).to.include('do_syscall_64');
  });
});
