/**
 * Typed views of map keys and values. Bytes stay the ground truth; a codec
 * turns one value of T into exactly `size` bytes and back (little-endian,
 * as the kernel on every supported architecture stores them).
 */

export interface Codec<T> {
  readonly size: number;
  /** C alignment; defaults to the natural alignment of `size` (capped at 8). */
  readonly align?: number;
  encode(value: T, out: Uint8Array): void;
  decode(bytes: Uint8Array): T;
}

const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function intCodec(size: 1 | 2 | 4, signed: boolean): Codec<number> {
  // Byte arithmetic rather than a DataView per call: no allocation on hot paths.
  const shift = 32 - size * 8;
  return {
    size,
    encode(v, out) {
      out[0] = v & 0xff;
      if (size > 1) out[1] = (v >>> 8) & 0xff;
      if (size > 2) {
        out[2] = (v >>> 16) & 0xff;
        out[3] = (v >>> 24) & 0xff;
      }
    },
    decode(b) {
      let v = b[0]!;
      if (size > 1) v |= b[1]! << 8;
      if (size > 2) v |= (b[2]! << 16) | (b[3]! << 24);
      return signed ? (v << shift) >> shift : size === 4 ? v >>> 0 : v;
    },
  };
}

function bigCodec(signed: boolean): Codec<bigint> {
  return {
    size: 8,
    encode(v, out) {
      dv(out).setBigUint64(0, BigInt.asUintN(64, v), true);
    },
    decode(b) {
      return signed ? dv(b).getBigInt64(0, true) : dv(b).getBigUint64(0, true);
    },
  };
}

export const u8 = intCodec(1, false);
export const u16 = intCodec(2, false);
export const u32 = intCodec(4, false);
export const i8 = intCodec(1, true);
export const i16 = intCodec(2, true);
export const i32 = intCodec(4, true);
export const u64 = bigCodec(false);
export const i64 = bigCodec(true);

/** Raw bytes of a fixed size. */
export function bytes(size: number): Codec<Uint8Array> {
  return {
    size,
    align: 1,
    encode(v, out) {
      if (v.length !== size) throw new RangeError(`expected ${size} bytes, got ${v.length}`);
      out.set(v);
    },
    decode(b) {
      return b.slice(0, size);
    },
  };
}

/** A fixed array of N elements. */
export function array<T>(element: Codec<T>, length: number): Codec<T[]> {
  return {
    size: element.size * length,
    align: alignmentOf(element),
    encode(v, out) {
      if (v.length !== length) throw new RangeError(`expected ${length} elements, got ${v.length}`);
      for (let i = 0; i < length; i++) element.encode(v[i]!, out.subarray(i * element.size, (i + 1) * element.size));
    },
    decode(b) {
      const out: T[] = [];
      for (let i = 0; i < length; i++) out.push(element.decode(b.subarray(i * element.size, (i + 1) * element.size)));
      return out;
    },
  };
}

type Fields = Record<string, Codec<unknown>>;
type StructOf<F extends Fields> = { [K in keyof F]: F[K] extends Codec<infer T> ? T : never };

/**
 * A C struct with natural alignment: each field aligned to its own size
 * (capped at 8), the total padded to the largest alignment.
 */
export function struct<F extends Fields>(fields: F): Codec<StructOf<F>> & { offsets: Record<keyof F, number> } {
  const offsets = {} as Record<keyof F, number>;
  let at = 0;
  let maxAlign = 1;
  for (const [name, c] of Object.entries(fields)) {
    const align = alignmentOf(c);
    maxAlign = Math.max(maxAlign, align);
    at = Math.ceil(at / align) * align;
    offsets[name as keyof F] = at;
    at += c.size;
  }
  const size = Math.ceil(at / maxAlign) * maxAlign;
  return {
    size,
    align: maxAlign,
    offsets,
    encode(v, out) {
      out.fill(0, 0, size);
      for (const [name, c] of Object.entries(fields)) {
        const off = offsets[name as keyof F];
        c.encode(v[name as keyof F], out.subarray(off, off + c.size));
      }
    },
    decode(b) {
      const v = {} as StructOf<F>;
      for (const [name, c] of Object.entries(fields)) {
        const off = offsets[name as keyof F];
        (v as Record<string, unknown>)[name] = c.decode(b.subarray(off, off + c.size));
      }
      return v;
    },
  };
}

function alignmentOf(c: Codec<unknown>): number {
  if (c.align !== undefined) return c.align;
  for (const a of [8, 4, 2]) if (c.size % a === 0) return a;
  return 1;
}

/** Encodes one value into a fresh buffer of the codec's size. */
export function encodeValue<T>(codec: Codec<T>, value: T): Uint8Array {
  const out = new Uint8Array(codec.size);
  codec.encode(value, out);
  return out;
}
