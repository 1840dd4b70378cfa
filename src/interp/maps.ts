/**
 * In-memory maps for the interpreter. A map kind is a class implementing
 * InterpMap; `mapKinds` maps the kernel's type names to constructors so
 * that others can register more kinds (per-CPU, LRU, ring buffer...).
 */

/** Errno values helpers return, negated, as the kernel does. */
export const Errno = { ENOENT: 2, E2BIG: 7, EEXIST: 17, EINVAL: 22 } as const;

/** Update flags of bpf_map_update_elem. */
export const UpdateFlags = { ANY: 0n, NOEXIST: 1n, EXIST: 2n } as const;

export interface MapSpec {
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export interface InterpMap extends MapSpec {
  /** The live value storage for `key` (writes through it change the map), or undefined. */
  lookup(key: Uint8Array): Uint8Array | undefined;
  /** 0 or a negative errno. `value` is copied. */
  update(key: Uint8Array, value: Uint8Array, flags: bigint): number;
  /** 0 or a negative errno. */
  delete(key: Uint8Array): number;
  /** Every key, in iteration order (for tests and dumps). */
  keys(): Iterable<Uint8Array>;
}

function checkSpec(spec: MapSpec, keySize?: number): void {
  if (!Number.isInteger(spec.valueSize) || spec.valueSize <= 0) throw new RangeError(`map value size must be a positive integer, got ${spec.valueSize}`);
  if (!Number.isInteger(spec.maxEntries) || spec.maxEntries <= 0) throw new RangeError(`map max entries must be a positive integer, got ${spec.maxEntries}`);
  if (keySize !== undefined && spec.keySize !== keySize) throw new RangeError(`${spec.type} map key size must be ${keySize}, got ${spec.keySize}`);
  if (!Number.isInteger(spec.keySize) || spec.keySize <= 0) throw new RangeError(`map key size must be a positive integer, got ${spec.keySize}`);
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
    checkSpec({ type: 'array', keySize: 4, ...spec }, 4);
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
    this.storage = new Uint8Array(this.valueSize * this.maxEntries);
    // One stable view per element, so a value pointer maps to one memory region.
    this.values = Array.from({ length: this.maxEntries }, (_, i) => this.storage.subarray(i * this.valueSize, (i + 1) * this.valueSize));
  }

  private index(key: Uint8Array): number {
    return (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    return this.values[this.index(key)];
  }

  update(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    const slot = this.values[this.index(key)];
    if (slot === undefined) return -Errno.E2BIG;
    if (flags === UpdateFlags.NOEXIST) return -Errno.EEXIST;
    if (flags > UpdateFlags.EXIST) return -Errno.EINVAL;
    slot.set(value.subarray(0, this.valueSize));
    return 0;
  }

  delete(): number {
    return -Errno.EINVAL;
  }

  *keys(): Iterable<Uint8Array> {
    for (let i = 0; i < this.maxEntries; i++) {
      const k = new Uint8Array(4);
      new DataView(k.buffer).setUint32(0, i, true);
      yield k;
    }
  }
}

const keyString = (key: Uint8Array): string => {
  let s = '';
  for (const b of key) s += String.fromCharCode(b);
  return s;
};

/** BPF_MAP_TYPE_HASH: arbitrary fixed-size keys, up to maxEntries of them. */
export class HashMap implements InterpMap {
  readonly type: string = 'hash';
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  private readonly entries = new Map<string, { key: Uint8Array; value: Uint8Array }>();

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
    if (this.entries.size >= this.maxEntries) return -Errno.E2BIG;
    this.entries.set(k, { key: key.slice(0, this.keySize), value: value.slice(0, this.valueSize) });
    return 0;
  }

  delete(key: Uint8Array): number {
    return this.entries.delete(keyString(key.subarray(0, this.keySize))) ? 0 : -Errno.ENOENT;
  }

  *keys(): Iterable<Uint8Array> {
    for (const e of this.entries.values()) yield e.key;
  }
}

/** Map kinds by kernel type name; add entries to support more kinds. */
export const mapKinds: Record<string, (spec: MapSpec) => InterpMap> = {
  array: (spec) => new ArrayMap(spec),
  hash: (spec) => new HashMap(spec),
};

/** Makes an in-memory map of a registered kind. */
export function createMap(spec: MapSpec): InterpMap {
  const make = mapKinds[spec.type];
  if (!make) throw new RangeError(`no interpreter support for map type '${spec.type}' (known: ${Object.keys(mapKinds).join(', ')})`);
  return make(spec);
}
