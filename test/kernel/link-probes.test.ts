import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { attachUprobe, attachUprobeMulti, resolveBinaryPath, resolveUprobeOffset } from '../../src/kernel/link-uprobe.js';
import { attachKprobe, attachKprobeMulti, kernelHasKprobes } from '../../src/kernel/link-kprobe.js';
import { attachPerfEvent } from '../../src/kernel/link-perf-sample.js';
import { attachIter, iterTargetBtfId } from '../../src/kernel/link-iter.js';
import { kernelBtf } from '../../src/kernel/kernel-symbols.js';
import { LinkError } from '../../src/kernel/link-error.js';
import { PerfEventLinkType } from '../../src/kernel/link-info.js';
import { LinkType } from '../../src/syscall/layouts.generated.js';
import { needKernel } from '../support/kernel.js';
import { waitFor } from '../support/wait.js';
import { countAll, Helpers, op, R0, R1, R2, R3, R6, R10 } from './link-programs.js';
import { countArmedReturns, countMarked, libcGetpgid, MARK } from './marked-calls.js';
import { kernelAtLeast } from './helpers.js';
import { haveFeature } from '../../src/kernel/feature-names.js';
import { PerfEventIoctlLink, PerfEventLink } from '../../src/kernel/link-perf-event.js';
import { skipWithout } from '../support/features.js';

const counter = (): BpfMap => BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
const readCount = (map: BpfMap): number => Number(new DataView(map.lookup(new Uint8Array(4))!.buffer).getBigUint64(0, true));

const TARGET_C = `
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) int tsbpf_probe_target(int x) { __asm__ volatile(""); return x + 1; }
__attribute__((noinline)) int tsbpf_other_target(int x) { __asm__ volatile(""); return x * 2; }
int main(int argc, char **argv) {
  int n = atoi(argv[1]), s = 0;
  for (int i = 0; i < n; i++) s += tsbpf_probe_target(i);
  for (int i = 0; i < 2 * n; i++) s += tsbpf_other_target(i);
  printf("%d\\n", s);
  return 0;
}
`;

describe('kernel: probe, perf event and iterator links', function () {
  let dir = '';
  let binary = '';

  before(function () {
    needKernel(this);
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-uprobe-'));
    writeFileSync(join(dir, 'target.c'), TARGET_C);
    try {
      execFileSync('gcc', ['-O1', '-o', join(dir, 'target'), join(dir, 'target.c')], { stdio: 'ignore' });
      binary = join(dir, 'target');
    } catch {
      // No C compiler (e.g. in a minimal VM image): the tests on a built binary skip and say so.
    }
  });

  /** Skips a test that needs the gcc-built binary when there is none, with the reason in its title. */
  const needBinary = (ctx: Mocha.Context): void => {
    if (binary) return;
    if (ctx.test) ctx.test.title += ' (skipped: no gcc to build the probe target)';
    ctx.skip();
  };
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a uprobe fires on each call of a function in a binary the test built, a uretprobe on each return', function () {
    needBinary(this);
    using calls = counter();
    using returns = counter();
    using entry = Program.load({ type: 'KPROBE', instructions: countAll(calls.fd), name: 'up_entry' });
    using exit = Program.load({ type: 'KPROBE', instructions: countAll(returns.fd), name: 'up_ret' });
    using link = attachUprobe(entry, { path: binary, symbol: 'tsbpf_probe_target' });
    using retLink = attachUprobe(exit, { path: binary, symbol: 'tsbpf_probe_target' }, { retprobe: true });
    execFileSync(binary, ['17']);
    expect(readCount(calls)).to.equal(17);
    expect(readCount(returns)).to.equal(17);
    expect(link).to.be.instanceOf(haveFeature('perf_link') ? PerfEventLink : PerfEventIoctlLink);
    if (!(link instanceof PerfEventLink)) return; // before 5.15: the perf event itself, no link info
    const info = link.info();
    expect(info.type).to.equal(LinkType.PERF_EVENT);
    if (kernelAtLeast(6, 6)) {
      // perf link details: 6.6+
      expect(info.perfEventType).to.equal(PerfEventLinkType.UPROBE);
      expect(info.name).to.equal(binary);
      expect(BigInt(info.offset!)).to.equal(resolveUprobeOffset(binary, 'tsbpf_probe_target'));
      expect(retLink.info().perfEventType).to.equal(PerfEventLinkType.URETPROBE);
    }
  });

  it('the perf-event ioctl attach (kernels before 5.15) counts uprobes and uretprobes the same, and close detaches', function () {
    needBinary(this);
    using calls = counter();
    using returns = counter();
    using entry = Program.load({ type: 'KPROBE', instructions: countAll(calls.fd), name: 'up_ioctl' });
    using exit = Program.load({ type: 'KPROBE', instructions: countAll(returns.fd), name: 'urp_ioctl' });
    const link = attachUprobe(entry, { path: binary, symbol: 'tsbpf_probe_target' }, { legacy: true });
    const retLink = attachUprobe(exit, { path: binary, symbol: 'tsbpf_probe_target' }, { retprobe: true, legacy: true });
    expect(link).to.be.instanceOf(PerfEventIoctlLink);
    expect([link.kind, retLink.kind]).to.deep.equal(['uprobe', 'uretprobe']);
    execFileSync(binary, ['11']);
    expect([readCount(calls), readCount(returns)]).to.deep.equal([11, 11]);
    link.close();
    retLink.close();
    execFileSync(binary, ['3']);
    expect([readCount(calls), readCount(returns)]).to.deep.equal([11, 11], 'no counting after close');
  });

  it('the symbol offset matches what nm and the program headers say', function () {
    needBinary(this);
    const nm = execFileSync('nm', [binary], { encoding: 'utf8' });
    const addr = BigInt('0x' + /^([0-9a-f]+) T tsbpf_probe_target$/m.exec(nm)![1]);
    const offset = resolveUprobeOffset(binary, 'tsbpf_probe_target');
    // gcc's default PIE layout puts .text in a segment whose file offset equals its vaddr.
    expect(offset).to.equal(addr);
  });

  it('a uprobe on libc fires on each marked call this thread makes, a uretprobe on each return', function () {
    const libcPath = readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/)[5]).find((p) => p && /\/libc\.so\.6$|\/libc-[\d.]+\.so$/.test(p))!;
    expect(libcPath).to.be.a('string');
    using calls = counter();
    using returns = counter();
    using armed = counter();
    using prog = Program.load({ type: 'KPROBE', instructions: countMarked('uprobe', calls.fd, { armFd: armed.fd }) });
    using retProg = Program.load({ type: 'KPROBE', instructions: countArmedReturns(returns.fd, armed.fd) });
    using link = attachUprobe(prog, { path: libcPath, symbol: 'getpgid' });
    using retLink = attachUprobe(retProg, { path: libcPath, symbol: 'getpgid' }, { retprobe: true });
    for (let i = 0; i < 9; i++) {
      expect(libcGetpgid(MARK)).to.equal(-1);
      libcGetpgid(0); // unmarked
    }
    expect(readCount(calls)).to.equal(9);
    expect(readCount(returns)).to.equal(9);
    void link;
    void retLink;
  });

  it('uprobe_multi attaches one link to several functions', function () {
    needBinary(this);
    using map = counter();
    skipWithout(this, 'uprobe_multi');
    const prog = Program.load({ type: 'KPROBE', instructions: countAll(map.fd), expectedAttachType: 'TRACE_UPROBE_MULTI' });
    using p = prog;
    using link = attachUprobeMulti(p, binary, ['tsbpf_probe_target', 'tsbpf_other_target']);
    execFileSync(binary, ['5']);
    expect(readCount(map)).to.equal(5 + 10);
    expect(link.info().type).to.equal(LinkType.UPROBE_MULTI);
  });

  it('a missing binary or symbol is a typed error', function () {
    needBinary(this);
    using map = counter();
    using prog = Program.load({ type: 'KPROBE', instructions: countAll(map.fd) });
    expect(() => attachUprobe(prog, { path: join(dir, 'nope'), symbol: 'main' })).to.throw(LinkError).with.property('code', 'ENOBINARY');
    expect(() => attachUprobe(prog, { path: binary, symbol: 'no_such_function' })).to.throw(LinkError).with.property('code', 'ENOSYM');
    expect(() => attachUprobe(prog, { path: join(dir, 'target.c'), symbol: 'main' })).to.throw(LinkError).with.property('code', 'ENOBINARY');
    expect(() => attachUprobe(prog, { path: 'no-such-program-xyz', symbol: 'main' })).to.throw(LinkError).with.property('code', 'ENOBINARY');
  });

  it('bare names resolve like libbpf: libraries in the library directories, programs in PATH', function () {
    expect(resolveBinaryPath('libc.so.6')).to.match(/^\/.*\/libc\.so\.6$/);
    expect(resolveBinaryPath('sh')).to.match(/^\/.*\/sh$/);
    expect(resolveBinaryPath('/x/y')).to.equal('/x/y');
    expect(resolveUprobeOffset('libc.so.6', 'getppid') > 0n).to.equal(true);
  });

  it('kprobes: this kernel has none, and attaching says so clearly', function () {
    if (kernelHasKprobes()) this.skip(); // the dev VMs have kprobes; see test/vm
    using map = counter();
    using prog = Program.load({ type: 'KPROBE', instructions: countAll(map.fd) });
    expect(() => attachKprobe(prog, 'do_sys_openat2')).to.throw(LinkError, /this kernel has no kprobes \(CONFIG_KPROBES\)/).with.property('code', 'ENOKPROBES');
    expect(() => attachKprobe(prog, 'do_sys_openat2', { retprobe: true })).to.throw(LinkError).with.property('code', 'ENOKPROBES');
    expect(() => attachKprobeMulti(prog, ['do_sys_openat2'])).to.throw(LinkError).with.property('code', 'ENOKPROBES');
  });

  it('a perf event program samples the software cpu-clock on every CPU', async function () {
    using map = counter();
    using prog = Program.load({ type: 'PERF_EVENT', instructions: countAll(map.fd), name: 'sample' });
    const link = attachPerfEvent(prog, { frequency: 1000 });
    expect(link.links.length).to.be.greaterThan(0);
    await waitFor(() => readCount(map) > 10, 'more than 10 cpu-clock samples');
    link.close();
    const n = readCount(map);
    await new Promise((r) => setTimeout(r, 50)); // a negative check: a slow machine can only make it pass wrongly, never fail
    expect(readCount(map)).to.equal(n, 'no samples after close');
  });

  it('a task iterator writes the pid of every task, ours included', function () {
    const task = kernelBtf().type(kernelBtf().findByName('task_struct', 'struct')!);
    if (task.kind !== 'struct') throw new Error('task_struct is not a struct');
    const pidOffset = task.members.find((m) => m.name === 'pid')!.bitOffset / 8;
    const insns = [
      op.movr(R6, R1),
      op.ldxdw(R2, R6, 8), // ctx->task
      op.jeq(R2, 0, 8),
      op.ldxw(R3, R2, pidOffset), // task->pid (BTF pointer access)
      op.stxw(R10, -4, R3),
      op.ldxdw(R1, R6, 0), // ctx->meta
      op.ldxdw(R1, R1, 0), // meta->seq
      op.movr(R2, R10),
      op.add(R2, -4),
      op.mov(R3, 4),
      op.call(Helpers.seqWrite),
      op.mov(R0, 0),
      op.exit(),
    ];
    using prog = Program.load({ type: 'TRACING', expectedAttachType: 'TRACE_ITER', attachBtfId: iterTargetBtfId('task'), instructions: insns, name: 'iter_pids' });
    using link = attachIter(prog, 'task');
    const out = link.read();
    expect(out.byteLength % 4).to.equal(0);
    const pids = Array.from({ length: out.byteLength / 4 }, (_, i) => new DataView(out.buffer).getUint32(i * 4, true));
    expect(pids).to.include(process.pid);
    expect(pids).to.include(2); // kthreadd
    expect(pids.length).to.be.greaterThan(10);
    expect([...pids].sort((a, b) => a - b)).to.deep.equal(pids, 'the task iterator walks pids in order');
    const info = link.info();
    expect(info.type).to.equal(LinkType.ITER);
    expect(info.name).to.equal('task');
    expect(() => iterTargetBtfId('no_such_iter')).to.throw(LinkError).with.property('code', 'ENOITER');
  });
});
