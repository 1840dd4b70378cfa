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
