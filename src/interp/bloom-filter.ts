/**
 * BPF_MAP_TYPE_BLOOM_FILTER: values are pushed and tested with peek. The
 * interpreter's filter is exact (no false positives), which is a valid
 * bloom filter.
 */
import { KeylessMap } from './keyless-map.js';
import { Errno, type MapSpec, UpdateFlags, checkSpec, keyString } from './maps.js';

export class BloomFilterMap extends KeylessMap {
  readonly type: string = 'bloom_filter';
  readonly keySize = 0;
  readonly valueSize: number;
  readonly maxEntries: number;
  private readonly members = new Set<string>();

  constructor(spec: Omit<MapSpec, 'type' | 'keySize'> & Partial<MapSpec>) {
    super();
    checkSpec({ type: 'bloom_filter', keySize: 0, ...spec }, { keySize: 0 });
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
  }

  push(value: Uint8Array, flags: bigint): number {
    if (flags !== UpdateFlags.ANY) return -Errno.EINVAL;
    this.members.add(keyString(value.subarray(0, this.valueSize)));
    return 0;
  }

  /** 0 when the value may be present, -ENOENT when it is certainly absent. */
  test(value: Uint8Array): number {
    return this.members.has(keyString(value.subarray(0, this.valueSize))) ? 0 : -Errno.ENOENT;
  }

  override update(_key: Uint8Array, value: Uint8Array, flags: bigint): number {
    return this.push(value, flags);
  }
}
