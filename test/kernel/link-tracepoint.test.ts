import { expect } from 'chai';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { attachTracepoint } from '../../src/kernel/link-tracepoint.js';
import { attachRawTracepoint } from '../../src/kernel/link-raw-tracepoint.js';
import { LinkError } from '../../src/kernel/link-error.js';
import { ObjectClosedError } from '../../src/kernel/owned-fd.js';
import { LinkType } from '../../src/syscall/layouts.generated.js';
import { needKernel } from '../support/kernel.js';
import { collectGarbage } from '../support/gc.js';
import { countForPid, Helpers, op, R0, R1, R2, R6, R7, R10 } from './link-programs.js';
import { countMarked, getpgid, getpid, libcGetpgid, MARK, markedGetpgid } from './marked-calls.js';
import { kernelAtLeast } from './helpers.js';
import { haveFeature } from '../../src/kernel/feature-names.js';
import { MissingFeatureError } from '../../src/kernel/features.js';
import { PerfEventIoctlLink, PerfEventLink } from '../../src/kernel/link-perf-event.js';
import { featuresOff, skipWithout } from '../support/features.js';

function counter(): BpfMap {
  return BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
}
function readCount(map: BpfMap): bigint {
  const v = map.lookup(new Uint8Array(4))!;
  return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true);
}

describe('kernel: tracepoint and raw tracepoint links', function () {
  before(function () {
    needKernel(this);
  });

  it('a tracepoint program counts exactly the marked getpgid calls this thread makes', function () {
    using map = counter();
    using prog = Program.load({ type: 'TRACEPOINT', instructions: countMarked('tracepoint', map.fd), name: 'tp_count' });
    const link = attachTracepoint(prog, 'syscalls/sys_enter_getpgid');
    for (let i = 0; i < 25; i++) expect(markedGetpgid()).to.equal(-1);
    expect(readCount(map)).to.equal(25n);

    // A bpf_link where the kernel has perf links (5.15+), else the perf event with PERF_EVENT_IOC_SET_BPF.
    expect(link).to.be.instanceOf(haveFeature('perf_link') ? PerfEventLink : PerfEventIoctlLink);
    if (link instanceof PerfEventLink) {
      const info = link.info();
      expect(info.typeName).to.equal('PERF_EVENT');
      if (kernelAtLeast(6, 6)) expect(info.name).to.equal('sys_enter_getpgid'); // perf link details: 6.6+
      expect(info.progId).to.be.greaterThan(0);
    }

    link.close();
    for (let i = 0; i < 5; i++) markedGetpgid();
    expect(readCount(map)).to.equal(25n, 'no counting after close');
    expect(() => link.info()).to.throw(ObjectClosedError);
    expect(() => link.fd).to.throw(ObjectClosedError);
    expect(() => link.pin('/sys/fs/bpf/x')).to.throw(ObjectClosedError);
    link.close(); // idempotent
  });

  it('counts stay exact with garbage collections, unmarked calls and other threads in the counting window (issue 15)', async function () {
    // The witness counts this thread's getpid calls, as these tests once did: the
    // test makes none, yet V8's collector calls getpid once per GC cycle.
    using marked = counter();
    using witness = counter();
    using prog = Program.load({ type: 'TRACEPOINT', instructions: countMarked('tracepoint', marked.fd) });
    using witnessProg = Program.load({ type: 'TRACEPOINT', instructions: countForPid(witness.fd, process.pid) });
    using link = attachTracepoint(prog, 'syscalls/sys_enter_getpgid');
    using witnessLink = attachTracepoint(witnessProg, 'syscalls/sys_enter_getpid');
    const onPoolThread = (): Promise<number> => new Promise((resolve, reject) => {
      libcGetpgid.async(MARK, (err: unknown, r: number) => (err ? reject(err) : resolve(r)));
    });
    const rounds = 20;
    for (let i = 0; i < rounds; i++) {
      expect(markedGetpgid()).to.equal(-1);
      collectGarbage(i % 2 ? 'major' : 'minor');
      getpgid(0); // unmarked: this process's group
      expect(await onPoolThread()).to.equal(-1); // marked, from a libuv pool thread
    }
    expect(readCount(marked)).to.equal(BigInt(rounds));
    expect(readCount(witness) >= BigInt(rounds), `the getpid witness saw ${readCount(witness)} calls for ${rounds} collections (V8 calls getpid in each)`).to.equal(true);
    void link;
    void witnessLink;
  });

  it('the legacy ioctl attach (kernels before 5.15) counts the same and detaches on close', function () {
    using map = counter();
    using prog = Program.load({ type: 'TRACEPOINT', instructions: countMarked('tracepoint', map.fd) });
    const link = attachTracepoint(prog, 'syscalls/sys_enter_getpgid', { legacy: true });
    expect(link).to.be.instanceOf(PerfEventIoctlLink);
    expect(link.fd).to.equal(-1);
    for (let i = 0; i < 8; i++) markedGetpgid();
    expect(readCount(map)).to.equal(8n);
    expect(() => link.info()).to.throw(LinkError).with.property('code', 'ENOTSUP');
    expect(() => link.pin('/sys/fs/bpf/nope')).to.throw(LinkError).with.property('code', 'ENOTSUP');
    link.close();
    markedGetpgid();
    expect(readCount(map)).to.equal(8n);
  });

  it('TSBPF_FEATURES_OFF=perf_link makes every perf-event attach use the ioctl; a cookie then names the missing feature', function () {
    using map = counter();
    using prog = Program.load({ type: 'TRACEPOINT', instructions: countMarked('tracepoint', map.fd) });
    using _off = featuresOff('perf_link');
    const link = attachTracepoint(prog, 'syscalls/sys_enter_getpgid');
    expect(link).to.be.instanceOf(PerfEventIoctlLink);
    for (let i = 0; i < 6; i++) markedGetpgid();
    expect(readCount(map)).to.equal(6n);
    link.close();
    markedGetpgid();
    expect(readCount(map)).to.equal(6n, 'no counting after close');
    expect(() => attachTracepoint(prog, 'syscalls/sys_enter_getpgid', { cookie: 1n }))
      .to.throw(MissingFeatureError, /perf_link .*TSBPF_FEATURES_OFF/);
  });

  it('a bpf_cookie given at attach is what the program reads with bpf_get_attach_cookie', function () {
    skipWithout(this, 'perf_link', 'bpf_cookie');
    using map = counter();
    const insns = [
      op.movr(R6, R1),
      op.call(Helpers.pidTgid),
      op.rsh(R0, 32),
      op.jne(R0, process.pid, 11),
      op.movr(R1, R6),
      op.call(174), // bpf_get_attach_cookie
      op.movr(R7, R0),
      op.stw(R10, -4, 0),
      op.mapFd(R1, map.fd),
      op.movr(R2, R10),
      op.add(R2, -4),
      op.call(Helpers.mapLookup),
      op.jeq(R0, 0, 1),
      op.stxdw(R0, 0, R7),
      op.mov(R0, 0),
      op.exit(),
    ];
    using prog = Program.load({ type: 'TRACEPOINT', instructions: insns });
    using link = attachTracepoint(prog, 'syscalls/sys_enter_getpid', { cookie: 0x1234_5678_9abcn });
    getpid();
    expect(readCount(map)).to.equal(0x1234_5678_9abcn);
    if (kernelAtLeast(6, 6)) expect(link.info().cookie).to.equal(0x1234_5678_9abcn);
  });

  it('update() on a perf event link is a clear ENOTSUP', function () {
    using map = counter();
    using prog = Program.load({ type: 'TRACEPOINT', instructions: countForPid(map.fd, process.pid) });
    using link = attachTracepoint(prog, 'syscalls/sys_enter_getpid');
    expect(() => link.update(prog)).to.throw(LinkError).with.property('code', 'ENOTSUP');
  });

  it('a missing tracepoint is a typed error with a hint', function () {
    using map = counter();
    using prog = Program.load({ type: 'TRACEPOINT', instructions: countForPid(map.fd, process.pid) });
    expect(() => attachTracepoint(prog, 'syscalls/sys_enter_nonexistent_xyz')).to.throw(LinkError).with.property('code', 'ENOTRACEPOINT');
    expect(() => attachTracepoint(prog, 'nocategory')).to.throw(LinkError).with.property('code', 'EBADARG');
    expect(() => attachTracepoint(prog, '../../etc/passwd')).to.throw(LinkError).with.property('code', 'ENOTRACEPOINT');
    const closed = Program.load({ type: 'TRACEPOINT', instructions: countForPid(map.fd, process.pid) });
    closed.close();
    expect(() => attachTracepoint(closed, 'syscalls/sys_enter_getpid')).to.throw(ObjectClosedError);
  });

  it('a raw tracepoint program on sys_enter counts exactly the marked calls this thread makes', function () {
    using map = counter();
    using prog = Program.load({ type: 'RAW_TRACEPOINT', instructions: countMarked('sys_enter', map.fd) });
    const link = attachRawTracepoint(prog, 'sys_enter');
    for (let i = 0; i < 10; i++) {
      markedGetpgid();
      getpgid(0); // unmarked: not counted
    }
    expect(readCount(map)).to.equal(10n);
    link.close();
    for (let i = 0; i < 10; i++) markedGetpgid();
    expect(readCount(map)).to.equal(10n, 'no counting after close');
    expect(() => attachRawTracepoint(prog, 'no_such_raw_tp_xyz')).to.throw(LinkError).with.property('code', 'ENOTRACEPOINT');
  });

  it('a raw tracepoint link reports its name and type', function () {
    using map = counter();
    using prog = Program.load({ type: 'RAW_TRACEPOINT', instructions: countForPid(map.fd, process.pid) });
    using link = attachRawTracepoint(prog, 'sys_enter');
    const info = link.info();
    expect(info.type).to.equal(LinkType.RAW_TRACEPOINT);
    expect(info.name).to.equal('sys_enter');
  });
});
