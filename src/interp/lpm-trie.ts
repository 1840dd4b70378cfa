/**
 * BPF_MAP_TYPE_LPM_TRIE: keys are `struct { u32 prefixlen; u8 data[] }`
 * (prefixlen in host order, data in network order); a lookup finds the
 * entry with the longest prefix that matches the key's data.
 */
import { Errno, type InterpMap, type MapSpec, UpdateFlags, checkSpec, keyString } from './maps.js';

interface Entry {
  prefixLen: number;
  key: Uint8Array;
  value: Uint8Array;
}

const prefixLength = (key: Uint8Array): number => (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;

/** Whether the first `bits` bits of a and b agree. */
function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = bits >>> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole]! & mask) === (b[whole]! & mask);
}

export class LpmTrieMap implements InterpMap {
  readonly type: string = 'lpm_trie';
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  private readonly entries = new Map<string, Entry>();

  constructor(spec: Omit<MapSpec, 'type'> & Partial<MapSpec>) {
    checkSpec({ type: 'lpm_trie', ...spec });
    if (spec.keySize <= 4) throw new RangeError(`lpm_trie map key size must be more than 4 (prefixlen + data), got ${spec.keySize}`);
    this.keySize = spec.keySize;
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
  }

  private get maxBits(): number {
    return (this.keySize - 4) * 8;
  }

  /** The key with the bits past its prefix cleared, as a map key. */
  private canonical(key: Uint8Array): { id: string; prefixLen: number; data: Uint8Array } | undefined {
    const prefixLen = prefixLength(key);
    if (prefixLen > this.maxBits) return undefined;
    const data = key.slice(4, this.keySize);
    for (let bit = prefixLen; bit < this.maxBits; bit++) data[bit >>> 3]! &= ~(0x80 >>> (bit & 7));
    return { id: `${prefixLen}:${keyString(data)}`, prefixLen, data };
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    const limit = Math.min(prefixLength(key), this.maxBits);
    const data = key.subarray(4, this.keySize);
    let best: Entry | undefined;
    for (const e of this.entries.values()) {
      if (e.prefixLen > limit || (best && e.prefixLen <= best.prefixLen)) continue;
      if (samePrefix(e.key.subarray(4), data, e.prefixLen)) best = e;
    }
    return best?.value;
  }

  update(key: Uint8Array, value: Uint8Array, flags: bigint): number {
    if (flags > UpdateFlags.EXIST) return -Errno.EINVAL;
    const c = this.canonical(key);
    if (!c) return -Errno.EINVAL;
    const existing = this.entries.get(c.id);
    if (existing) {
      if (flags === UpdateFlags.NOEXIST) return -Errno.EEXIST;
      existing.value.set(value.subarray(0, this.valueSize));
      return 0;
    }
    if (flags === UpdateFlags.EXIST) return -Errno.ENOENT;
    if (this.entries.size >= this.maxEntries) return -Errno.ENOSPC;
    const stored = new Uint8Array(this.keySize);
    stored.set(key.subarray(0, 4));
    stored.set(c.data, 4);
    this.entries.set(c.id, { prefixLen: c.prefixLen, key: stored, value: value.slice(0, this.valueSize) });
    return 0;
  }

  delete(key: Uint8Array): number {
    const c = this.canonical(key);
    if (!c) return -Errno.EINVAL;
    return this.entries.delete(c.id) ? 0 : -Errno.ENOENT;
  }

  /** A snapshot: lookups (LRU order) and updates during the iteration do not disturb it. */
  keys(): Iterable<Uint8Array> {
    return Array.from(this.entries.values(), (e) => e.key);
  }
}
