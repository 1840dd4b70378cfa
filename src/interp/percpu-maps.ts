/**
 * Per-CPU maps: every key has one value per CPU. A program sees the value of
 * the CPU it runs on (RunOptions.cpu); user space sees all of them.
 */
import { Errno, type InterpMap, type MapSpec, UpdateFlags, arrayKeys, checkSpec, elementViews, keyString, u32Key, updateArrayElement } from './maps.js';

function cpuCount(spec: Partial<MapSpec>): number {
  return spec.cpus ?? 1;
}

/** BPF_MAP_TYPE_PERCPU_ARRAY. */
export class PerCpuArrayMap implements InterpMap {
  readonly type: string = 'percpu_array';
  readonly keySize = 4;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly cpus: number;
  /** values[cpu][index] */
  private readonly values: Uint8Array[][];

  constructor(spec: Omit<MapSpec, 'type' | 'keySize'> & Partial<MapSpec>) {
    checkSpec({ type: 'percpu_array', keySize: 4, ...spec }, { keySize: 4 });
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
    this.cpus = cpuCount(spec);
    this.values = Array.from({ length: this.cpus }, () => {
      return elementViews(new Uint8Array(this.valueSize * this.maxEntries), this.valueSize, this.maxEntries);
    });
  }

  lookup(key: Uint8Array, cpu = 0): Uint8Array | undefined {
    return this.values[cpu]?.[u32Key(key)];
  }

  /** Every CPU's value of `key` (what user space's lookup returns). */
  lookupAll(key: Uint8Array): Uint8Array[] | undefined {
    const i = u32Key(key);
    return i < this.maxEntries ? this.values.map((perCpu) => perCpu[i]!) : undefined;
  }

  update(key: Uint8Array, value: Uint8Array, flags: bigint, cpu = 0): number {
    return updateArrayElement(this.values[cpu]?.[u32Key(key)], value, flags);
  }

  delete(): number {
    return -Errno.EINVAL;
  }

  keys(): Iterable<Uint8Array> {
    return arrayKeys(this.maxEntries);
  }
}

/** BPF_MAP_TYPE_PERCPU_HASH. */
export class PerCpuHashMap implements InterpMap {
  readonly type: string = 'percpu_hash';
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly cpus: number;
  private readonly entries = new Map<string, { key: Uint8Array; values: Uint8Array[] }>();

  constructor(spec: Omit<MapSpec, 'type'> & Partial<MapSpec>) {
    checkSpec({ type: 'percpu_hash', ...spec });
    this.keySize = spec.keySize;
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
    this.cpus = cpuCount(spec);
  }

  lookup(key: Uint8Array, cpu = 0): Uint8Array | undefined {
    return this.entries.get(keyString(key.subarray(0, this.keySize)))?.values[cpu];
  }

  lookupAll(key: Uint8Array): Uint8Array[] | undefined {
    return this.entries.get(keyString(key.subarray(0, this.keySize)))?.values;
  }

  /** From a program: sets this CPU's value; a new key starts zeroed on the other CPUs, as in the kernel. */
  update(key: Uint8Array, value: Uint8Array, flags: bigint, cpu = 0): number {
    if (flags > UpdateFlags.EXIST || cpu >= this.cpus) return -Errno.EINVAL;
    const k = keyString(key.subarray(0, this.keySize));
    const existing = this.entries.get(k);
    if (existing) {
      if (flags === UpdateFlags.NOEXIST) return -Errno.EEXIST;
      existing.values[cpu]!.set(value.subarray(0, this.valueSize));
      return 0;
    }
    if (flags === UpdateFlags.EXIST) return -Errno.ENOENT;
    if (this.entries.size >= this.maxEntries) return -Errno.E2BIG;
    const values = Array.from({ length: this.cpus }, () => new Uint8Array(this.valueSize));
    values[cpu]!.set(value.subarray(0, this.valueSize));
    this.entries.set(k, { key: key.slice(0, this.keySize), values });
    return 0;
  }

  delete(key: Uint8Array): number {
    return this.entries.delete(keyString(key.subarray(0, this.keySize))) ? 0 : -Errno.ENOENT;
  }

  /** A snapshot: updates during the iteration do not disturb it. */
  keys(): Iterable<Uint8Array> {
    return Array.from(this.entries.values(), (e) => e.key);
  }
}
