/**
 * Decoding map keys, values and ring-buffer events by their DSL types, for
 * `tsbpf run`'s output: integers (network-order types shown as numbers),
 * CStr as strings, arrays and structs as JSON.
 */
import { type CType, sizeOf } from '../dsl/compiler/ctypes.js';

export type Decoded = number | bigint | string | Decoded[] | { [field: string]: Decoded };

export function decodeValue(bytes: Uint8Array, t: CType, at = 0): Decoded {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (t.kind === 'int') {
    const size = t.bits / 8;
    if (at + size > bytes.length) return 0;
    const le = !t.bigEndian;
    switch (t.bits) {
      case 8: return t.signed ? view.getInt8(at) : view.getUint8(at);
      case 16: return t.signed ? view.getInt16(at, le) : view.getUint16(at, le);
      case 32: return t.signed ? view.getInt32(at, le) : view.getUint32(at, le);
      default: {
        const v = t.signed ? view.getBigInt64(at, le) : view.getBigUint64(at, le);
        return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
    }
  }
  if (t.kind === 'array') {
    if (t.cstr) {
      const raw = bytes.subarray(at, at + t.length);
      const end = raw.indexOf(0);
      return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
    }
    const size = sizeOf(t.element);
    return Array.from({ length: t.length }, (_, i) => decodeValue(bytes, t.element, at + i * size));
  }
  const out: { [field: string]: Decoded } = {};
  for (const f of t.fields) out[f.name] = decodeValue(bytes, f.type, at + f.offset);
  return out;
}

/** A decoded value as compact text. */
export function formatDecoded(v: Decoded): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(formatDecoded).join(', ')}]`;
  return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${formatDecoded(x)}`).join(', ')} }`;
}

/** Adds per-CPU copies of a value field by field (integers summed, other fields from the first non-zero CPU). */
export function sumPerCpu(parts: Uint8Array[], t: CType): Uint8Array {
  const size = sizeOf(t);
  const out = new Uint8Array(size);
  const add = (ty: CType, at: number) => {
    if (ty.kind === 'int') {
      const n = ty.bits / 8;
      let sum = 0n;
      for (const p of parts) for (let i = n - 1; i >= 0; i--) sum += BigInt(p[at + i]!) << BigInt(8 * i);
      const w = BigInt.asUintN(ty.bits, sum);
      for (let i = 0; i < n; i++) out[at + i] = Number((w >> BigInt(8 * i)) & 0xffn);
    } else if (ty.kind === 'struct') {
      for (const f of ty.fields) add(f.type, at + f.offset);
    } else {
      const src = parts.find((p) => p.subarray(at, at + sizeOf(ty)).some((x) => x !== 0)) ?? parts[0];
      if (src) out.set(src.subarray(at, at + sizeOf(ty)), at);
    }
  };
  add(t, 0);
  return out;
}

/**
 * Encodes a plain value by its DSL type, the inverse of decodeValue: numbers
 * or bigints for integers (checked to fit), strings for CStr (NUL-padded,
 * at most N-1 bytes), arrays for fixed arrays, objects for structs (missing
 * fields are zero). `where` names the value in errors.
 */
export function encodeValue(value: unknown, t: CType, where = 'value', out = new Uint8Array(sizeOf(t)), at = 0): Uint8Array {
  if (t.kind === 'int') {
    if (typeof value === 'boolean' && t.bits === 8) value = value ? 1 : 0;
    if (typeof value !== 'number' && typeof value !== 'bigint') throw new TypeError(`${where}: expected an integer (${t.name}), got ${typeof value}`);
    if (typeof value === 'number' && !Number.isInteger(value)) throw new TypeError(`${where}: ${value} is not an integer`);
    const n = BigInt(value);
    const [lo, hi] = [t.signed ? -(1n << BigInt(t.bits - 1)) : 0n, t.signed ? (1n << BigInt(t.bits - 1)) - 1n : (1n << BigInt(t.bits)) - 1n];
    // Unsigned fields also take the two's-complement of a negative value that fits the signed range, as C would store it.
    if (n > hi || n < (t.signed ? lo : -(1n << BigInt(t.bits - 1)))) throw new RangeError(`${where}: ${n} does not fit ${t.name}`);
    const u = BigInt.asUintN(t.bits, n);
    const size = t.bits / 8;
    for (let i = 0; i < size; i++) {
      const shift = t.bigEndian ? BigInt(8 * (size - 1 - i)) : BigInt(8 * i);
      out[at + i] = Number((u >> shift) & 0xffn);
    }
    return out;
  }
  if (t.kind === 'array') {
    if (t.cstr) {
      if (typeof value !== 'string') throw new TypeError(`${where}: expected a string (CStr<${t.length}>), got ${typeof value}`);
      const bytes = new TextEncoder().encode(value);
      if (bytes.length >= t.length) throw new RangeError(`${where}: "${value}" needs ${bytes.length + 1} bytes with its NUL; CStr<${t.length}> holds ${t.length}`);
      out.set(bytes, at);
      return out;
    }
    if (!Array.isArray(value)) throw new TypeError(`${where}: expected an array of ${t.length}`);
    if (value.length > t.length) throw new RangeError(`${where}: ${value.length} elements, the array holds ${t.length}`);
    const size = sizeOf(t.element);
    value.forEach((v, i) => encodeValue(v, t.element, `${where}[${i}]`, out, at + i * size));
    return out;
  }
  if (value === null || typeof value !== 'object') throw new TypeError(`${where}: expected an object (${t.name})`);
  const fields = value as Record<string, unknown>;
  for (const name of Object.keys(fields)) if (!t.fields.some((f) => f.name === name)) throw new TypeError(`${where}: ${t.name} has no field ${name}`);
  for (const f of t.fields) if (fields[f.name] !== undefined) encodeValue(fields[f.name], f.type, `${where}.${f.name}`, out, at + f.offset);
  return out;
}
