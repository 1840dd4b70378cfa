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
import { PerfEventLinkType } from '../../src/kernel/link-info.js';
import { syscall6 } from '../../src/syscall/libc.js';
import { needKernel } from '../support/kernel.js';
import { readU64 } from '../kernel/helpers.js';
import { countForPid } from '../kernel/link-programs.js';

const NR_GETPID = 39;
const NR_GETPPID = 110;
const getpid = (): number => Number(syscall6(NR_GETPID, 0, 0, 0, 0, 0, 0));
const getppid = (): number => Number(syscall6(NR_GETPPID, 0, 0, 0, 0, 0, 0));
// The x86-64 syscall entry points of getpid/getppid: called once per syscall, never inlined.
const SYS_GETPID = '__x64_sys_getpid';
const SYS_GETPPID = '__x64_sys_getppid';

const counter = (): BpfMap => BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
const readCount = (map: BpfMap): number => Number(readU64(map.lookup(new Uint8Array(4))!));

/** Skips the current test, putting the reason in its title so the report shows it. */
function skipBecause(ctx: Mocha.Context, reason: string): never {
  if (ctx.test) ctx.test.title += ` (skipped: ${reason})`;
  ctx.skip();
}

describe('kernel (dev VMs): kprobe and kretprobe links', function () {
  before(function () {
    needKernel(this);
    if (process.arch !== 'x64') skipBecause(this, 'the probed syscall symbols are x86-64 ones');
    if (!kernelHasKprobes()) skipBecause(this, 'this kernel has no kprobes; make vm-test runs this on Debian 6.1 and 6.12');
  });

  it('a kprobe counts exactly the getpid calls this process makes, a kretprobe their returns', function () {
    using calls = counter();
    using returns = counter();
    using entry = Program.load({ type: 'KPROBE', instructions: countForPid(calls.fd, process.pid), name: 'kp_getpid' });
    using exit = Program.load({ type: 'KPROBE', instructions: countForPid(returns.fd, process.pid), name: 'krp_getpid' });
    using link = attachKprobe(entry, SYS_GETPID);
    using retLink = attachKprobe(exit, SYS_GETPID, { retprobe: true });
    for (let i = 0; i < 31; i++) expect(getpid()).to.equal(process.pid);
    expect(readCount(calls)).to.equal(31);
    expect(readCount(returns)).to.equal(31);

    const info = link.info();
    expect(info.typeName).to.equal('PERF_EVENT');
    expect(info.progId).to.equal(entry.info().id);
    // Kernels before 6.6 do not describe perf_event links any further (the type reads UNSPEC).
    if (info.perfEventType !== undefined && info.perfEventType !== PerfEventLinkType.UNSPEC) {
      expect(info.perfEventType).to.equal(PerfEventLinkType.KPROBE);
      expect(info.name).to.equal(SYS_GETPID);
      expect(retLink.info().perfEventType).to.equal(PerfEventLinkType.KRETPROBE);
    }

    link.close();
    retLink.close();
    getpid();
    expect(readCount(calls)).to.equal(31, 'no counting after close');
    expect(readCount(returns)).to.equal(31, 'no counting after close');
  });

  it('a kprobe on a function that does not exist is a typed ENOSYM error', function () {
    using map = counter();
    using prog = Program.load({ type: 'KPROBE', instructions: countForPid(map.fd, process.pid) });
    expect(() => attachKprobe(prog, 'tsbpf_no_such_kernel_function')).to.throw(LinkError, /no probeable kernel function/).with.property('code', 'ENOSYM');
    expect(() => attachKprobe(prog, 'tsbpf_no_such_kernel_function', { retprobe: true })).to.throw(LinkError).with.property('code', 'ENOSYM');
  });

  it('kprobe_multi: one link counts calls to several functions, and their returns', function () {
    using map = counter();
    using retMap = counter();
    using prog = Program.load({ type: 'KPROBE', expectedAttachType: 'TRACE_KPROBE_MULTI', instructions: countForPid(map.fd, process.pid), name: 'kpm_count' });
    using retProg = Program.load({ type: 'KPROBE', expectedAttachType: 'TRACE_KPROBE_MULTI', instructions: countForPid(retMap.fd, process.pid), name: 'kpm_ret' });
    let link;
    let retLink;
    try {
      link = attachKprobeMulti(prog, [SYS_GETPID, SYS_GETPPID]);
      retLink = attachKprobeMulti(retProg, [SYS_GETPID, SYS_GETPPID], { retprobe: true });
    } catch (e) {
      // Needs CONFIG_FPROBE (Debian's 6.1 cloud kernel has none): the kernel answers EOPNOTSUPP.
      if ((e as { errno?: number }).errno === 95) skipBecause(this, 'kprobe_multi needs CONFIG_FPROBE, which this kernel lacks');
      throw e;
    }
    using _l = link;
    using _r = retLink;
    for (let i = 0; i < 5; i++) getpid();
    for (let i = 0; i < 3; i++) getppid();
    expect(readCount(map)).to.equal(8);
    expect(readCount(retMap)).to.equal(8);
  });
});
