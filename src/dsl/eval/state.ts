/**
 * The evaluator's run-time state, as docs/language.md describes it: memory
 * that references name (with lifetimes that end when the contract says
 * they do), in-memory maps with the kernel's update/delete results, ring
 * buffers and globals. Everything persists across runs until reset.
 */
import { EvalError } from './resolve.js';
import { type IntT, wrap } from './ints.js';

/** Whether the memory a reference names still exists (and why not). */
export interface Life {
  released?: string;
}

/** A piece of memory references point into. */
export interface Mem {
  bytes: Uint8Array;
  life: Life;
  /** What it is, for messages: "the packet", "a value of map m", "an event of events". */
  what: string;
  /** Read-only memory (the key forEachElem passes). */
  readonly?: boolean;
}

export function loadInt(bytes: Uint8Array, off: number, t: IntT): bigint {
  let v = 0n;
  for (let i = t.bits / 8 - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[off + i]!);
  return wrap(v, t);
}

export function storeInt(bytes: Uint8Array, off: number, t: IntT, v: bigint): void {
  let u = BigInt.asUintN(t.bits, v);
  for (let i = 0; i < t.bits / 8; i++) {
    bytes[off + i] = Number(u & 0xffn);
    u >>= 8n;
  }
}

export const ERRNO = { ENOENT: 2, E2BIG: 7, EAGAIN: 11, EEXIST: 17, EINVAL: 22 } as const;

export type MapKind = 'hash' | 'array' | 'percpu_hash' | 'percpu_array' | 'lru_hash' | 'ringbuf';

interface Entry {
  key: Uint8Array;
  mem: Mem;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** A key/value map (per-CPU kinds hold the one CPU the evaluator runs on). */
export class EvalMap {
  readonly #entries = new Map<string, Entry>();
  /** LRU order for lru_hash: keys in order of last use, oldest first. */
  readonly #recent: string[] = [];

  constructor(
    readonly name: string,
    readonly kind: Exclude<MapKind, 'ringbuf'>,
    readonly keySize: number,
    readonly valueSize: number,
    readonly maxEntries: number,
  ) {
    if (this.isArray) for (let i = 0; i < maxEntries; i++) this.#insert(indexKey(i, keySize), new Uint8Array(valueSize));
  }

  get isArray(): boolean {
    return this.kind === 'array' || this.kind === 'percpu_array';
  }

  #insert(key: Uint8Array, value: Uint8Array): Entry {
    const e: Entry = { key: key.slice(), mem: { bytes: value, life: {}, what: `a value of map ${this.name}` } };
    this.#entries.set(hex(key), e);
    return e;
  }

  #touch(k: string): void {
    if (this.kind !== 'lru_hash') return;
    const i = this.#recent.indexOf(k);
    if (i >= 0) this.#recent.splice(i, 1);
    this.#recent.push(k);
  }

  #arrayIndexOk(key: Uint8Array): boolean {
    return loadInt(key, 0, { bits: 32, signed: false, name: 'u32' }) < BigInt(this.maxEntries);
  }

  /** The entry's memory, or undefined. */
  lookup(key: Uint8Array): Mem | undefined {
    const k = hex(key);
    const e = this.#entries.get(k);
    if (e) this.#touch(k);
    return e?.mem;
  }

  /** bpf_map_update_elem: 0 or a negative errno. */
  update(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    if (flags > 2n || flags < 0n) return -ERRNO.EINVAL;
    const k = hex(key);
    const e = this.#entries.get(k);
    if (this.isArray) {
      if (!this.#arrayIndexOk(key) || !e) return -ERRNO.E2BIG;
      if (flags === 1n) return -ERRNO.EEXIST;
      e.mem.bytes.set(value);
      return 0;
    }
    if (e && flags === 1n) return -ERRNO.EEXIST;
    if (!e && flags === 2n) return -ERRNO.ENOENT;
    if (!e && this.#entries.size >= this.maxEntries) {
      if (this.kind !== 'lru_hash') return -ERRNO.E2BIG;
      const oldest = this.#recent.shift()!;
      this.#release(oldest, 'evicted from the LRU map');
    }
    // The kernel replaces a hash element with a new one: references to the old value are released.
    if (e) this.#release(k, `replaced by ${this.name}.update()`);
    this.#insert(key, value.slice());
    this.#touch(k);
    return 0;
  }

  #release(k: string, why: string): void {
    const e = this.#entries.get(k);
    if (!e) return;
    e.mem.life.released = why;
    this.#entries.delete(k);
    const i = this.#recent.indexOf(k);
    if (i >= 0) this.#recent.splice(i, 1);
  }

  /** bpf_map_delete_elem: 0 or a negative errno. */
  delete(key: Uint8Array): number {
    if (this.isArray) return -ERRNO.EINVAL;
    const k = hex(key);
    if (!this.#entries.has(k)) return -ERRNO.ENOENT;
    this.#release(k, `deleted by ${this.name}.delete()`);
    return 0;
  }

  /** Adds `by` to an integer value in place, or inserts it (nothing when full or out of range). */
  increment(key: Uint8Array, by: bigint, t: IntT): void {
    const mem = this.lookup(key);
    if (mem) {
      storeInt(mem.bytes, 0, t, loadInt(mem.bytes, 0, t) + by);
      return;
    }
    if (this.isArray) return;
    const value = new Uint8Array(this.valueSize);
    storeInt(value, 0, t, by);
    this.update(key, value, 1n);
  }

  /**
   * The entries as they are now (arrays: every slot, in index order; hash
   * maps: in insertion order): keys copied, values live. A walk skips those
   * deleted meanwhile (their memory is released).
   */
  walk(): Array<{ key: Uint8Array; mem: Mem }> {
    return [...this.#entries.values()].map((e) => ({ key: e.key.slice(), mem: e.mem }));
  }

  /** Every entry (arrays: every slot), keys and values copied. */
  entries(): Array<[Uint8Array, Uint8Array]> {
    return [...this.#entries.values()].map((e) => [e.key.slice(), e.mem.bytes.slice()]);
  }
}

function indexKey(i: number, size: number): Uint8Array {
  const k = new Uint8Array(size);
  storeInt(k, 0, { bits: 32, signed: false, name: 'u32' }, BigInt(i));
  return k;
}

const footprint = (size: number) => 8 + ((size + 7) & ~7);

/**
 * A ring buffer, as the kernel keeps one: records in the order their space
 * was reserved (`output` reserves and commits at once), each pending,
 * submitted or discarded. User space reads submitted records in that order
 * and stops at the first pending one; a record's space is free again only
 * once the reader has passed it.
 */
export class EvalRing {
  readonly #records: Array<{ bytes: Uint8Array; state: 'pending' | 'submitted' | 'discarded' }> = [];
  readonly #byMem = new WeakMap<Mem, { bytes: Uint8Array; state: 'pending' | 'submitted' | 'discarded' }>();

  constructor(
    readonly name: string,
    readonly size: number,
    readonly eventSize: number,
  ) {}

  /** Whether `bytes` more fit: the kernel keeps the producer less than a whole buffer ahead of the consumer. */
  #fits(bytes: number): boolean {
    const used = this.#records.reduce((n, r) => n + footprint(r.bytes.length), 0);
    return used + footprint(bytes) <= this.size - 1;
  }

  /** Space for one event, zeroed (the contract leaves it unspecified), or undefined when full. */
  reserve(): Mem | undefined {
    if (!this.#fits(this.eventSize)) return undefined;
    const mem: Mem = { bytes: new Uint8Array(this.eventSize), life: {}, what: `an event of ${this.name}` };
    const record = { bytes: mem.bytes, state: 'pending' as const };
    this.#records.push(record);
    this.#byMem.set(mem, record);
    return mem;
  }

  commit(mem: Mem, submit: boolean): void {
    if (mem.life.released) throw new EvalError('TSBPF_USE_AFTER_RELEASE', `${mem.what} was already ${mem.life.released}`);
    mem.life.released = submit ? 'submitted' : 'discarded';
    const record = this.#byMem.get(mem);
    if (record) record.state = submit ? 'submitted' : 'discarded';
  }

  output(bytes: Uint8Array): number {
    if (!this.#fits(bytes.length)) return -ERRNO.EAGAIN;
    this.#records.push({ bytes: bytes.slice(), state: 'submitted' });
    return 0;
  }

  /** Takes the events submitted so far, in the order they were reserved, up to the first still pending (reading frees their space). */
  drain(): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.#records.length > 0 && this.#records[0]!.state !== 'pending') {
      const r = this.#records.shift()!;
      if (r.state === 'submitted') out.push(r.bytes.slice());
    }
    return out;
  }
}
