/**
 * The inverse of decodeBtfValue: a plain value (what `map dump` prints, or
 * what a user types: numbers, bigints, numeric strings, enum names, strings
 * for char arrays, lists, objects by member name) written as the bytes of
 * a BTF type. Members left out are zero. A value that does not fit its type
 * is a BtfValueError naming the path to it ("value.tag: ...").
 */
import type { Btf } from './btf.js';
import { sizeOf, skipModifiers } from './navigate.js';

export class BtfValueError extends Error {
  override readonly name = 'BtfValueError';
}

/** `value` as `typeId` of `btf`, little-endian. */
export function encodeBtfValue(btf: Btf, typeId: number, value: unknown, where = 'value'): Uint8Array {
  const out = new Uint8Array(sizeOf(btf, typeId));
  write(btf, typeId, value, out, 0, where, 0);
  return out;
}

function toBigInt(value: unknown, where: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'boolean') return value ? 1n : 0n;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?(0x[0-9a-f]+|\d+)$/i.test(value.trim())) {
    const s = value.trim();
    return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s);
  }
  throw new BtfValueError(`${where}: expected an integer, got ${JSON.stringify(value)}`);
}

function writeInt(out: Uint8Array, at: number, size: number, signed: boolean, v: bigint, where: string): void {
  const bits = BigInt(size * 8);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (v < min || v > max) throw new BtfValueError(`${where}: ${v} does not fit ${signed ? 'a signed' : 'an unsigned'} ${size * 8}-bit integer`);
  let u = BigInt.asUintN(Number(bits), v);
  for (let i = 0; i < size; i++, u >>= 8n) out[at + i] = Number(u & 0xffn);
}

function write(btf: Btf, typeId: number, value: unknown, out: Uint8Array, at: number, where: string, depth: number): void {
  if (depth > 32) throw new BtfValueError(`${where}: type nests too deep`);
  const id = skipModifiers(btf, typeId);
  const t = btf.type(id);
  switch (t.kind) {
    case 'int':
      if (t.bitOffset || t.bits !== t.size * 8) throw new BtfValueError(`${where}: bit-sized integers are not supported`);
      writeInt(out, at, t.size, t.signed, toBigInt(value, where), where);
      return;
    case 'enum':
    case 'enum64': {
      const named = typeof value === 'string' ? t.values.find((x) => x.name === value) : undefined;
      writeInt(out, at, t.size, t.signed, named ? BigInt(named.value) : toBigInt(value, where), where);
      return;
    }
    case 'ptr':
      writeInt(out, at, 8, false, toBigInt(value, where), where);
      return;
    case 'float': {
      if (typeof value !== 'number') throw new BtfValueError(`${where}: expected a number`);
      const view = new DataView(out.buffer, out.byteOffset + at, t.size);
      if (t.size === 4) view.setFloat32(0, value, true);
      else view.setFloat64(0, value, true);
      return;
    }
    case 'typedef':
    case 'var':
      write(btf, t.type, value, out, at, where, depth + 1);
      return;
    case 'array': {
      const elemId = skipModifiers(btf, t.type);
      const elem = btf.type(elemId);
      const size = sizeOf(btf, t.type);
      if (typeof value === 'string' && elem.kind === 'int' && elem.size === 1) {
        const bytes = new TextEncoder().encode(value);
        if (bytes.length > t.nelems) throw new BtfValueError(`${where}: "${value}" is ${bytes.length} bytes, more than the ${t.nelems} of char[${t.nelems}]`);
        out.set(bytes, at);
        return;
      }
      if (!Array.isArray(value)) throw new BtfValueError(`${where}: expected a list of ${t.nelems}`);
      if (value.length > t.nelems) throw new BtfValueError(`${where}: ${value.length} elements, more than ${t.nelems}`);
      value.forEach((v, i) => write(btf, t.type, v, out, at + i * size, `${where}[${i}]`, depth + 1));
      return;
    }
    case 'struct':
    case 'union': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new BtfValueError(`${where}: expected an object with members ${t.members.map((m) => m.name).join(', ')}`);
      const given = value as Record<string, unknown>;
      for (const k of Object.keys(given)) {
        if (!t.members.some((m) => m.name === k)) throw new BtfValueError(`${where}: no member '${k}' (members: ${t.members.map((m) => m.name).join(', ')})`);
      }
      for (const m of t.members) {
        if (!(m.name in given)) continue;
        if (m.bitfieldSize) throw new BtfValueError(`${where}.${m.name}: bitfields are not supported`);
        write(btf, m.type, given[m.name], out, at + m.bitOffset / 8, `${where}.${m.name}`, depth + 1);
      }
      return;
    }
    default:
      throw new BtfValueError(`${where}: cannot write a ${t.kind}`);
  }
}
