/**
 * BPF_MAP_TYPE_RINGBUF in memory. Programs reserve records (which stay
 * pending until submitted or discarded) or output copies; user space drains
 * committed records in order. As in the kernel, a pending record holds back
 * every record reserved after it, and each record costs an 8-byte header
 * plus its size rounded up to 8 bytes of the capacity (maxEntries).
 */
import { KeylessMap } from './keyless-map.js';
import { Errno, type MapSpec, checkSpec } from './maps.js';

const HEADER = 8;
const footprint = (size: number) => HEADER + ((size + 7) & ~7);

interface RingRecord {
  bytes: Uint8Array;
  state: 'pending' | 'committed' | 'discarded';
}

export class RingBufMap extends KeylessMap {
  readonly type: string = 'ringbuf';
  readonly keySize = 0;
  readonly valueSize = 0;
  readonly maxEntries: number;
  private readonly records: RingRecord[] = [];
  private readonly byBytes = new WeakMap<Uint8Array, RingRecord>();
  private used = 0;

  constructor(spec: Omit<MapSpec, 'type' | 'keySize' | 'valueSize'> & Partial<MapSpec>) {
    super();
    checkSpec({ type: 'ringbuf', keySize: 0, valueSize: 0, ...spec }, { keySize: 0, valueSize: 0 });
    this.maxEntries = spec.maxEntries;
  }

  /** Bytes of capacity in use (pending and undrained records). */
  get usedBytes(): number {
    return this.used;
  }

  /** A zeroed record of `size` bytes, or undefined when it does not fit (the kernel keeps the producer less than a whole ring ahead). */
  reserve(size: number): Uint8Array | undefined {
    if (size <= 0 || this.used + footprint(size) > this.maxEntries - 1) return undefined;
    const record: RingRecord = { bytes: new Uint8Array(size), state: 'pending' };
    this.records.push(record);
    this.byBytes.set(record.bytes, record);
    this.used += footprint(size);
    return record.bytes;
  }

  /** Commits (or discards) a reserved record; false if `bytes` is not a pending record of this buffer. */
  commit(bytes: Uint8Array, discard = false): boolean {
    const record = this.byBytes.get(bytes);
    if (!record || record.state !== 'pending') return false;
    record.state = discard ? 'discarded' : 'committed';
    return true;
  }

  /** bpf_ringbuf_output: reserve, copy and commit in one step. 0 or -EAGAIN, as the kernel. */
  output(data: Uint8Array): number {
    const bytes = this.reserve(data.length);
    if (!bytes) return -Errno.EAGAIN;
    bytes.set(data);
    this.commit(bytes);
    return 0;
  }

  /** Committed records in order, up to the first pending one; they leave the buffer. */
  drain(): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.records.length > 0 && this.records[0]!.state !== 'pending') {
      const r = this.records.shift()!;
      this.used -= footprint(r.bytes.length);
      if (r.state === 'committed') out.push(r.bytes);
    }
    return out;
  }
}
