import { expect } from 'chai';
import { BpfMap } from '../../src/kernel/map.js';
import { MapFlags } from '../../src/syscall/flags.js';
import { SyscallError } from '../../src/syscall/bpf.js';
import { NativeAllocationError, nativeArray } from '../../src/syscall/memory.js';
import { needKernel } from '../support/kernel.js';

const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: number): Uint8Array => new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);

describe('kernel: BpfMap.dump() memory follows what the map holds, not max_entries', function () {
  this.timeout(60_000);
  before(function () {
    needKernel(this);
  });

  it('a map with max_entries 2^28 and a few entries dumps in memory for those entries (was an untyped koffi allocation error)', () => {
    // An LPM trie allocates on insert, so a huge max_entries costs the kernel nothing. Before 5.11 the kernel
    // charged max_entries nodes up front and refuses a charge above 4 GiB (E2BIG): 2^24 there, still a 256 MiB dump.
    const create = (maxEntries: number) => BpfMap.create({ type: 'LPM_TRIE', keySize: 8, valueSize: 8, maxEntries, flags: MapFlags.NO_PREALLOC });
    let huge: BpfMap;
    try {
      huge = create(2 ** 28);
    } catch (e) {
      if (!(e instanceof SyscallError && e.errnoName === 'E2BIG')) throw e;
      huge = create(2 ** 24);
    }
    using m = huge;
    const key = (i: number): Uint8Array => {
      const k = new Uint8Array(8);
      new DataView(k.buffer).setUint32(0, 32, true); // prefix length
      new DataView(k.buffer).setUint32(4, 0x0a000000 + i, false);
      return k;
    };
    for (let i = 0; i < 10; i++) m.update(key(i), u64(i * 3));
    const before = process.memoryUsage().rss;
    const d = m.dump();
    expect(d.count).to.equal(10);
    let sum = 0;
    for (let i = 0; i < d.count; i++) sum += Number(new DataView(d.values.buffer, d.values.byteOffset + 8 * i).getBigUint64(0, true));
    expect(sum).to.equal(3 * 45);
    expect(process.memoryUsage().rss - before).to.be.below(64 * 1024 * 1024);
  });

  it('grows past its first allocation when the map holds more (20000 entries, across hash buckets)', () => {
    using m = BpfMap.create({ type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 2 ** 20, flags: MapFlags.NO_PREALLOC });
    const n = 20000;
    const keys = new Uint8Array(4 * n);
    const values = new Uint8Array(8 * n);
    for (let i = 0; i < n; i++) {
      keys.set(u32(i), 4 * i);
      values.set(u64(i + 1), 8 * i);
    }
    m.updateBatch(keys, values);
    const d = m.dump({ chunkSize: 1000 });
    expect(d.count).to.equal(n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Number(new DataView(d.values.buffer, d.values.byteOffset + 8 * i).getBigUint64(0, true));
    expect(sum).to.equal((n * (n + 1)) / 2);
  });

  it('native memory that cannot be had is a typed NativeAllocationError naming its use, not a koffi error', () => {
    expect(() => nativeArray(2 ** 33, 'dump of HASH map')).to.throw(NativeAllocationError, /dump of HASH map: 8589934592 bytes of native memory asked for/);
  });
});
