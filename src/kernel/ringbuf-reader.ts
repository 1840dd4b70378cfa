/**
 * BPF_MAP_TYPE_RINGBUF consumer.
 *
 * The map is mmap'd as the kernel lays it out: the consumer page read-write
 * at offset 0, then the producer page and the data area read-only, where the
 * data area is mapped twice back to back so a record that wraps around the
 * end is still contiguous in our view. Each record has an 8-byte header
 * (u32 length with the BUSY and DISCARD bits, u32 page offset) and is
 * padded to 8 bytes.
 *
 * Memory ordering: the producer position and each record header are read
 * with Atomics.load (sequentially consistent, so at least acquire), and the
 * consumer position is published with Atomics.store (release) once per
 * batch. Positions are kept as JS numbers (exact up to 2^53 bytes consumed);
 * the consumer position is stored as its low 32-bit word, and with a single
 * 64-bit store whenever the high word changes, so the kernel never sees a
 * torn value.
 *
 * Wakeups: the map fd in the process-wide epoll set (poller.ts). The kernel
 * only notifies when the consumer has caught up, so waiting always follows a
 * full drain.
 */
import { MapType } from '../syscall/layouts.generated.js';
import { MappedMemory, MapFlags, Prot, pageSize } from '../syscall/mman.js';
import { ObjectClosedError } from './owned-fd.js';
import { PollHandle } from './poller.js';
import { readUntilClosed } from './reader-iteration.js';

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const LENGTH_MASK = 0x3fffffff;
const HEADER = 8;
const TWO_32 = 2 ** 32;
/**
 * On x86 (TSO) every load already has acquire semantics, and V8 keeps typed
 * array loads in program order after the Atomics.load of the producer
 * position, so record headers are read with plain loads there (Atomics.load
 * costs ~6 ns per record in V8). Elsewhere headers use Atomics.load.
 */
const ORDERED_LOADS = process.arch === 'x64' || process.arch === 'ia32';
/**
 * Each record's address depends on the previous header, so the loads form a
 * chain the CPU cannot overlap. Touching the ring 2 KiB ahead (a load whose
 * value is folded into a field, so the JIT keeps it) starts those cache-line
 * fetches early: a software prefetch, worth ~25% on a large backlog.
 */
const PREFETCH_DISTANCE = 2048;
/**
 * consume/consumeRaw copy committed records out of the ring this many
 * bytes at a time (or one record, if larger): the copy then stays in the
 * CPU's cache while the callbacks read it, instead of one copy of the whole
 * backlog (up to the ring's size) going out to memory and back.
 */
const COPY_CHUNK = 65536;
/** consume() keeps views for offsets below COPY_CHUNK (records start 8-byte aligned in the copy). */
const VIEW_CACHE_SLOTS = COPY_CHUNK >> 3;
/** Records per batch of `for await`. */
const ITERATOR_BATCH = 1024;

/** What a reader needs from the map: its fd and size (a BpfMap has both). */
export interface RingBufMapLike {
  readonly fd: number;
  readonly maxEntries: number;
  readonly type?: number;
}

/** A sample callback over the data area: the record is bytes[offset, offset + length). */
export type RawSampleCallback = (bytes: Uint8Array, offset: number, length: number) => void;

/**
 * Reads a ring buffer map's records, in order, each a copy.
 * @example
 * using reader = new RingBufReader(obj.map('events'));
 * for await (const record of reader) console.log(record);   // until reader.close()
 */
export class RingBufReader implements AsyncIterable<Uint8Array>, Disposable {
  /** Ring size in bytes (a power of two). */
  readonly size: number;
  readonly #mask: number;
  readonly #consumerPage: MappedMemory;
  readonly #producer: MappedMemory;
  /** The data area, mapped twice: 2 * size bytes. */
  readonly #data: Uint8Array;
  readonly #headers: Int32Array;
  readonly #consLo: Uint32Array;
  readonly #consFull: BigUint64Array;
  readonly #prodLo: Uint32Array;
  #cons: number;
  readonly #poll: PollHandle;
  #closed = false;
  /** Sink of the prefetch loads (see PREFETCH_DISTANCE). */
  #touch = 0;
  /** Where consume/consumeRaw copy a batch before handing it out. */
  #scratch = new Uint8Array(0);
  /** consume()'s views of the scratch copy, by offset / 8 (emptied when the scratch is replaced). */
  #views: (Uint8Array | undefined)[] = [];

  constructor(map: RingBufMapLike) {
    if (map.type !== undefined && map.type !== MapType.RINGBUF) {
      throw new TypeError(`RingBufReader needs a RINGBUF map, got map type ${map.type}`);
    }
    const size = map.maxEntries;
    if (!Number.isInteger(size) || size <= 0 || (size & (size - 1)) !== 0 || size % pageSize() !== 0) {
      throw new RangeError(`ring buffer size ${size} must be a power of two and a multiple of the page size`);
    }
    this.size = size;
    this.#mask = size - 1;
    const page = pageSize();
    this.#consumerPage = new MappedMemory(page, Prot.READ | Prot.WRITE, MapFlags.SHARED, map.fd, 0, 'mmap ringbuf consumer page');
    try {
      this.#producer = new MappedMemory(page + 2 * size, Prot.READ, MapFlags.SHARED, map.fd, page, 'mmap ringbuf producer page and data');
    } catch (err) {
      this.#consumerPage.close();
      throw err;
    }
    this.#data = new Uint8Array(this.#producer.buffer, page, 2 * size);
    this.#headers = new Int32Array(this.#producer.buffer, page, (2 * size) >> 2);
    this.#prodLo = new Uint32Array(this.#producer.buffer, 0, 2);
    this.#consLo = new Uint32Array(this.#consumerPage.buffer, 0, 2);
    this.#consFull = new BigUint64Array(this.#consumerPage.buffer, 0, 1);
    this.#cons = Number(Atomics.load(this.#consFull, 0));
    try {
      this.#poll = new PollHandle([map.fd]);
    } catch (err) {
      this.#consumerPage.close();
      this.#producer.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes produced but not yet consumed (committed, busy and discarded records alike). */
  get available(): number {
    this.#ensureOpen('available');
    return (Atomics.load(this.#prodLo, 0) - this.#cons) >>> 0;
  }

  /**
   * Hands every ready record to `cb` as (bytes, offset, length): the record
   * is bytes[offset, offset + length). `bytes` is a private copy of up to
   * 64 KiB of records (one bulk copy per such chunk, no allocation per
   * record), valid only during the call: the next chunk overwrites it;
   * copy a record to keep it. Writing to it cannot disturb the reader
   * (record headers are read from the ring), only what later records of
   * the same chunk hold. Returns the number of records delivered
   * (discarded ones are skipped), at most `limit`.
   */
  consumeRaw(cb: RawSampleCallback, limit = Infinity): number {
    return this.#drain(cb, null, limit, true);
  }

  /**
   * Zero-copy consumeRaw: `bytes` is the kernel's ring itself, mapped
   * READ-ONLY (the kernel never lets the data pages be mapped writable).
   * UNSAFE: JavaScript cannot stop a write to an ArrayBuffer, so writing to
   * `bytes` (or to any view of it) kills the process with SIGSEGV; and the
   * record is only valid during the call. Use it only where a benchmark
   * shows the copy of consumeRaw matters and the callback only reads.
   */
  unsafeConsumeRaw(cb: RawSampleCallback, limit = Infinity): number {
    return this.#drain(cb, null, limit, false);
  }

  /**
   * Hands every ready record to `cb` as a Uint8Array over a private copy
   * (see consumeRaw): valid only during the call (`view.slice()` keeps it),
   * safe to write to. The view object itself is reused: a later record
   * copied to the same place in the copy, with the same length, comes in
   * the same Uint8Array (as libbpf hands its callback a pointer that is
   * only good until the callback returns). Keep `view.slice()`, never
   * `view`. Read the record's size as `view.length`: Node 20 inlines it,
   * but calls a builtin for `view.byteLength` (~15 ns, as much as the
   * whole delivery of a record).
   */
  consume(cb: (view: Uint8Array) => void, limit = Infinity): number {
    return this.#drain(null, cb, limit, true);
  }

  /**
   * Zero-copy consume: each view is onto the kernel's read-only ring.
   * UNSAFE for the same reason as unsafeConsumeRaw: a write to a view
   * kills the process with SIGSEGV. Read it (or `view.slice()` it) inside
   * the callback and nothing else.
   */
  unsafeConsume(cb: (view: Uint8Array) => void, limit = Infinity): number {
    // new Uint8Array(buffer, ...) skips subarray()'s species lookup: several times faster.
    const buffer = this.#data.buffer;
    const base = this.#data.byteOffset;
    return this.unsafeConsumeRaw((_bytes, offset, length) => cb(new Uint8Array(buffer, base + offset, length)), limit);
  }

  /**
   * The consume loop. Without `copy` each record is handed out as a view
   * of the ring while its header is read (one pass). With `copy`, the
   * headers of the committed records are read first (up to COPY_CHUNK
   * bytes of them), then their bytes are copied into the scratch buffer at
   * once, and the records are handed out from there: a record is never
   * copied before its header says it is committed.
   */
  #drain(cb: RawSampleCallback | null, viewCb: ((view: Uint8Array) => void) | null, limit: number, copy: boolean): number {
    this.#ensureOpen('consume');
    const data = this.#data;
    const headers = this.#headers;
    const mask = this.#mask;
    // The batch starts at position `base` (offset `start` in the double-mapped
    // area, so a batch never runs past 2 * size); `pos` is the offset reached.
    let base = this.#cons;
    let start = 0;
    let pos = 0;
    let count = 0;
    let touch = 0;
    let views = this.#views;
    const wrap = 2 * this.size - 1; // prefetch offsets stay inside the double-mapped area
    try {
      outer: for (;;) {
        const avail = (Atomics.load(this.#prodLo, 0) - base) >>> 0;
        if (avail === 0) break;
        start = base & mask;
        let end = start + avail;
        pos = start;
        let source = data;
        let shift = 0;
        if (copy) {
          // Find the committed prefix (and where `limit` stops), then copy it in one go.
          let at = start;
          let wanted = limit - count;
          const chunkEnd = start + COPY_CHUNK;
          while (at < end && wanted > 0 && at < chunkEnd) {
            const len = ORDERED_LOADS ? headers[at >> 2]! : Atomics.load(headers, at >> 2);
            touch ^= headers[((at + PREFETCH_DISTANCE) & wrap) >> 2]!;
            if (len & BUSY) break;
            at += ((len & LENGTH_MASK) + HEADER + 7) & ~7;
            if (!(len & DISCARD)) wanted--;
          }
          end = at;
          if (end === start) break;
          this.#growScratch(end - start);
          source = this.#scratch;
          views = this.#views;
          source.set(data.subarray(start, end));
          shift = start;
        }
        while (pos < end) {
          // Headers come from the ring even with a copy: a callback may write to the copy, and a committed
          // record does not change until it is consumed. Plain loads there (the scan above read them with
          // acquire ordering) and where ORDERED_LOADS.
          const len = copy || ORDERED_LOADS ? headers[pos >> 2]! : Atomics.load(headers, pos >> 2);
          if (!copy) touch ^= headers[((pos + PREFETCH_DISTANCE) & wrap) >> 2]!;
          if (len & BUSY) break outer;
          const sampleLen = len & LENGTH_MASK;
          const at = pos + HEADER;
          // Advance first: a record whose callback throws counts as consumed, as in libbpf.
          pos += (sampleLen + HEADER + 7) & ~7;
          if (!(len & DISCARD)) {
            count++;
            if (viewCb === null) cb!(source, at - shift, sampleLen);
            else {
              // consume(): views of the copy, cached by offset (with records of one size, every chunk lands at the
              // same offsets). A view costs ~20 ns to create (V8 calls a builtin), more than a record's delivery.
              const offset = at - shift;
              const slot = offset >> 3;
              let view = views[slot];
              if (view === undefined || view.length !== sampleLen) {
                view = new Uint8Array(source.buffer, offset, sampleLen);
                if (slot < VIEW_CACHE_SLOTS) views[slot] = view;
              }
              viewCb(view);
            }
            if (count >= limit || this.#closed) break outer;
          }
        }
        base += pos - start;
        start = pos = 0;
        this.#publish(base);
      }
    } finally {
      // A callback may have closed the reader: the consumer page is then ours alone.
      if (!this.#closed) this.#publish(base + (pos - start));
      this.#touch = touch;
    }
    return count;
  }

  /** Grows (never shrinks) the scratch copy buffer to hold `length` bytes (at most the ring's size). */
  #growScratch(length: number): void {
    if (this.#scratch.byteLength >= length) return;
    const buffer = new ArrayBuffer(Math.min(this.size, Math.max(length, 2 * this.#scratch.byteLength, 4096)));
    this.#scratch = new Uint8Array(buffer);
    this.#views = [];
  }

  /**
   * Resolves when records may be ready (true) or after `timeoutMs` (false;
   * -1 waits forever). Waits on koffi's worker pool, so the event loop runs.
   */
  async wait(timeoutMs = -1): Promise<boolean> {
    this.#ensureOpen('wait');
    if (this.available > 0) return true;
    await this.#poll.wait(timeoutMs);
    if (this.#closed) return false;
    return this.available > 0;
  }

  /**
   * Consumes what is ready, or waits up to `timeoutMs` for more and then
   * consumes. Resolves with the number of records delivered. Under a flood
   * a drain without `limit` runs as long as the producer keeps up: give a
   * limit to come back to the event loop.
   */
  async poll(cb: (view: Uint8Array) => void, timeoutMs = -1, limit = Infinity): Promise<number> {
    const n = this.consume(cb, limit);
    if (n > 0 || this.#closed) return n;
    if (!(await this.wait(timeoutMs))) return 0;
    return this.consume(cb, limit);
  }

  /**
   * `for await (const event of reader)`: each record as its own copy (safe
   * to keep), in order, until the reader is closed.
   */
  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    // Each view is copied at once and never escapes: the zero-copy read is safe here.
    // Batches are bounded: under a flood an unbounded drain would never yield and never stop growing.
    return readUntilClosed<Uint8Array>(this, (batch) => this.unsafeConsume((view) => batch.push(view.slice()), ITERATOR_BATCH));
  }

  /** Unmaps the ring and leaves the shared epoll set; a pending wait resolves false. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poll.close();
    this.#consumerPage.close();
    this.#producer.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #publish(cons: number): void {
    if (cons === this.#cons) return;
    const hiChanged = Math.floor(cons / TWO_32) !== Math.floor(this.#cons / TWO_32);
    this.#cons = cons;
    if (hiChanged) Atomics.store(this.#consFull, 0, BigInt(cons));
    else Atomics.store(this.#consLo, 0, cons >>> 0);
  }

  #ensureOpen(what: string): void {
    if (this.#closed) throw new ObjectClosedError(`${what}: ring buffer reader`);
  }
}
