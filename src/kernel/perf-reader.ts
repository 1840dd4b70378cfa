/**
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY consumer (what bpf_perf_event_output
 * writes into). One PERF_COUNT_SW_BPF_OUTPUT event per online CPU, each
 * with its own mmap'd ring (a metadata page + 2^n data pages), stored into
 * the map at the CPU's index.
 *
 * A ring holds perf records (u32 type, u16 misc, u16 size). PERF_RECORD_SAMPLE
 * with PERF_SAMPLE_RAW carries (u32 size, raw bytes): the raw size is what
 * the program wrote, padded so that size + 4 is a multiple of 8.
 * PERF_RECORD_LOST carries (u64 id, u64 lost): samples dropped because the
 * ring was full. Records may wrap around the end of the data area; those are
 * copied into a scratch buffer, all others are handed out as views.
 *
 * Ordering: data_head is read with Atomics.load (acquire) and data_tail is
 * published with Atomics.store (release) after a batch, as the perf ABI asks.
 */
import { MapType } from '../syscall/layouts.generated.js';
import { MappedMemory, MapFlags, Prot, pageSize } from '../syscall/mman.js';
import { PerfRecord, PerfSample, PerfSwConfig, PerfType, PerfAttrFlag, ioctl, PerfIoctl, perfEventOpen } from '../syscall/perf-event.js';
import { onlineCpus } from './cpus.js';
import { ObjectClosedError, OwnedFd } from './owned-fd.js';
import { PollHandle } from './poller.js';
import { readUntilClosed } from './reader-iteration.js';

const DATA_HEAD = 1024;
const DATA_TAIL = 1032;

/** What the reader needs from the map (a BpfMap fits). */
export interface PerfEventArrayLike {
  readonly fd: number;
  readonly maxEntries: number;
  readonly type?: number;
  update(key: Uint8Array, value: Uint8Array, flags?: number): void;
  delete?(key: Uint8Array): boolean;
}

/** Options of a PerfBufferReader: ring size per CPU, wake-up batching, and a callback for lost records. */
export interface PerfReaderOptions {
  /** Data pages per CPU ring, a power of two (default 8). */
  pagesPerCpu?: number;
  /** Wake the reader after this many samples (default 1: every sample). */
  wakeupEvents?: number;
  /** Called for each PERF_RECORD_LOST as it is read. */
  onLost?: (cpu: number, count: number) => void;
}

/** What a perf buffer yields: a sample from one CPU, or a count of samples that CPU lost. */
export type PerfBufferRecord =
  | { kind: 'sample'; cpu: number; data: Uint8Array }
  | { kind: 'lost'; cpu: number; count: number };

class CpuRing {
  readonly memory: MappedMemory;
  readonly head: BigUint64Array;
  readonly tail: BigUint64Array;
  readonly data: Uint8Array;
  readonly view: DataView;
  readonly dataSize: number;
  pos: number;

  constructor(readonly cpu: number, readonly fd: OwnedFd, pages: number) {
    const page = pageSize();
    this.memory = new MappedMemory((pages + 1) * page, Prot.READ | Prot.WRITE, MapFlags.SHARED, fd.value, 0, `mmap perf ring cpu ${cpu}`);
    this.head = new BigUint64Array(this.memory.buffer, DATA_HEAD, 1);
    this.tail = new BigUint64Array(this.memory.buffer, DATA_TAIL, 1);
    this.dataSize = pages * page;
    this.data = new Uint8Array(this.memory.buffer, page, this.dataSize);
    this.view = new DataView(this.memory.buffer, page, this.dataSize);
    this.pos = Number(Atomics.load(this.tail, 0));
  }
}

/**
 * Reads a PERF_EVENT_ARRAY map: one mmap'ed ring per CPU, records yielded by `for await` (or taken with `consume`), lost records counted.
 * @example
 * using reader = new PerfBufferReader(events);   // a PERF_EVENT_ARRAY map
 * for await (const r of reader) if (r.kind === 'sample') console.log(r.cpu, r.data);
 */
export class PerfBufferReader implements AsyncIterable<PerfBufferRecord>, Disposable {
  readonly #rings: CpuRing[] = [];
  readonly #map: PerfEventArrayLike;
  readonly #onLost: ((cpu: number, count: number) => void) | undefined;
  #lost = 0;
  #scratch = new Uint8Array(256);
  #poll: PollHandle | undefined;
  #closed = false;

  constructor(map: PerfEventArrayLike, options: PerfReaderOptions = {}) {
    if (map.type !== undefined && map.type !== MapType.PERF_EVENT_ARRAY) {
      throw new TypeError(`PerfBufferReader needs a PERF_EVENT_ARRAY map, got map type ${map.type}`);
    }
    const pages = options.pagesPerCpu ?? 8;
    if (!Number.isInteger(pages) || pages <= 0 || (pages & (pages - 1)) !== 0) throw new RangeError(`pagesPerCpu must be a power of two, got ${pages}`);
    this.#map = map;
    this.#onLost = options.onLost;
    try {
      const key = new Uint8Array(4);
      const value = new Uint8Array(4);
      for (const cpu of onlineCpus()) {
        if (cpu >= map.maxEntries) break;
        const fd = new OwnedFd(perfEventOpen({
          type: PerfType.SOFTWARE,
          config: BigInt(PerfSwConfig.BPF_OUTPUT),
          sampleType: PerfSample.RAW,
          samplePeriod: 1n,
          wakeupEvents: options.wakeupEvents ?? 1,
          flags: PerfAttrFlag.DISABLED,
        }, -1, cpu, -1, 0, `perf_event_open BPF_OUTPUT cpu ${cpu}`), `perf event cpu ${cpu}`);
        let ring: CpuRing;
        try {
          ring = new CpuRing(cpu, fd, pages);
        } catch (err) {
          fd.close();
          throw err;
        }
        this.#rings.push(ring);
        ioctl(fd.value, PerfIoctl.ENABLE, 0, `PERF_EVENT_IOC_ENABLE cpu ${cpu}`);
        new DataView(key.buffer).setUint32(0, cpu, true);
        new DataView(value.buffer).setUint32(0, fd.value, true);
        map.update(key, value);
      }
      this.#poll = new PollHandle(this.#rings.map((r) => r.fd.value));
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** CPUs with a ring. */
  get cpus(): number[] {
    return this.#rings.map((r) => r.cpu);
  }

  /** Samples the kernel dropped so far (sum of PERF_RECORD_LOST counts read). */
  get lost(): number {
    return this.#lost;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads every ready record of every CPU: samples go to `onSample` as views
   * valid only during the call (copy with slice() to keep); lost records add
   * to `lost` and go to `onLost`. Returns the number of samples delivered.
   */
  consume(onSample: (data: Uint8Array, cpu: number) => void, onLost?: (cpu: number, count: number) => void): number {
    if (this.#closed) throw new ObjectClosedError('consume: perf buffer reader');
    let count = 0;
    for (const ring of this.#rings) count += this.#consumeRing(ring, onSample, onLost);
    return count;
  }

  #consumeRing(ring: CpuRing, onSample: (data: Uint8Array, cpu: number) => void, onLost?: (cpu: number, count: number) => void): number {
    const head = Number(Atomics.load(ring.head, 0));
    let pos = ring.pos;
    if (pos === head) return 0;
    const size = ring.dataSize;
    const mask = size - 1;
    const v = ring.view;
    let count = 0;
    try {
      while (pos < head) {
        const off = pos & mask; // headers are 8-byte aligned and never wrap
        const type = v.getUint32(off, true);
        const recordSize = v.getUint16(off + 6, true);
        if (recordSize < 8) {
          pos = head; // corrupt: drop the rest rather than spin
          break;
        }
        const at = off + 8;
        // Advance first: a record whose callback throws counts as consumed.
        pos += recordSize;
        if (type === PerfRecord.SAMPLE) {
          const body = this.#record(ring, at, recordSize - 8);
          const rawSize = new DataView(body.buffer, body.byteOffset, 4).getUint32(0, true);
          count++;
          onSample(body.subarray(4, 4 + Math.min(rawSize, body.byteLength - 4)), ring.cpu);
        } else if (type === PerfRecord.LOST) {
          const body = this.#record(ring, at, recordSize - 8);
          const lost = Number(new DataView(body.buffer, body.byteOffset, 16).getBigUint64(8, true));
          this.#lost += lost;
          onLost?.(ring.cpu, lost);
          this.#onLost?.(ring.cpu, lost);
        }
      }
    } finally {
      ring.pos = pos;
      Atomics.store(ring.tail, 0, BigInt(pos));
    }
    return count;
  }

  /** The record body at `off` (in the data area) of `length` bytes: a view, or a copy when it wraps. */
  #record(ring: CpuRing, off: number, length: number): Uint8Array {
    const start = off & (ring.dataSize - 1);
    if (start + length <= ring.dataSize) return ring.data.subarray(start, start + length);
    if (this.#scratch.byteLength < length) this.#scratch = new Uint8Array(Math.max(length, this.#scratch.byteLength * 2));
    const first = ring.dataSize - start;
    this.#scratch.set(ring.data.subarray(start), 0);
    this.#scratch.set(ring.data.subarray(0, length - first), first);
    return this.#scratch.subarray(0, length);
  }

  /** Resolves true when some ring may have data, false on timeout or close. */
  async wait(timeoutMs = -1): Promise<boolean> {
    if (this.#closed) throw new ObjectClosedError('wait: perf buffer reader');
    if (this.#rings.some((r) => Number(Atomics.load(r.head, 0)) !== r.pos)) return true;
    await this.#poll!.wait(timeoutMs);
    if (this.#closed) return false;
    return this.#rings.some((r) => Number(Atomics.load(r.head, 0)) !== r.pos);
  }

  /** `for await`: samples (copied, safe to keep) and lost-sample records, until closed. */
  [Symbol.asyncIterator](): AsyncGenerator<PerfBufferRecord> {
    return readUntilClosed<PerfBufferRecord>(this, (batch) =>
      this.consume(
        (data, cpu) => batch.push({ kind: 'sample', cpu, data: data.slice() }),
        (cpu, count) => batch.push({ kind: 'lost', cpu, count }),
      ),
    );
  }

  /** Removes the rings from the map, unmaps them and closes the events. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poll?.close();
    const key = new Uint8Array(4);
    for (const ring of this.#rings) {
      try {
        new DataView(key.buffer).setUint32(0, ring.cpu, true);
        this.#map.delete?.(key);
      } catch {
        // The map may be closed already; the kernel drops the entry with it.
      }
      ring.memory.close();
      ring.fd.close();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
