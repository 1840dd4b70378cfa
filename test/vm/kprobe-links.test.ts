/**
 * kprobe and kretprobe links doing real work. The host kernel here has no
 * kprobes, so these run in the dev VMs (`make vm-test` includes this file);
 * elsewhere they skip, saying why in the test title. Kernel tests: root and
 * bpf() needed (needKernel).
 */
import { expect } from 'chai';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { attachKprobe, attachKprobeMulti, kernelHasKprobes } from '../../src/kernel/link-kprobe.js';
import { LinkError } from '../../src/kernel/link-error.js';
import { PerfEventIoctlLink } from '../../src/kernel/link-perf-event.js';
import type { Link } from '../../src/kernel/link.js';
import { PerfEventLinkType } from '../../src/kernel/link-info.js';
import { needKernel } from '../support/kernel.js';
import { skipBecause, skipWithout } from '../support/features.js';
import { readU64 } from '../kernel/helpers.js';
import { countAll } from '../kernel/link-programs.js';
import { arch, countArmedReturns, countMarked, getpgid, markedGetpgid, markedGetsid, syscallFunction } from '../kernel/marked-calls.js';

const counter = (): BpfMap => BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
const readCount = (map: BpfMap): number => Number(readU64(map.lookup(new Uint8Array(4))!));

describe('kernel (dev VMs): kprobe and kretprobe links', function () {
  before(function () {
    needKernel(this);
    if (!arch) skipBecause(this, `the marked calls know the syscalls of x86-64 and arm64, not ${process.arch}`);
    if (!kernelHasKprobes()) skipBecause(this, 'this kernel has no kprobes; make vm-test runs this on Debian 6.1 and 6.12');
  });

  // The syscall entry points (__x64_sys_getpgid, ...): called once per syscall, never inlined.
  // The programs count marked calls only (getpgid(MARK) from this thread, see
  // test/kernel/marked-calls.ts); the return programs count returns their entry armed.
  it('a kprobe counts exactly the marked getpgid calls this thread makes, a kretprobe their returns', function () {
    const SYS_GETPGID = syscallFunction('getpgid');
    using calls = counter();
    using returns = counter();
    using armed = counter();
    using entry = Program.load({ type: 'KPROBE', instructions: countMarked('syscall_kprobe', calls.fd, { armFd: armed.fd }), name: 'kp_getpgid' });
    using exit = Program.load({ type: 'KPROBE', instructions: countArmedReturns(returns.fd, armed.fd), name: 'krp_getpgid' });
    using link = attachKprobe(entry, SYS_GETPGID);
    using retLink = attachKprobe(exit, SYS_GETPGID, { retprobe: true });
    for (let i = 0; i < 31; i++) {
      expect(markedGetpgid()).to.equal(-1);
      getpgid(0); // unmarked: counted by neither
    }
    expect(readCount(calls)).to.equal(31);
    expect(readCount(returns)).to.equal(31);

    // Before 5.15 (no perf_link) the attachment is the perf event itself, with no link info.
    if (link instanceof PerfEventIoctlLink) {
      expect(link.fd).to.equal(-1);
      expect(() => link.info()).to.throw(LinkError).with.property('code', 'ENOTSUP');
    } else {
      checkKprobeInfo(link, retLink, entry, SYS_GETPGID);
    }

    link.close();
    retLink.close();
    markedGetpgid();
    expect(readCount(calls)).to.equal(31, 'no counting after close');
    expect(readCount(returns)).to.equal(31, 'no counting after close');
  });

  it('the perf-event ioctl attach (PERF_EVENT_IOC_SET_BPF, kernels before 5.15) counts kprobes and kretprobes the same, and close detaches', function () {
    const SYS_GETPGID = syscallFunction('getpgid');
    using calls = counter();
    using returns = counter();
    using armed = counter();
    using entry = Program.load({ type: 'KPROBE', instructions: countMarked('syscall_kprobe', calls.fd, { armFd: armed.fd }), name: 'kp_ioctl' });
    using exit = Program.load({ type: 'KPROBE', instructions: countArmedReturns(returns.fd, armed.fd), name: 'krp_ioctl' });
    using link = attachKprobe(entry, SYS_GETPGID, { legacy: true });
    using retLink = attachKprobe(exit, SYS_GETPGID, { retprobe: true, legacy: true });
    expect(link).to.be.instanceOf(PerfEventIoctlLink);
    expect(retLink).to.be.instanceOf(PerfEventIoctlLink);
    expect(link.kind).to.equal('kprobe');
    expect(retLink.kind).to.equal('kretprobe');
    for (let i = 0; i < 13; i++) markedGetpgid();
    expect(readCount(calls)).to.equal(13);
    expect(readCount(returns)).to.equal(13);
    link.close();
    retLink.close();
    markedGetpgid();
    expect([readCount(calls), readCount(returns)]).to.deep.equal([13, 13], 'no counting after close');
  });

  it('a kprobe on a function that does not exist is a typed ENOSYM error', function () {
    using map = counter();
    using prog = Program.load({ type: 'KPROBE', instructions: countAll(map.fd) });
    expect(() => attachKprobe(prog, 'tsbpf_no_such_kernel_function')).to.throw(LinkError, /no probeable kernel function/).with.property('code', 'ENOSYM');
    expect(() => attachKprobe(prog, 'tsbpf_no_such_kernel_function', { retprobe: true })).to.throw(LinkError).with.property('code', 'ENOSYM');
  });

  it('kprobe_multi: one link counts calls to several functions, and their returns', function () {
    skipWithout(this, 'kprobe_multi'); // Debian's 6.1 cloud kernel has no CONFIG_FPROBE
    const functions = [syscallFunction('getpgid'), syscallFunction('getsid')];
    using map = counter();
    using retMap = counter();
    using armed = counter();
    using prog = Program.load({ type: 'KPROBE', expectedAttachType: 'TRACE_KPROBE_MULTI', instructions: countMarked('syscall_kprobe', map.fd, { armFd: armed.fd }), name: 'kpm_count' });
    using retProg = Program.load({ type: 'KPROBE', expectedAttachType: 'TRACE_KPROBE_MULTI', instructions: countArmedReturns(retMap.fd, armed.fd), name: 'kpm_ret' });
    using _link = attachKprobeMulti(prog, functions);
    using _retLink = attachKprobeMulti(retProg, functions, { retprobe: true });
    for (let i = 0; i < 5; i++) markedGetpgid();
    for (let i = 0; i < 3; i++) markedGetsid();
    getpgid(0);
    expect(readCount(map)).to.equal(8);
    expect(readCount(retMap)).to.equal(8);
  });
});

/** What a kprobe's bpf_link (5.15+) says about itself. */
function checkKprobeInfo(link: Link, retLink: Link, entry: Program, symbol: string): void {
  const info = link.info();
  expect(info.typeName).to.equal('PERF_EVENT');
  expect(info.progId).to.equal(entry.info().id);
  // Kernels before 6.6 do not describe perf_event links any further (the type reads UNSPEC).
  if (info.perfEventType !== undefined && info.perfEventType !== PerfEventLinkType.UNSPEC) {
    expect(info.perfEventType).to.equal(PerfEventLinkType.KPROBE);
    expect(info.name).to.equal(symbol);
    expect(retLink.info().perfEventType).to.equal(PerfEventLinkType.KRETPROBE);
  }
}
