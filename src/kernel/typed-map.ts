/**
 * Typed access to a BpfMap through codecs: map.typed(u32, u64).get(1).
 * The codec sizes are checked against the map's key and value sizes once.
 */
import type { Codec } from './codec.js';
import type { BpfMap } from './map.js';

/**
 * A BpfMap read and written through codecs (`map.typed(u32, u64)`): get, set and delete with typed keys and values; sizes are checked once, against the map.
 * @example
 * const counts = map.typed(codec.u32, codec.u64);
 * counts.set(1, 10n);
 * counts.get(1);   // 10n
 */
export class TypedMap<K, V> {
  readonly #keyBuf: Uint8Array;
  readonly #valueBuf: Uint8Array;

  constructor(readonly map: BpfMap, readonly key: Codec<K>, readonly value: Codec<V>) {
    if (key.size !== map.keySize) throw new RangeError(`key codec is ${key.size} bytes but the map's key_size is ${map.keySize}`);
    if (value.size !== map.valueSize) throw new RangeError(`value codec is ${value.size} bytes but the map's value_size is ${map.valueSize}`);
    this.#keyBuf = new Uint8Array(key.size);
    this.#valueBuf = new Uint8Array(map.userValueSize);
  }

  #encodeKey(k: K | undefined): Uint8Array | undefined {
    if (k === undefined || this.key.size === 0) return undefined;
    this.key.encode(k, this.#keyBuf);
    return this.#keyBuf;
  }

  get(k: K): V | undefined {
    if (!this.map.lookupInto(this.#encodeKey(k), this.#valueBuf)) return undefined;
    return this.value.decode(this.#valueBuf.subarray(0, this.value.size));
  }

  /** Per-CPU maps: one decoded value per possible CPU. */
  getPerCpu(k: K): V[] | undefined {
    const raw = this.map.lookup(this.#encodeKey(k));
    if (raw === undefined) return undefined;
    return this.map.splitPerCpu(raw).map((b) => this.value.decode(b));
  }

  set(k: K, v: V, flags = 0): void {
    const buf = new Uint8Array(this.map.userValueSize);
    if (this.map.isPerCpu) {
      // The same value on every CPU.
      for (let at = 0; at < buf.length; at += this.map.perCpuStride) this.value.encode(v, buf.subarray(at, at + this.value.size));
    } else {
      this.value.encode(v, buf);
    }
    this.map.update(this.#encodeKey(k), buf, flags);
  }

  setPerCpu(k: K, values: V[], flags = 0): void {
    this.map.updatePerCpu(this.#encodeKey(k)!, values.map((v) => {
      const b = new Uint8Array(this.value.size);
      this.value.encode(v, b);
      return b;
    }), flags);
  }

  delete(k: K): boolean {
    return this.map.delete(this.#encodeKey(k)!);
  }

  *keys(): Generator<K> {
    for (const k of this.map.keys()) yield this.key.decode(k);
  }

  *entries(): Generator<[K, V]> {
    for (const [k, v] of this.map.entries()) yield [this.key.decode(k), this.value.decode(v.subarray(0, this.value.size))];
  }

  [Symbol.iterator](): Generator<[K, V]> {
    return this.entries();
  }
}
