/**
 * BPF_MAP_TYPE_ARRAY_OF_MAPS and HASH_OF_MAPS: values are maps. A program's
 * lookup yields a pointer to the inner map, usable with the map helpers.
 */
import { Errno, type InterpMap, type MapSpec, checkSpec, keyString, u32Key } from './maps.js';

export class MapOfMaps implements InterpMap {
  readonly type: string;
  readonly keySize: number;
  readonly valueSize = 4;
  readonly maxEntries: number;
  private readonly inner = new Map<string, { key: Uint8Array; map: InterpMap }>();

  constructor(spec: MapSpec & { type: 'array_of_maps' | 'hash_of_maps' }) {
    checkSpec({ ...spec, valueSize: 4 }, spec.type === 'array_of_maps' ? { keySize: 4 } : {});
    this.type = spec.type;
    this.keySize = spec.keySize;
    this.maxEntries = spec.maxEntries;
  }

  private indexOk(key: Uint8Array): boolean {
    if (this.type !== 'array_of_maps') return true;
    return u32Key(key) < this.maxEntries;
  }

  /** The inner map at `key`. */
  get(key: Uint8Array): InterpMap | undefined {
    return this.inner.get(keyString(key.subarray(0, this.keySize)))?.map;
  }

  /** Puts an inner map at `key` (user space's update); 0 or a negative errno. */
  set(key: Uint8Array, map: InterpMap): number {
    if (!this.indexOk(key)) return -Errno.E2BIG;
    const k = keyString(key.subarray(0, this.keySize));
    if (!this.inner.has(k) && this.type === 'hash_of_maps' && this.inner.size >= this.maxEntries) return -Errno.E2BIG;
    this.inner.set(k, { key: key.slice(0, this.keySize), map });
    return 0;
  }

  /** Values are maps, not bytes: programs go through the map helpers (see mapLookup). */
  lookup(): Uint8Array | undefined {
    return undefined;
  }

  update(): number {
    return -Errno.EINVAL;
  }

  delete(key: Uint8Array): number {
    return this.inner.delete(keyString(key.subarray(0, this.keySize))) ? 0 : -Errno.ENOENT;
  }

  /** A snapshot: lookups (LRU order) and updates during the iteration do not disturb it. */
  keys(): Iterable<Uint8Array> {
    return Array.from(this.inner.values(), (e) => e.key);
  }
}
