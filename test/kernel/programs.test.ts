import { expect } from 'chai';
import { instruction } from '../../src/asm/instruction.js';
import { encode } from '../../src/asm/codec.js';
import { BpfMap, Program, SyscallError, VerifierError, ensureBpffs, unpin } from '../../src/kernel/index.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { skipWithout } from '../support/features.js';
import { call, exit, kernelAtLeast, ldMapFd, movImm, movReg, readU32, returnConst, u32le } from './helpers.js';

describe('kernel: programs', function () {
  before(function () {
    needKernel(this);
  });

  it('loads from instructions or bytes and test-runs with data in and out', () => {
    using p = Program.load({ type: 'XDP', instructions: returnConst(2), name: 'ret2' });
    const r = p.testRun({ data: new Uint8Array(64).fill(0xab) });
    expect(r.retval).to.equal(2);
    expect(r.dataOut).to.deep.equal(new Uint8Array(64).fill(0xab));
    using q = Program.load({ type: 'SOCKET_FILTER', bytes: encode(returnConst(7)) });
    expect(q.testRun({ data: new Uint8Array(64) }).retval).to.equal(7);
  });

  it('a program that writes the packet changes data_out', () => {
    // r2 = data, r3 = data_end; if r2 + 1 > r3 exit; *(u8 *)r2 = 0x5a
    using p = Program.load({
      type: 'XDP',
      instructions: [
        instruction(0x61, 2, 1, 0), instruction(0x61, 3, 1, 4), movReg(4, 2), instruction(0x07, 4, 0, 0, 1),
        instruction(0x2d, 4, 3, 1), instruction(0x72, 2, 0, 0, 0x5a), movImm(0, 2), exit(),
      ],
    });
    const r = p.testRun({ data: new Uint8Array(20) });
    expect(r.dataOut![0]).to.equal(0x5a);
  });

  it('repeat runs the program many times and counts them in run stats', () => {
    // Each run increments array[0].
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
    using p = Program.load({
      type: 'XDP',
      instructions: [
        instruction(0x62, 10, 0, -4, 0), movReg(2, 10), instruction(0x07, 2, 0, 0, -4), ldMapFd(1, m.fd), call(1),
        instruction(0x15, 0, 0, 2, 0), movImm(1, 1), instruction(0xdb, 0, 1, 0, 0), movImm(0, 2), exit(),
      ],
    });
    const r = p.testRun({ data: new Uint8Array(64), repeat: 100 });
    expect(r.retval).to.equal(2);
    expect(readU32(m.lookup(u32le(0))!)).to.equal(100);
    expect(r.duration).to.be.a('number');
  });

  it('passes a context in and reads it back (ctx_in / ctx_out)', () => {
    // SCHED_CLS with __sk_buff: return skb->mark; then set skb->mark = 9.
    using p = Program.load({
      type: 'SCHED_CLS',
      instructions: [instruction(0x61, 0, 1, 8), movImm(2, 9), instruction(0x63, 1, 2, 8), exit()],
    });
    const ctx = new Uint8Array(192);
    new DataView(ctx.buffer).setUint32(8, 1234, true); // __sk_buff.mark
    const r = p.testRun({ data: new Uint8Array(64), ctx, ctxOutSize: 192 });
    expect(r.retval).to.equal(1234);
    expect(readU32(r.ctxOut!, 8)).to.equal(9);
  });

  it('a rejected program is a VerifierError with the log tail', () => {
    let err: unknown;
    try {
      Program.load({ type: 'XDP', instructions: [exit()], name: 'bad' });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(VerifierError);
    const v = err as VerifierError;
    expect(v.code).to.equal('E_VERIFIER');
    expect(v.errnoName).to.equal('EACCES');
    expect(v.message).to.match(/R0 !read_ok/);
    expect(v.log).to.match(/processed \d+ insns/);
  });

  it('grows the log until a long verifier log fits', () => {
    // A long straight-line program whose failure comes at the very end, with a verbose log.
    const body = Array.from({ length: 3000 }, (_, i) => instruction(0x07, 1 + (i % 5), 0, 0, 1));
    const insns = [movImm(1, 0), movImm(2, 0), movImm(3, 0), movImm(4, 0), movImm(5, 0), ...body, exit()];
    let err: VerifierError | undefined;
    try {
      Program.load({ type: 'XDP', instructions: insns, logLevel: 2 });
    } catch (e) {
      err = e as VerifierError;
    }
    expect(err).to.be.instanceOf(VerifierError);
    expect(err!.log.length).to.be.greaterThan(64 * 1024); // more than the first log buffer
    expect(err!.truncated).to.equal(false);
    expect(err!.lastLines.join('\n')).to.match(/R0 !read_ok/);
  });

  it('a log capped by maxLogSize is marked truncated and still ends with the verdict', () => {
    const body = Array.from({ length: 2000 }, (_, i) => instruction(0x07, 1 + (i % 5), 0, 0, 1));
    const insns = [movImm(1, 0), movImm(2, 0), movImm(3, 0), movImm(4, 0), movImm(5, 0), ...body, exit()];
    let err: VerifierError | undefined;
    try {
      Program.load({ type: 'XDP', instructions: insns, logLevel: 2, maxLogSize: 4096 });
    } catch (e) {
      err = e as VerifierError;
    }
    expect(err).to.be.instanceOf(VerifierError);
    expect(err!.truncated).to.equal(true);
    expect(err!.log.length).to.be.lessThan(4096);
    // Since Linux 6.4 a full log keeps its end (rotating); before, its beginning.
    if (kernelAtLeast(6, 4)) expect(err!.lastLines.join('\n')).to.match(/R0 !read_ok/);
    else expect(err!.log).to.match(/^func#0 @0|^0: /);
  });

  it('logLevel keeps the verifier log on success', () => {
    using p = Program.load({ type: 'XDP', instructions: returnConst(1), logLevel: 1 });
    expect(p.verifierLog).to.match(/processed 2 insns/);
  });

  it('bad flags are a typed SyscallError with a hint', () => {
    expect(() => Program.load({ type: 'XDP', instructions: returnConst(1), flags: 1 << 30 })).to.throw(SyscallError, /EINVAL/);
    expect(() => Program.load({ type: 'XDP', instructions: [] })).to.throw(RangeError);
    expect(() => Program.load({ type: 'NOPE' as 'XDP', instructions: returnConst(1) })).to.throw(RangeError, /unknown program type/);
  });

  it('info: tag, name, verified insns, map ids, xlated and jited bytes; by id', () => {
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    using p = Program.load({
      type: 'XDP', name: 'infoprog',
      instructions: [instruction(0x62, 10, 0, -4, 0), movReg(2, 10), instruction(0x07, 2, 0, 0, -4), ldMapFd(1, m.fd), call(1), movImm(0, 2), exit()],
    });
    const info = p.info({ instructions: true });
    expect(info.name).to.equal('infoprog');
    expect(info.tag).to.match(/^[0-9a-f]{16}$/);
    expect(info.mapIds).to.deep.equal([m.id]);
    if (kernelAtLeast(5, 16)) expect(info.verifiedInsns).to.be.greaterThan(0); // prog info verified_insns: 5.16
    expect(info.xlated!.byteLength).to.equal(info.xlatedProgLen);
    expect(info.xlated!.byteLength % 8).to.equal(0);
    expect(info.jited!.byteLength).to.be.greaterThan(0);
    expect(info.gplCompatible).to.equal(true);
    using again = Program.fromId(info.id);
    expect(again.info().tag).to.equal(info.tag);
    expect(again.testRun({ data: new Uint8Array(64) }).retval).to.equal(2);
  });

  it('pin and open pinned', () => {
    const path = `${ensureBpffs()}/${uniqueName('tsbpfprog')}`;
    using p = Program.load({ type: 'XDP', instructions: returnConst(1), name: 'pinprog' });
    p.pin(path);
    try {
      using again = Program.openPinned(path);
      expect(again.name).to.equal('pinprog');
      expect(again.testRun({ data: new Uint8Array(64) }).retval).to.equal(1);
    } finally {
      unpin(path);
    }
  });
});

describe('kernel: programs with BTF func_info and line_info', function () {
  before(function () {
    needKernel(this);
  });

  it('the verifier log quotes the source lines given in line_info', async () => {
    const { BtfBuilder } = await import('../../src/btf/index.js');
    const { BtfObject } = await import('../../src/kernel/index.js');
    const b = new BtfBuilder();
    const int = b.add({ kind: 'int', name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32 });
    const ctxStruct = b.add({ kind: 'struct', name: 'xdp_md', size: 0, members: [] });
    const ctxPtr = b.add({ kind: 'ptr', name: '', type: ctxStruct });
    const proto = b.add({ kind: 'func_proto', name: '', returnType: int, params: [{ name: 'ctx', type: ctxPtr }] });
    const func = b.add({ kind: 'func', name: 'prog_main', type: proto, linkage: 'global' });
    const file = b.addString('module.bpf.ts');
    const line1 = b.addString('const x = 1;');
    const line2 = b.addString('return undefinedThing; // r0 never set');
    using btf = BtfObject.load(b.encode());
    const funcInfo = new Uint8Array(8);
    new DataView(funcInfo.buffer).setUint32(4, func, true);
    const lineInfo = new Uint8Array(32);
    const lv = new DataView(lineInfo.buffer);
    // bpf_line_info { insn_off, file_name_off, line_off, line_col = line << 10 | col }
    [[0, line1, 1], [1, line2, 2]].forEach(([insn, text, line], i) => {
      lv.setUint32(i * 16, insn!, true);
      lv.setUint32(i * 16 + 4, file, true);
      lv.setUint32(i * 16 + 8, text!, true);
      lv.setUint32(i * 16 + 12, (line! << 10) | 1, true);
    });
    let err: VerifierError | undefined;
    try {
      Program.load({ type: 'XDP', instructions: [movImm(1, 1), exit()], btf: { fd: btf.fd, funcInfo, funcInfoRecSize: 8, lineInfo, lineInfoRecSize: 16 } });
    } catch (e) {
      err = e as VerifierError;
    }
    expect(err).to.be.instanceOf(VerifierError);
    expect(err!.log).to.include('return undefinedThing; // r0 never set');
    expect(err!.message).to.include('R0 !read_ok');
  });
});

describe('kernel: program load attributes', function () {
  before(function () {
    needKernel(this);
  });

  it('fd_array: a map referenced by index (lddw src=5) is the one passed', async function () {
    skipWithout(this, 'fd_array');
    const { wideLoad } = await import('../../src/asm/instruction.js');
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    m.update(u32le(0), u32le(77));
    // r1 = map at fd_array[0]; r2 = &key(0) on the stack; r0 = lookup; return *r0 or 0
    using p = Program.load({
      type: 'XDP',
      fdArray: [m.fd],
      instructions: [
        wideLoad(1, 0, 5), instruction(0x62, 10, 0, -4, 0), movReg(2, 10), instruction(0x07, 2, 0, 0, -4), call(1),
        instruction(0x15, 0, 0, 2, 0), instruction(0x61, 0, 0, 0), exit(), movImm(0, 0), exit(),
      ],
    });
    expect(p.testRun({ data: new Uint8Array(64) }).retval).to.equal(77);
    expect(p.info().mapIds).to.deep.equal([m.id]);
  });

  it('expected attach type is passed (cgroup sock_addr needs one)', () => {
    expect(() => Program.load({ type: 'CGROUP_SOCK_ADDR', instructions: returnConst(1) })).to.throw(SyscallError);
    using p = Program.load({ type: 'CGROUP_SOCK_ADDR', expectedAttachType: 'CGROUP_INET4_CONNECT', instructions: returnConst(1) });
    expect(p.typeName).to.equal('CGROUP_SOCK_ADDR');
  });
});

describe('kernel: run-time stats', function () {
  before(function () {
    needKernel(this);
  });

  it('enableRunStats makes the kernel count runs and their time in program info', async () => {
    const { enableRunStats } = await import('../../src/kernel/index.js');
    using p = Program.load({ type: 'XDP', instructions: returnConst(2) });
    {
      using stats = enableRunStats();
      expect(stats.closed).to.equal(false);
      p.testRun({ data: new Uint8Array(64), repeat: 50 });
    }
    const info = p.info();
    expect(info.runCount >= 50n, `run_cnt ${info.runCount}`).to.equal(true);
    expect(info.runTimeNs > 0n).to.equal(true);
  });
});
