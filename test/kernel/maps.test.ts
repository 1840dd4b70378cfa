import { expect } from 'chai';
import { openSync, closeSync } from 'node:fs';
import { syscall6 } from '../../src/syscall/libc.js';
import { closeFd } from '../../src/syscall/fd.js';
import { AddressFamily, SocketType, bindInet4, socket } from '../../src/syscall/socket.js';
import {
  BpfMap, BtfObject, MapFlags, cgroup2Path, haveMapType, ObjectClosedError, Program, SyscallError, UpdateFlags, codec, ensureBpffs, possibleCpuCount, unpin,
} from '../../src/kernel/index.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { skipBecause } from '../support/features.js';
import { haveFeature, missingFeatureReason } from '../../src/kernel/feature-names.js';
import { call, exit, ldMapFd, movImm, readU32, readU64, returnConst, smallBtf, u32le, u64le } from './helpers.js';

/** Skips (visibly) on kernels that lack a map type; this kernel's list is `tsbpf feature`. */
const skipUnless = (ctx: Mocha.Context, type: Parameters<typeof haveMapType>[0]): void => {
  if (haveMapType(type) === false) skipBecause(ctx, `this kernel lacks map type ${String(type)}`);
};

const expectErrno = (fn: () => unknown, errnoName: string): void => {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${errnoName}`).to.be.instanceOf(SyscallError);
  expect((err as SyscallError).errnoName).to.equal(errnoName);
};

describe('kernel: maps', function () {
  before(function () {
    needKernel(this);
  });

  it('hash: update/lookup/delete with ANY, NOEXIST, EXIST and iteration', () => {
    using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 64, name: 'h' });
    for (let i = 0; i < 10; i++) m.update(u32le(i), u64le(i * 100));
    expect(readU64(m.lookup(u32le(7))!)).to.equal(700n);
    expect(m.lookup(u32le(99))).to.equal(undefined);
    expectErrno(() => m.update(u32le(3), u64le(1), UpdateFlags.NOEXIST), 'EEXIST');
    expectErrno(() => m.update(u32le(42), u64le(1), UpdateFlags.EXIST), 'ENOENT');
    m.update(u32le(3), u64le(333), UpdateFlags.EXIST);
    expect(readU64(m.lookup(u32le(3))!)).to.equal(333n);
    const keys = [...m.keys()].map((k) => readU32(k)).sort((a, b) => a - b);
    expect(keys).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(m.delete(u32le(5))).to.equal(true);
    expect(m.delete(u32le(5))).to.equal(false);
    if (haveFeature('hash_lookup_and_delete')) {
      expect(readU64(m.lookupAndDelete(u32le(6))!)).to.equal(600n);
    } else {
      expectErrno(() => m.lookupAndDelete(u32le(6)), 'ENOTSUPP'); // before 5.14: queues and stacks only
      expect(m.delete(u32le(6))).to.equal(true);
    }
    expect(m.lookup(u32le(6))).to.equal(undefined);
    expect([...m.entries()].length).to.equal(8);
  });

  it('checks key and value sizes before any syscall (RangeError)', () => {
    using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4 });
    expect(() => m.lookup(new Uint8Array(3))).to.throw(RangeError, /key_size is 4/);
    expect(() => m.update(u32le(1), new Uint8Array(9))).to.throw(RangeError, /value_size 8/);
    expect(() => m.lookupInto(u32le(1), new Uint8Array(4))).to.throw(RangeError);
    expect(() => m.updateBatch(new Uint8Array(6), new Uint8Array(16))).to.throw(RangeError);
  });

  it('the fast path of lookupInto and update keeps every check (sizes, Uint8Array, closed)', () => {
    const m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4 });
    const out = new Uint8Array(8);
    // Prime the attr (the fast path is taken from the second call on).
    m.update(u32le(1), u64le(11));
    expect(m.lookupInto(u32le(1), out)).to.equal(true);
    expect(readU64(out)).to.equal(11n);
    m.update(u32le(1), u64le(12));
    expect(m.lookupInto(u32le(1), out)).to.equal(true);
    expect(readU64(out)).to.equal(12n);
    expect(m.lookupInto(u32le(2), out)).to.equal(false);
    expect(() => m.lookupInto(new Uint8Array(5), out)).to.throw(RangeError, /key_size is 4/);
    expect(() => m.lookupInto(u32le(1), new Uint8Array(9))).to.throw(RangeError, /value_size 8/);
    expect(() => m.update(u32le(1), new Uint8Array(7))).to.throw(RangeError, /value_size 8/);
    // Same length in elements, other element sizes: refused, not copied element by element.
    expect(() => m.lookupInto(new Uint32Array(4) as unknown as Uint8Array, out)).to.throw(TypeError, /Uint8Array/);
    expect(() => m.update(u32le(1), new Uint16Array(8) as unknown as Uint8Array)).to.throw(TypeError, /Uint8Array/);
    expect(() => m.lookupInto([1, 0, 0, 0] as unknown as Uint8Array, out)).to.throw(TypeError, /Uint8Array/);
    expect(() => m.lookupInto(u32le(1), new Float64Array(8) as unknown as Uint8Array)).to.throw(TypeError, /Uint8Array/);
    // A Buffer is a Uint8Array.
    expect(m.lookupInto(Buffer.from(u32le(1)), out)).to.equal(true);
    m.update(Buffer.from(u32le(1)), Buffer.from(u64le(13)));
    expect(m.lookupInto(u32le(1), out)).to.equal(true);
    expect(readU64(out)).to.equal(13n);
    // A different flag takes the checked way and primes the attr again.
    m.update(u32le(1), u64le(14), UpdateFlags.EXIST);
    expect(m.lookupInto(u32le(1), out)).to.equal(true);
    expect(readU64(out)).to.equal(14n);
    m.close();
    expect(() => m.lookupInto(u32le(1), out)).to.throw(ObjectClosedError, /closed/);
    expect(() => m.update(u32le(1), u64le(1))).to.throw(ObjectClosedError, /closed/);
  });

  it('a closed map is an ObjectClosedError', () => {
    const m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    m.close();
    expect(() => m.lookup(u32le(0))).to.throw(ObjectClosedError, /closed/);
    expect(() => m.fd).to.throw(ObjectClosedError);
    m.close(); // idempotent
  });

  it('array: zero-initialised, update, delete refused, typed codecs', () => {
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 4 });
    expect(readU64(m.lookup(u32le(2))!)).to.equal(0n);
    const t = m.typed(codec.u32, codec.u64);
    t.set(2, 0x1122334455667788n);
    expect(t.get(2)).to.equal(0x1122334455667788n);
    expect([...t.entries()].map(([k]) => k)).to.deep.equal([0, 1, 2, 3]);
    expectErrno(() => m.delete(u32le(1)), 'EINVAL');
    expectErrno(() => m.update(u32le(9), u64le(1)), 'E2BIG');
  });

  it('struct codec with natural alignment', () => {
    const s = codec.struct({ a: codec.u8, b: codec.u32, c: codec.u64 });
    expect(s.size).to.equal(16);
    expect(s.offsets).to.deep.equal({ a: 0, b: 4, c: 8 });
    using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 16, maxEntries: 2 });
    const t = m.typed(codec.u32, s);
    t.set(1, { a: 7, b: 8, c: 9n });
    expect(t.get(1)).to.deep.equal({ a: 7, b: 8, c: 9n });
  });

  it('update with F_LOCK on a value holding a bpf_spin_lock', () => {
    const b = smallBtf();
    using btf = BtfObject.load(b.bytes);
    using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4, btfFd: btf.fd, btfKeyTypeId: b.int, btfValueTypeId: b.locked });
    m.update(u32le(1), u64le(0x2a00000000n), UpdateFlags.F_LOCK);
    expect(readU32(m.lookup(u32le(1), UpdateFlags.F_LOCK)!, 4)).to.equal(42);
    // F_LOCK on a map without a lock is refused by the kernel.
    using plain = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4 });
    expectErrno(() => plain.update(u32le(1), u64le(1), UpdateFlags.F_LOCK), 'EINVAL');
  });

  for (const type of ['PERCPU_HASH', 'PERCPU_ARRAY', 'LRU_PERCPU_HASH'] as const) {
    it(`${type}: one value per possible CPU, value size rounded to 8`, () => {
      using m = BpfMap.create({ type, keySize: 4, valueSize: 4, maxEntries: 8 });
      const cpus = possibleCpuCount();
      expect(m.isPerCpu).to.equal(true);
      expect(m.userValueSize).to.equal(8 * cpus);
      m.updatePerCpu(u32le(1), Array.from({ length: cpus }, (_, i) => u32le(1000 + i)));
      expect(m.lookupPerCpu(u32le(1))!.map((v) => readU32(v))).to.deep.equal(Array.from({ length: cpus }, (_, i) => 1000 + i));
      expect(() => m.update(u32le(1), new Uint8Array(4))).to.throw(RangeError, /possible CPUs/);
      expect(m.typed(codec.u32, codec.u32).getPerCpu(1)).to.deep.equal(Array.from({ length: cpus }, (_, i) => 1000 + i));
    });
  }

  it('LRU hash evicts instead of failing when full', () => {
    using m = BpfMap.create({ type: 'LRU_HASH', keySize: 4, valueSize: 4, maxEntries: 64 });
    for (let i = 0; i < 1000; i++) m.update(u32le(i), u32le(i));
    const n = [...m.keys()].length;
    expect(n).to.be.greaterThan(0).and.at.most(64);
    expect(readU32(m.lookup(u32le(999))!)).to.equal(999);
  });

  it('LPM trie: longest prefix wins', () => {
    using m = BpfMap.create({ type: 'LPM_TRIE', keySize: 8, valueSize: 4, maxEntries: 16, flags: MapFlags.NO_PREALLOC });
    const key = (len: number, a: number, b: number, c: number, d: number): Uint8Array => new Uint8Array([len, 0, 0, 0, a, b, c, d]);
    m.update(key(8, 10, 0, 0, 0), u32le(1));
    m.update(key(16, 10, 1, 0, 0), u32le(2));
    expect(readU32(m.lookup(key(32, 10, 1, 2, 3))!)).to.equal(2);
    expect(readU32(m.lookup(key(32, 10, 2, 0, 0))!)).to.equal(1);
    expect(m.lookup(key(32, 11, 0, 0, 0))).to.equal(undefined);
  });

  it('queue is FIFO and stack is LIFO (push, peek, pop)', () => {
    using q = BpfMap.create({ type: 'QUEUE', valueSize: 4, maxEntries: 8 });
    using s = BpfMap.create({ type: 'STACK', valueSize: 4, maxEntries: 8 });
    for (const v of [1, 2, 3]) {
      q.push(u32le(v));
      s.push(u32le(v));
    }
    expect(readU32(q.peek()!)).to.equal(1);
    expect([q.pop(), q.pop(), q.pop()].map((v) => readU32(v!))).to.deep.equal([1, 2, 3]);
    expect(q.pop()).to.equal(undefined);
    expect([s.pop(), s.pop(), s.pop()].map((v) => readU32(v!))).to.deep.equal([3, 2, 1]);
    expect(() => q.push(u32le(1).subarray(0, 2))).to.throw(RangeError);
  });

  it('bloom filter: pushed values are members', function () {
    skipUnless(this, 'BLOOM_FILTER');
    using b = BpfMap.create({ type: 'BLOOM_FILTER', valueSize: 4, maxEntries: 100, mapExtra: 3n });
    for (let i = 0; i < 20; i++) b.push(u32le(i * 7));
    for (let i = 0; i < 20; i++) expect(b.contains(u32le(i * 7))).to.equal(true);
    let falsePositives = 0;
    for (let i = 1000; i < 1100; i++) if (b.contains(u32le(i))) falsePositives++;
    expect(falsePositives).to.be.lessThan(50);
  });

  it('batch update, lookup (dump), lookup-and-delete and delete', () => {
    using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 2000 });
    const n = 1000;
    const keys = new Uint8Array(n * 4);
    const values = new Uint8Array(n * 8);
    for (let i = 0; i < n; i++) {
      keys.set(u32le(i), i * 4);
      values.set(u64le(i * 3), i * 8);
    }
    expect(m.updateBatch(keys, values)).to.equal(n);
    const all = m.dump({ chunkSize: 128 });
    expect(all.count).to.equal(n);
    const seen = new Map<number, bigint>();
    for (let i = 0; i < all.count; i++) seen.set(readU32(all.keys, i * 4), readU64(all.values, i * 8));
    expect(seen.size).to.equal(n);
    for (const [k, v] of seen) expect(v).to.equal(BigInt(k * 3));
    expect(m.deleteBatch(keys.subarray(0, 400 * 4))).to.equal(400);
    let drained = 0;
    for (const c of m.lookupBatch({ andDelete: true, chunkSize: 100 })) drained += c.count;
    expect(drained).to.equal(600);
    expect(m.nextKey()).to.equal(undefined);
  });

  it('batch lookup on a per-CPU array returns every CPU', () => {
    using m = BpfMap.create({ type: 'PERCPU_ARRAY', keySize: 4, valueSize: 8, maxEntries: 4 });
    const cpus = possibleCpuCount();
    m.updatePerCpu(u32le(3), Array.from({ length: cpus }, (_, i) => u64le(i + 1)));
    const d = m.dump();
    expect(d.count).to.equal(4);
    expect(d.values.byteLength).to.equal(4 * 8 * cpus);
    expect(readU64(d.values, 3 * 8 * cpus + 8 * (cpus - 1))).to.equal(BigInt(cpus));
  });

  it('freeze makes a map read-only for user space', () => {
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    m.update(u32le(0), u32le(5));
    m.freeze();
    expectErrno(() => m.update(u32le(0), u32le(6)), 'EPERM');
    expect(readU32(m.lookup(u32le(0))!)).to.equal(5);
  });

  it('BPF_F_MMAPABLE array: memory is shared with lookups', () => {
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 16, flags: MapFlags.MMAPABLE });
    const mem = new DataView(m.memory());
    mem.setBigUint64(5 * 8, 0xdeadbeefn, true);
    expect(readU64(m.lookup(u32le(5))!)).to.equal(0xdeadbeefn);
    m.update(u32le(6), u64le(77));
    expect(mem.getBigUint64(6 * 8, true)).to.equal(77n);
  });

  it('arena: pages fault in on access through the mapping', function () {
    skipUnless(this, 'ARENA');
    using m = BpfMap.create({ type: 'ARENA', maxEntries: 4, flags: MapFlags.MMAPABLE });
    const mem = new Uint8Array(m.memory());
    mem[0] = 7;
    mem[mem.length - 1] = 9;
    expect([mem[0], mem[mem.length - 1]]).to.deep.equal([7, 9]);
  });

  it('prog array: a tail call reaches the program stored in it', () => {
    using pa = BpfMap.create({ type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: 4 });
    using target = Program.load({ type: 'XDP', instructions: returnConst(3), name: 'tail_target' });
    using entry = Program.load({
      type: 'XDP',
      name: 'tail_entry',
      instructions: [ldMapFd(2, pa.fd), movImm(3, 1), call(12), movImm(0, 1), exit()],
    });
    expect(entry.testRun({ data: new Uint8Array(64) }).retval).to.equal(1); // slot empty: falls through
    pa.update(u32le(1), u32le(target.fd));
    expect(entry.testRun({ data: new Uint8Array(64) }).retval).to.equal(3);
    expect(readU32(pa.lookup(u32le(1))!)).to.equal(target.id); // user space sees the id
  });

  for (const type of ['ARRAY_OF_MAPS', 'HASH_OF_MAPS'] as const) {
    it(`${type}: holds inner maps, lookup yields the inner map id`, () => {
      using inner = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 2 });
      inner.update(u32le(1), u32le(4242));
      using outer = BpfMap.create({ type, keySize: 4, valueSize: 4, maxEntries: 4, innerMap: inner });
      outer.update(u32le(0), u32le(inner.fd));
      const id = readU32(outer.lookup(u32le(0))!);
      expect(id).to.equal(inner.id);
      using again = BpfMap.fromId(id);
      expect(readU32(again.lookup(u32le(1))!)).to.equal(4242);
      using viaOuter = outer.innerMap(u32le(0))!;
      expect(viaOuter.id).to.equal(inner.id);
      expect(outer.innerMap(u32le(type === 'ARRAY_OF_MAPS' ? 3 : 9))).to.equal(undefined);
    });
  }

  it('perf event array, ring buffer, user ring buffer, stack trace: created with the kernel shape', () => {
    const cases = [
      { type: 'PERF_EVENT_ARRAY', keySize: 4, valueSize: 4, maxEntries: possibleCpuCount() },
      { type: 'RINGBUF', maxEntries: 64 * 1024 },
      { type: 'USER_RINGBUF', maxEntries: 64 * 1024 },
      { type: 'STACK_TRACE', keySize: 4, valueSize: 8 * 127, maxEntries: 128 },
      { type: 'CGROUP_ARRAY', keySize: 4, valueSize: 4, maxEntries: 4 },
      { type: 'SOCKMAP', keySize: 4, valueSize: 4, maxEntries: 4 },
      { type: 'SOCKHASH', keySize: 4, valueSize: 4, maxEntries: 4 },
      { type: 'REUSEPORT_SOCKARRAY', keySize: 4, valueSize: 4, maxEntries: 4 },
      { type: 'XSKMAP', keySize: 4, valueSize: 4, maxEntries: 4 },
      { type: 'CGROUP_STORAGE', keySize: 8, valueSize: 8, maxEntries: 0 },
      { type: 'PERCPU_CGROUP_STORAGE', keySize: 8, valueSize: 8, maxEntries: 0 },
    ] as const;
    for (const spec of cases) {
      if (haveMapType(spec.type) === false) continue; // older kernels lack some types (see tsbpf feature)
      using m = BpfMap.create(spec);
      const info = m.info();
      expect(m.typeName, spec.type).to.equal(spec.type === 'CGROUP_STORAGE' ? 'CGROUP_STORAGE_DEPRECATED' : spec.type === 'PERCPU_CGROUP_STORAGE' ? 'PERCPU_CGROUP_STORAGE_DEPRECATED' : spec.type);
      expect(info.maxEntries, spec.type).to.equal(spec.maxEntries);
    }
  });

  it('stack trace map: bpf_get_stackid in a test-run program stores a kernel stack', () => {
    using st = BpfMap.create({ type: 'STACK_TRACE', keySize: 4, valueSize: 8 * 127, maxEntries: 16 });
    using p = Program.load({ type: 'RAW_TRACEPOINT', instructions: [ldMapFd(2, st.fd), movImm(3, 0), call(27), exit()] });
    const id = p.testRun({ ctx: new Uint8Array(8) }).retval;
    expect(id).to.be.lessThan(16);
    const frames = st.lookup(u32le(id))!;
    expect(readU64(frames, 0) >= 0xffff000000000000n, 'a kernel text address').to.equal(true);
    expect([...st.keys()].map((k) => readU32(k))).to.include(id);
  });

  it('cgroup array holds a cgroup fd', () => {
    using m = BpfMap.create({ type: 'CGROUP_ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    const fd = openSync(cgroup2Path() ?? '/sys/fs/cgroup', 'r');
    try {
      m.update(u32le(0), u32le(fd));
    } finally {
      closeSync(fd);
    }
    expect(m.delete(u32le(0))).to.equal(true);
  });

  it('devmap, devmap hash and cpumap hold interfaces and CPU queues', () => {
    using dm = BpfMap.create({ type: 'DEVMAP', keySize: 4, valueSize: 4, maxEntries: 4 });
    dm.update(u32le(0), u32le(1)); // loopback is ifindex 1
    expect(readU32(dm.lookup(u32le(0))!)).to.equal(1);
    using dh = BpfMap.create({ type: 'DEVMAP_HASH', keySize: 4, valueSize: 4, maxEntries: 4 });
    dh.update(u32le(77), u32le(1));
    expect(readU32(dh.lookup(u32le(77))!)).to.equal(1);
    using cm = BpfMap.create({ type: 'CPUMAP', keySize: 4, valueSize: 4, maxEntries: possibleCpuCount() });
    cm.update(u32le(0), u32le(192));
    expect(readU32(cm.lookup(u32le(0))!)).to.equal(192);
  });

  it('task, socket, inode and cgroup local storage (BTF-typed); task storage keyed by a pidfd', function () {
    const b = smallBtf();
    using btf = BtfObject.load(b.bytes);
    for (const type of ['SK_STORAGE', 'INODE_STORAGE', 'TASK_STORAGE', 'CGRP_STORAGE'] as const) {
      if (haveMapType(type) === false) continue; // TASK_STORAGE: Linux 5.11; CGRP_STORAGE: 6.2; INODE_STORAGE needs BPF LSM
      using m = BpfMap.create({ type, keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.NO_PREALLOC, btfFd: btf.fd, btfKeyTypeId: b.int, btfValueTypeId: b.long });
      expect(m.info().btfId).to.equal(btf.info().id);
    }
    if (!haveFeature('task_storage')) skipBecause(this, missingFeatureReason('task_storage')!);
    using ts = BpfMap.create({ type: 'TASK_STORAGE', keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.NO_PREALLOC, btfFd: btf.fd, btfKeyTypeId: b.int, btfValueTypeId: b.long });
    const pidfd = Number(syscall6(434, process.pid, 0, 0, 0, 0, 0)); // pidfd_open
    expect(pidfd).to.be.greaterThan(0);
    try {
      ts.update(u32le(pidfd), u64le(31337));
      expect(readU64(ts.lookup(u32le(pidfd))!)).to.equal(31337n);
    } finally {
      closeFd(pidfd);
    }
  });

  it('sockmap and sockhash hold a socket (user space reads its cookie); socket and inode storage are keyed by fd', () => {
    const fd = socket(AddressFamily.INET, SocketType.DGRAM, 0);
    try {
      bindInet4(fd, '127.0.0.1', 0);
      for (const type of ['SOCKMAP', 'SOCKHASH'] as const) {
        using m = BpfMap.create({ type, keySize: 4, valueSize: 8, maxEntries: 4 });
        m.update(u32le(1), u64le(fd));
        expect(readU64(m.lookup(u32le(1))!) > 0n, `${type} cookie`).to.equal(true);
        expect(m.delete(u32le(1))).to.equal(true);
      }
      const b = smallBtf();
      using btf = BtfObject.load(b.bytes);
      for (const type of ['SK_STORAGE', 'INODE_STORAGE'] as const) {
        if (haveMapType(type) === false || (type === 'INODE_STORAGE' && !haveFeature('inode_storage'))) continue; // bpf not among the active LSMs
        using m = BpfMap.create({ type, keySize: 4, valueSize: 8, maxEntries: 0, flags: MapFlags.NO_PREALLOC, btfFd: btf.fd, btfKeyTypeId: b.int, btfValueTypeId: b.long });
        m.update(u32le(fd), u64le(4321));
        expect(readU64(m.lookup(u32le(fd))!), type).to.equal(4321n);
      }
    } finally {
      closeFd(fd);
    }
  });

  it('pin and open pinned: the same map under bpffs', () => {
    const dir = ensureBpffs();
    const path = `${dir}/${uniqueName('tsbpfmap')}`;
    using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 4, name: 'pinned' });
    m.pin(path);
    try {
      m.update(u32le(1), u32le(11));
      using again = BpfMap.openPinned(path);
      expect(again.name).to.equal('pinned');
      expect(readU32(again.lookup(u32le(1))!)).to.equal(11);
      again.update(u32le(2), u32le(22));
      expect(readU32(m.lookup(u32le(2))!)).to.equal(22);
      using ro = BpfMap.openPinned(path, { readOnly: true });
      expectErrno(() => ro.update(u32le(3), u32le(3)), 'EPERM');
    } finally {
      unpin(path);
    }
    expectErrno(() => BpfMap.openPinned(path), 'ENOENT');
  });

  it('info by fd and by id agree', () => {
    using m = BpfMap.create({ type: 'LRU_HASH', keySize: 8, valueSize: 16, maxEntries: 32, name: 'infotest', flags: MapFlags.NO_COMMON_LRU });
    const info = m.info();
    expect(info).to.include({ keySize: 8, valueSize: 16, maxEntries: 32, name: 'infotest', flags: MapFlags.NO_COMMON_LRU });
    using byId = BpfMap.fromId(info.id);
    expect(byId.info()).to.deep.equal(info);
    expectErrno(() => BpfMap.fromId(0x7fffffff), 'ENOENT');
  });
});

describe('kernel: map dump', function () {
  before(function () {
    needKernel(this);
  });

  it('dumps with batches, and by iteration for types without batch support (LPM trie)', () => {
    using h = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 10 });
    for (let i = 0; i < 10; i++) h.update(u32le(i), u32le(i * 2));
    // Chunk 1: hash buckets with several elements make the kernel ask for more room (ENOSPC); the cursor grows.
    const d = h.dump({ chunkSize: 1 });
    expect(d.count).to.equal(10);
    expect(d.keys.byteLength).to.equal(40);
    for (let i = 0; i < 10; i++) expect(readU32(d.values, i * 4)).to.equal(readU32(d.keys, i * 4) * 2);
    using lpm = BpfMap.create({ type: 'LPM_TRIE', keySize: 8, valueSize: 4, maxEntries: 16, flags: MapFlags.NO_PREALLOC });
    lpm.update(new Uint8Array([8, 0, 0, 0, 10, 0, 0, 0]), u32le(1));
    lpm.update(new Uint8Array([16, 0, 0, 0, 10, 1, 0, 0]), u32le(2));
    const l = lpm.dump();
    expect(l.count).to.equal(2);
    using empty = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 4, maxEntries: 10 });
    expect(empty.dump().count).to.equal(0);
  });
});
