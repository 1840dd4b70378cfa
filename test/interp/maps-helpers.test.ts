import { expect } from 'chai';
import { encode } from '../../src/asm/codec.js';
import { type Instruction, wideLoad } from '../../src/asm/instruction.js';
import { PseudoLoad } from '../../src/asm/opcodes.js';
import { parseUbpf } from '../../src/asm/ubpf.js';
import {
  ArrayMap,
  Errno,
  HashMap,
  InterpError,
  LruHashMap,
  MAX_TAIL_CALLS,
  PerCpuArrayMap,
  PerCpuHashMap,
  ProgArrayMap,
  QueueMap,
  RingBufMap,
  StackMap,
  UpdateFlags,
  createMap,
  mapKinds,
  runSync,
  LpmTrieMap,
  BloomFilterMap,
  PerfEventArrayMap,
  MapOfMaps,
  type InterpMap,
  type RunOptions,
} from '../../src/interp/index.js';

/** `lddw %rN, map fd K` in front of ubpf text. */
const withMaps = (text: string, ...fds: [reg: number, fd: number][]): Uint8Array =>
  encode([...fds.map(([reg, fd]): Instruction => wideLoad(reg, fd, PseudoLoad.MAP_FD)), ...parseUbpf(text)]);
const u64 = (bytes: Uint8Array | undefined) => new DataView(bytes!.buffer, bytes!.byteOffset, bytes!.byteLength).getBigUint64(0, true);
const key32 = (i: number) => new Uint8Array([i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, i >>> 24]);
const neg = (e: number) => BigInt.asUintN(64, BigInt(-e));
const run = (bytes: Uint8Array, maps: InterpMap[], options: RunOptions = {}) => runSync(bytes, { maps, ...options });

/** Adds r6 (a value pointer from map_lookup_elem of key r7) ... : increments the u64 at key 0 of map fd 0. */
const incrementKey0 = ['stw [%r10-4], 0', 'mov %r2, %r10', 'add %r2, -4', 'call 1', 'jeq %r0, 0, +3', 'ldxdw %r1, [%r0]', 'add %r1, 1', 'stxdw [%r0], %r1', 'mov %r0, 0', 'exit'].join('\n');

describe('interp: map kinds and helpers', () => {
  it('createMap knows every registered kind and rejects others', () => {
    const noKey = ['queue', 'stack', 'ringbuf', 'bloom_filter'];
    const fourByteValue = ['prog_array', 'perf_event_array', 'array_of_maps', 'hash_of_maps'];
    for (const type of Object.keys(mapKinds)) {
      const spec = {
        type,
        keySize: noKey.includes(type) ? 0 : type === 'lpm_trie' ? 8 : 4,
        valueSize: type === 'ringbuf' ? 0 : fourByteValue.includes(type) ? 4 : 8,
        maxEntries: type === 'ringbuf' ? 4096 : 4,
      };
      expect(createMap(spec).type).to.equal(type);
    }
    expect(() => createMap({ type: 'arena', keySize: 0, valueSize: 4, maxEntries: 1 })).to.throw(RangeError, /arena/);
    expect(() => new ArrayMap({ keySize: 8, valueSize: 4, maxEntries: 1 })).to.throw(RangeError, /key size must be 4/);
    expect(() => new HashMap({ keySize: 4, valueSize: 0, maxEntries: 1 })).to.throw(RangeError, /value size/);
  });

  it('lru_hash evicts the least recently used entry', () => {
    const m = new LruHashMap({ keySize: 4, valueSize: 8, maxEntries: 2 });
    const v = new Uint8Array(8);
    m.update(key32(1), v, UpdateFlags.ANY);
    m.update(key32(2), v, UpdateFlags.ANY);
    m.lookup(key32(1)); // 2 is now the least recently used
    expect(m.update(key32(3), v, UpdateFlags.ANY)).to.equal(0);
    expect([...m.keys()].map((k) => k[0])).to.have.members([1, 3]);
    // iterating while looking up (which reorders an LRU) visits each key once
    const seen: number[] = [];
    for (const k of m.keys()) {
      m.lookup(k);
      seen.push(k[0]!);
    }
    expect(seen).to.have.members([1, 3]);
    const plain = new HashMap({ keySize: 4, valueSize: 8, maxEntries: 1 });
    plain.update(key32(1), v, UpdateFlags.ANY);
    expect(plain.update(key32(2), v, UpdateFlags.ANY)).to.equal(-Errno.E2BIG);
  });

  it('percpu_array: a program updates the value of the CPU it runs on', () => {
    const m = new PerCpuArrayMap({ valueSize: 8, maxEntries: 1, cpus: 3 });
    const program = withMaps(incrementKey0, [1, 0]);
    run(program, [m], { cpu: 1 });
    run(program, [m], { cpu: 1 });
    run(program, [m], { cpu: 2 });
    expect(m.lookupAll(key32(0))!.map(u64)).to.deep.equal([0n, 2n, 1n]);
  });

  it('percpu_hash: an update from a CPU leaves the others zeroed', () => {
    const m = new PerCpuHashMap({ keySize: 4, valueSize: 8, maxEntries: 4, cpus: 2 });
    const text = ['stw [%r10-4], 9', 'stdw [%r10-16], 77', 'mov %r2, %r10', 'add %r2, -4', 'mov %r3, %r10', 'add %r3, -16', 'mov %r4, 0', 'call 2', 'exit'].join('\n');
    expect(run(withMaps(text, [1, 0]), [m], { cpu: 1 }).r0).to.equal(0n);
    expect(m.lookupAll(key32(9))!.map(u64)).to.deep.equal([0n, 77n]);
    expect(u64(m.lookup(key32(9), 1))).to.equal(77n);
  });

  it('queue and stack through push/pop/peek helpers', () => {
    // push 1, 2, 3 (the third fails: full), then peek and pop into r6/r7
    const text = [
      'mov %r6, %r1',
      ...[1, 2, 3].flatMap((v) => [`stdw [%r10-8], ${v}`, 'mov %r1, %r6', 'mov %r2, %r10', 'add %r2, -8', 'mov %r3, 0', 'call 87', 'mov %r8, %r0']),
      'mov %r1, %r6', 'mov %r2, %r10', 'add %r2, -16', 'call 89', // peek
      'ldxdw %r7, [%r10-16]',
      'mov %r1, %r6', 'mov %r2, %r10', 'add %r2, -16', 'call 88', // pop
      'ldxdw %r0, [%r10-16]',
      'lsh %r7, 8',
      'or %r0, %r7',
      'exit',
    ].join('\n');
    const queue = new QueueMap({ valueSize: 8, maxEntries: 2 });
    const fifo = run(withMaps(text, [1, 0]), [queue]);
    expect(fifo.r0).to.equal((1n << 8n) | 1n);
    expect(fifo.registers[8]).to.equal(neg(Errno.E2BIG));
    expect(queue.size).to.equal(1);
    const stack = new StackMap({ valueSize: 8, maxEntries: 2 });
    expect(run(withMaps(text, [1, 0]), [stack]).r0).to.equal((2n << 8n) | 2n);
    expect(u64(stack.pop())).to.equal(1n);
    expect(stack.pop()).to.equal(undefined);
    const full = new QueueMap({ valueSize: 1, maxEntries: 1 });
    full.push(new Uint8Array([1]), UpdateFlags.ANY);
    expect(full.push(new Uint8Array([2]), UpdateFlags.EXIST)).to.equal(0); // BPF_EXIST drops the oldest
    expect(Array.from(full.peek()!)).to.deep.equal([2]);
    const empty = run(withMaps('mov %r2, %r10\nadd %r2, -8\ncall 88\nexit', [1, 0]), [new QueueMap({ valueSize: 8, maxEntries: 1 })]);
    expect(empty.r0).to.equal(neg(Errno.ENOENT));
  });

  it('ringbuf: reserve, write, submit or discard; drain in order', () => {
    const rb = new RingBufMap({ maxEntries: 64 });
    const text = [
      'mov %r6, %r1',
      'mov %r2, 8', 'mov %r3, 0', 'call 131', // reserve 8
      'jeq %r0, 0, fail',
      'stdw [%r0], 0x1234',
      'mov %r1, %r0', 'mov %r2, 0', 'call 132', // submit
      'mov %r1, %r6', 'mov %r2, 4', 'mov %r3, 0', 'call 131', // reserve 4
      'mov %r1, %r0', 'mov %r2, 0', 'call 133', // discard
      'stdw [%r10-8], 0x5678',
      'mov %r1, %r6', 'mov %r2, %r10', 'add %r2, -8', 'mov %r3, 8', 'mov %r4, 0', 'call 130', // output 8
      'mov %r7, %r0',
      'mov %r1, %r6', 'mov %r2, 100', 'mov %r3, 0', 'call 131', // too big: NULL
      'exit',
      'fail:',
      'mov %r0, -1',
      'exit',
    ].join('\n');
    const result = run(withMaps(text, [1, 0]), [rb]);
    expect(result.r0).to.equal(0n);
    expect(result.registers[7]).to.equal(0n);
    expect(rb.drain().map(u64)).to.deep.equal([0x1234n, 0x5678n]);
    expect(rb.usedBytes).to.equal(0);
  });

  it('ringbuf: a pending record holds back later ones; bad submits are typed errors', () => {
    const rb = new RingBufMap({ maxEntries: 4096 });
    const first = rb.reserve(4)!;
    expect(rb.output(new Uint8Array([1]))).to.equal(0);
    expect(rb.drain()).to.deep.equal([]);
    rb.commit(first);
    expect(rb.drain()).to.have.length(2);
    const bad = withMaps('mov %r1, %r10\nadd %r1, -8\nmov %r2, 0\ncall 132\nexit');
    expect(() => run(bad, [rb])).to.throw(InterpError, /not a pending ring buffer record/);
  });

  it('tail calls jump to the program in a prog_array and stop after 33', () => {
    const progs = new ProgArrayMap({ maxEntries: 2 });
    const counter = new ArrayMap({ valueSize: 8, maxEntries: 1 });
    // prog 0: count, tail call itself (index 0); when that fails, return the count
    const self = withMaps(
      [
        'mov %r6, %r1',
        'stw [%r10-4], 0', 'mov %r1, %r8', 'mov %r2, %r10', 'add %r2, -4', 'call 1',
        'ldxdw %r1, [%r0]', 'add %r1, 1', 'stxdw [%r0], %r1',
        'mov %r1, %r6', 'mov %r2, %r9', 'mov %r3, 0', 'call 12',
        'stw [%r10-4], 0', 'mov %r1, %r8', 'mov %r2, %r10', 'add %r2, -4', 'call 1',
        'ldxdw %r0, [%r0]',
        'exit',
      ].join('\n'),
      [8, 1],
      [9, 0],
    );
    progs.set(0, self);
    progs.set(1, withMaps('mov %r0, 42\nexit'));
    expect(run(self, [progs, counter]).r0).to.equal(BigInt(MAX_TAIL_CALLS + 1));
    const jump = withMaps('mov %r2, %r9\nmov %r3, 1\ncall 12\nmov %r0, 1\nexit', [9, 0]);
    expect(run(jump, [progs]).r0).to.equal(42n);
    const missing = withMaps('mov %r2, %r9\nmov %r3, 7\ncall 12\nmov %r0, 1\nexit', [9, 0]);
    expect(run(missing, [progs]).r0).to.equal(1n);
  });

  it('current task helpers report the configured task', () => {
    const text = ['call 14', 'mov %r6, %r0', 'call 15', 'mov %r7, %r0', 'mov %r1, %r10', 'add %r1, -16', 'mov %r2, 16', 'call 16', 'ldxdw %r0, [%r10-16]', 'exit'].join('\n');
    const result = runSync(encode(parseUbpf(text)), { task: { pid: 7, tgid: 5, uid: 1000, gid: 100, comm: 'nginx' } });
    expect(result.registers[6]).to.equal((5n << 32n) | 7n);
    expect(result.registers[7]).to.equal((100n << 32n) | 1000n);
    expect(result.r0).to.equal(0x786e69676en); // "nginx" little-endian
  });

  it('probe_read copies or faults with -EFAULT; probe_read_str stops at NUL', () => {
    const mem = new TextEncoder().encode('hello\0world');
    const read = ['mov %r3, %r1', 'mov %r1, %r10', 'add %r1, -8', 'mov %r2, 4', 'call 113', 'ldxw %r0, [%r10-8]', 'exit'].join('\n');
    expect(runSync(encode(parseUbpf(read)), { mem }).r0).to.equal(0x6c6c6568n);
    const fault = read.replace('mov %r3, %r1', 'mov %r3, 0');
    const r = runSync(encode(parseUbpf(fault.replace('ldxw %r0, [%r10-8]', 'mov %r6, %r0\nldxw %r0, [%r10-8]'))), { mem });
    expect(r.r0).to.equal(0n);
    expect(r.registers[6]).to.equal(neg(Errno.EFAULT));
    const str = ['mov %r3, %r1', 'mov %r1, %r10', 'add %r1, -16', 'mov %r2, 16', 'call 115', 'exit'].join('\n');
    expect(runSync(encode(parseUbpf(str)), { mem }).r0).to.equal(6n);
    expect(runSync(encode(parseUbpf(str.replace('mov %r2, 16', 'mov %r2, 3'))), { mem }).r0).to.equal(3n);
  });

  it('map helpers on the wrong kind of map are errors, not crashes', () => {
    const array = new ArrayMap({ valueSize: 8, maxEntries: 1 });
    expect(run(withMaps('mov %r2, %r10\nadd %r2, -8\ncall 87\nexit', [1, 0]), [array]).r0).to.equal(neg(Errno.EINVAL));
    expect(() => run(withMaps('mov %r2, 8\nmov %r3, 0\ncall 131\nexit', [1, 0]), [array])).to.throw(InterpError, /not a ring buffer/);
    expect(() => run(withMaps('mov %r2, %r1\nmov %r3, 0\ncall 12\nexit', [1, 0]), [array])).to.throw(InterpError, /prog_array/);
  });
});

describe('interp: callbacks (bpf_loop, bpf_for_each_map_elem)', () => {
  /** main, then `cb:` — with `lddw %r2, cb` placed first (slots 0-1). */
  function withCallback(main: string, callback: string): Uint8Array {
    const body = parseUbpf(main);
    const slots = 2 + body.reduce((n, i) => n + (i.opcode === 0x18 ? 2 : 1), 0);
    return encode([wideLoad(2, slots - 1, PseudoLoad.FUNC), ...body, ...parseUbpf(callback)]);
  }

  it('bpf_loop calls the callback with the index until nr or a return of 1', () => {
    const main = ['stdw [%r10-8], 0', 'mov %r3, %r10', 'add %r3, -8', 'mov %r1, 5', 'mov %r4, 0', 'mov %r6, 66', 'call 181', 'ldxdw %r1, [%r10-8]', 'lsh %r0, 16', 'or %r0, %r1', 'add %r0, %r6', 'exit'].join('\n');
    const sum = ['ldxdw %r3, [%r2]', 'add %r3, %r1', 'stxdw [%r2], %r3', 'mov %r6, 0', 'mov %r0, 0', 'exit'].join('\n');
    // 5 calls, sum 0+1+2+3+4 = 10, r6 preserved across the callbacks
    expect(runSync(withCallback(main, sum)).r0).to.equal((5n << 16n) + 10n + 66n);
    const stopAt2 = ['ldxdw %r3, [%r2]', 'add %r3, %r1', 'stxdw [%r2], %r3', 'mov %r0, 0', 'jne %r1, 2, +1', 'mov %r0, 1', 'exit'].join('\n');
    expect(runSync(withCallback(main, stopAt2)).r0).to.equal((3n << 16n) + 3n + 66n);
  });

  it('bpf_for_each_map_elem visits every element with key and value pointers', () => {
    const h = new HashMap({ keySize: 4, valueSize: 8, maxEntries: 8 });
    for (const [k, v] of [[1, 10n], [2, 20n], [3, 30n]] as const) {
      const value = new Uint8Array(8);
      new DataView(value.buffer).setBigUint64(0, v, true);
      h.update(key32(k), value, UpdateFlags.ANY);
    }
    // ctx accumulates sum(key * value)
    const main = ['stdw [%r10-8], 0', 'mov %r3, %r10', 'add %r3, -8', 'mov %r1, %r9', 'mov %r4, 0', 'call 164', 'ldxdw %r1, [%r10-8]', 'lsh %r0, 16', 'or %r0, %r1', 'exit'].join('\n');
    const cb = ['ldxw %r5, [%r2]', 'ldxdw %r6, [%r3]', 'mul %r5, %r6', 'ldxdw %r6, [%r4]', 'add %r6, %r5', 'stxdw [%r4], %r6', 'mov %r0, 0', 'exit'].join('\n');
    const program = withCallback(main, cb);
    const withMap = encode([wideLoad(9, 0, PseudoLoad.MAP_FD)]);
    // the map load goes in front, so the function pointer's relative offset is unchanged
    const bytes = new Uint8Array([...withMap, ...program]);
    expect(runSync(bytes, { maps: [h] }).r0).to.equal((3n << 16n) + 10n + 40n + 90n);
    const writesKey = withCallback(main, 'stw [%r2], 0\nmov %r0, 0\nexit');
    expect(() => runSync(new Uint8Array([...withMap, ...writesKey]), { maps: [h] })).to.throw(InterpError, /read-only/);
  });

  it('a callback that is not a function pointer is a typed error', () => {
    const bytes = encode(parseUbpf('mov %r1, 3\nmov %r2, %r10\nmov %r3, 0\nmov %r4, 0\ncall 181\nexit'));
    expect(() => runSync(bytes)).to.throw(InterpError, /not a function pointer/);
  });
});

describe('interp: map pointers', () => {
  it('a ring buffer record is not a map pointer', () => {
    const rb = new RingBufMap({ maxEntries: 4096 });
    const text = ['mov %r6, %r1', 'mov %r2, 8', 'mov %r3, 0', 'call 131', 'mov %r1, %r0', 'mov %r2, 8', 'mov %r3, 0', 'call 131', 'exit'].join('\n');
    expect(() => runSync(withMaps(text, [1, 0]), { maps: [rb] })).to.throw(InterpError, /not a map pointer/);
  });
});

describe('interp: lpm_trie, bloom_filter, perf_event_array, map-in-map', () => {
  const lpmKey = (prefix: number, a: number, b: number, c: number, d: number) => new Uint8Array([prefix, 0, 0, 0, a, b, c, d]);
  const value32 = (v: number) => new Uint8Array([v, 0, 0, 0]);

  it('lpm_trie: the longest matching prefix wins, bits past the prefix do not matter', () => {
    const t = new LpmTrieMap({ keySize: 8, valueSize: 4, maxEntries: 8 });
    expect(t.update(lpmKey(8, 10, 99, 99, 99), value32(8), UpdateFlags.ANY)).to.equal(0);
    expect(t.update(lpmKey(24, 10, 0, 1, 0), value32(24), UpdateFlags.ANY)).to.equal(0);
    expect(t.update(lpmKey(24, 10, 0, 1, 77), value32(99), UpdateFlags.NOEXIST)).to.equal(-Errno.EEXIST);
    expect(t.lookup(lpmKey(32, 10, 0, 1, 5))![0]).to.equal(24);
    expect(t.lookup(lpmKey(32, 10, 0, 2, 5))![0]).to.equal(8);
    expect(t.lookup(lpmKey(16, 10, 0, 1, 5))![0]).to.equal(8); // the key's own prefix limits the match
    expect(t.lookup(lpmKey(32, 11, 0, 1, 5))).to.equal(undefined);
    expect(t.update(lpmKey(33, 0, 0, 0, 0), value32(1), UpdateFlags.ANY)).to.equal(-Errno.EINVAL);
    expect(t.delete(lpmKey(24, 10, 0, 1, 0))).to.equal(0);
    expect(t.lookup(lpmKey(32, 10, 0, 1, 5))![0]).to.equal(8);
  });

  it('bloom_filter: push then peek tests membership', () => {
    const b = new BloomFilterMap({ valueSize: 4, maxEntries: 8 });
    const text = ['stw [%r10-4], 5', 'mov %r6, %r1', 'mov %r2, %r10', 'add %r2, -4', 'mov %r3, 0', 'call 87', 'stw [%r10-4], 6', 'mov %r1, %r6', 'mov %r2, %r10', 'add %r2, -4', 'call 89', 'exit'].join('\n');
    expect(runSync(withMaps(text, [1, 0]), { maps: [b] }).r0).to.equal(neg(Errno.ENOENT));
    expect(b.test(value32(5))).to.equal(0);
    expect(runSync(withMaps(text.replace('stw [%r10-4], 6', 'stw [%r10-4], 5'), [1, 0]), { maps: [b] }).r0).to.equal(0n);
  });

  it('perf_event_array: bpf_perf_event_output records data with the CPU', () => {
    const p = new PerfEventArrayMap({ maxEntries: 0, cpus: 4 });
    expect(p.maxEntries).to.equal(4);
    const text = ['stdw [%r10-8], 0x4142', 'mov %r2, %r1', 'mov %r1, 0', 'lddw %r3, 0xffffffff', 'mov %r4, %r10', 'add %r4, -8', 'mov %r5, 2', 'call 25', 'exit'].join('\n');
    // the map goes in r1 first; the program moves it to r2 (r1 is the context)
    expect(runSync(withMaps(text, [1, 0]), { maps: [p], cpu: 3 }).r0).to.equal(0n);
    expect(p.drain().map((r) => [r.cpu, Array.from(r.data)])).to.deep.equal([[3, [0x42, 0x41]]]);
    const tooFar = text.replace('lddw %r3, 0xffffffff', 'mov %r3, 9');
    expect(runSync(withMaps(tooFar, [1, 0]), { maps: [p] }).r0).to.equal(neg(Errno.E2BIG));
  });

  it('map-in-map: a lookup yields the inner map, usable with the map helpers', () => {
    const outer = new MapOfMaps({ type: 'hash_of_maps', keySize: 4, valueSize: 4, maxEntries: 2 });
    const inner = new ArrayMap({ valueSize: 8, maxEntries: 2 });
    outer.set(key32(7), inner);
    const text = ['stw [%r10-4], 7', 'mov %r2, %r10', 'add %r2, -4', 'call 1', 'jeq %r0, 0, +7', 'mov %r1, %r0', 'stw [%r10-4], 1', 'stdw [%r10-16], 55', 'mov %r3, %r10', 'add %r3, -16', 'mov %r4, 0', 'call 2', 'exit'].join('\n');
    expect(runSync(withMaps(text, [1, 0]), { maps: [outer] }).r0).to.equal(0n);
    expect(u64(inner.lookup(key32(1)))).to.equal(55n);
    expect(runSync(withMaps(text.replace('stw [%r10-4], 7', 'stw [%r10-4], 8'), [1, 0]), { maps: [outer] }).r0).to.equal(0n);
  });
});
