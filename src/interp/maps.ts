/**
 * The interpreter's map model: the InterpMap interface every in-memory map
 * implements, errno/flag constants, and the two basic kinds (array, hash).
 * Other kinds live in their own files; map-kinds.ts registers them by name.
 */

/** Errno values helpers return, negated, as the kernel does. */
export const Errno = { ENOENT: 2, E2BIG: 7, EAGAIN: 11, ENOMEM: 12, EFAULT: 14, EEXIST: 17, EINVAL: 22, ENOSPC: 28, EAFNOSUPPORT: 97, ENOTSUPP: 524 } as const;

/** A helper's int result (a count, 0 or a negative errno) as the u64 it returns in r0. */
export const helperResult = (v: number): bigint => BigInt.asUintN(64, BigInt(v));

/** Update flags of bpf_map_update_elem. */
export const UpdateFlags = { ANY: 0n, NOEXIST: 1n, EXIST: 2n } as const;

export interface MapSpec {
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** Number of CPUs of per-CPU kinds (default 1). */
  cpus?: number;
}

/**
 * An in-memory map. Key-value operations take the CPU a program runs on
 * (per-CPU kinds use it, others ignore it). Kinds without key-value access
 * (queue, ring buffer...) return -EINVAL / undefined from these.
 */
export interface InterpMap extends MapSpec {
  /** The live value storage for `key` (writes through it change the map), or undefined. */
  lookup(key: Uint8Array, cpu?: number): Uint8Array | undefined;
  /** 0 or a negative errno. `value` is copied. */
  update(key: Uint8Array, value: Uint8Array, flags: bigint, cpu?: number): number;
  /** 0 or a negative errno. */
  delete(key: Uint8Array): number;
  /** Every key, in iteration order (for tests and dumps). */
  keys(): Iterable<Uint8Array>;
}

/** Checks the sizes of a spec; `key`/`value` of 0 mean "must be 0" (queues, ring buffers). */
export function checkSpec(spec: MapSpec, rules: { keySize?: number; valueSize?: number } = {}): void {
  const positive = (what: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${spec.type} map ${what} must be a positive integer, got ${v}`);
  };
  const exactly = (what: string, v: number, want: number) => {
    if (v !== want) throw new RangeError(`${spec.type} map ${what} must be ${want}, got ${v}`);
  };
  if (rules.keySize !== undefined) exactly('key size', spec.keySize, rules.keySize);
  else positive('key size', spec.keySize);
  if (rules.valueSize !== undefined) exactly('value size', spec.valueSize, rules.valueSize);
  else positive('value size', spec.valueSize);
  positive('max entries', spec.maxEntries);
  if (spec.cpus !== undefined) positive('cpus', spec.cpus);
}

/** A little-endian u32 key. */
export const u32Key = (key: Uint8Array): number => (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;

export function u32KeyBytes(i: number): Uint8Array {
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, i, true);
  return k;
}

/** A string form of key bytes, for use as a JS Map key. */
export function keyString(key: Uint8Array): string {
  let s = '';
  for (const b of key) s += String.fromCharCode(b);
  return s;
}

/** One stable view per element of `storage`, so a value pointer maps to one memory region. */
export function elementViews(storage: Uint8Array, valueSize: number, count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => storage.subarray(i * valueSize, (i + 1) * valueSize));
}

/**
 * An array element update: every index exists, so NOEXIST fails and out of
 * range is E2BIG. The kernel checks the flags first (array_map_update_elem).
 */
export function updateArrayElement(slot: Uint8Array | undefined, value: Uint8Array, flags: bigint): number {
  if (flags > UpdateFlags.EXIST) return -Errno.EINVAL;
  if (slot === undefined) return -Errno.E2BIG;
  if (flags === UpdateFlags.NOEXIST) return -Errno.EEXIST;
  slot.set(value.subarray(0, slot.length));
  return 0;
}

/** The keys of an array: every index below maxEntries. */
export function* arrayKeys(maxEntries: number): Iterable<Uint8Array> {
  for (let i = 0; i < maxEntries; i++) yield u32KeyBytes(i);
}

/** BPF_MAP_TYPE_ARRAY: u32 keys 0..maxEntries-1, all present, zero-initialised, no delete. */
export class ArrayMap implements InterpMap {
  readonly type: string = 'array';
  readonly keySize = 4;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly storage: Uint8Array;
  private readonly values: Uint8Array[];

  constructor(spec: Omit<MapSpec, 'type' | 'keySize'> & Partial<MapSpec>) {
    checkSpec({ type: 'array', keySize: 4, ...spec }, { keySize: 4 });
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
    this.storage = new Uint8Array(this.valueSize * this.maxEntries);
    this.values = elementViews(this.storage, this.valueSize, this.maxEntries);
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    return this.values[u32Key(key)];
  }

  update(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    return updateArrayElement(this.values[u32Key(key)], value, flags);
  }

  delete(): number {
    return -Errno.EINVAL;
  }

  keys(): Iterable<Uint8Array> {
    return arrayKeys(this.maxEntries);
  }
}

/** BPF_MAP_TYPE_HASH: arbitrary fixed-size keys, up to maxEntries of them. */
export class HashMap implements InterpMap {
  readonly type: string = 'hash';
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  protected readonly entries = new Map<string, { key: Uint8Array; value: Uint8Array }>();

  constructor(spec: Omit<MapSpec, 'type'> & Partial<MapSpec>) {
    checkSpec({ type: 'hash', ...spec });
    this.keySize = spec.keySize;
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    return this.entries.get(keyString(key.subarray(0, this.keySize)))?.value;
  }

  update(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    if (flags > UpdateFlags.EXIST) return -Errno.EINVAL;
    const k = keyString(key.subarray(0, this.keySize));
    const existing = this.entries.get(k);
    if (existing) {
      if (flags === UpdateFlags.NOEXIST) return -Errno.EEXIST;
      existing.value.set(value.subarray(0, this.valueSize)); // in place: pointers stay valid, as in the kernel
      return 0;
    }
    if (flags === UpdateFlags.EXIST) return -Errno.ENOENT;
    if (this.entries.size >= this.maxEntries && !this.makeRoom()) return -Errno.E2BIG;
    this.entries.set(k, { key: key.slice(0, this.keySize), value: value.slice(0, this.valueSize) });
    return 0;
  }

  /** Called when full; kinds that evict (LRU) free an entry and return true. */
  protected makeRoom(): boolean {
    return false;
  }

  delete(key: Uint8Array): number {
    return this.entries.delete(keyString(key.subarray(0, this.keySize))) ? 0 : -Errno.ENOENT;
  }

  /** A snapshot: lookups (LRU order) and updates during the iteration do not disturb it. */
  keys(): Iterable<Uint8Array> {
    return Array.from(this.entries.values(), (e) => e.key);
  }
}

/** BPF_MAP_TYPE_LRU_HASH: a hash that evicts the least recently used entry when full. */
export class LruHashMap extends HashMap {
  override readonly type: string = 'lru_hash';

  /** The value without marking it used (bpf_for_each_map_elem walks an LRU map without reordering it). */
  peek(key: Uint8Array): Uint8Array | undefined {
    return this.entries.get(keyString(key.subarray(0, this.keySize)))?.value;
  }

  override lookup(key: Uint8Array): Uint8Array | undefined {
    const k = keyString(key.subarray(0, this.keySize));
    const e = this.entries.get(k);
    if (e) {
      // JS Maps iterate in insertion order: re-inserting marks the entry most recently used.
      this.entries.delete(k);
      this.entries.set(k, e);
    }
    return e?.value;
  }

  protected override makeRoom(): boolean {
    const oldest = this.entries.keys().next();
    if (oldest.done) return false;
    this.entries.delete(oldest.value);
    return true;
  }
}
