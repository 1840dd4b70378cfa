/**
 * Decoding raw map keys and values through their BTF type, the way bpftool
 * prints them: structs as objects, arrays as lists, char arrays as strings,
 * enums by name, DATASECs as a list of { variable: value }.
 */
import type { Btf } from './btf.js';
import { sizeOf, skipModifiers } from './navigate.js';

export type BtfValue = bigint | number | string | boolean | null | BtfValue[] | { [k: string]: BtfValue };

const MAX_DEPTH = 32;

export function decodeBtfValue(btf: Btf, typeId: number, bytes: Uint8Array, depth = 0): BtfValue {
  if (depth > MAX_DEPTH) return '<too deep>';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = skipModifiers(btf, typeId);
  const t = btf.type(id);
  switch (t.kind) {
    case 'int': {
      if (t.bool) return bytes[0] !== 0;
      return readInt(view, 0, t.size, t.signed, t.bitOffset, t.bits);
    }
    case 'enum':
    case 'enum64': {
      const v = readInt(view, 0, t.size, t.signed);
      const hit = t.values.find((x) => BigInt(x.value) === BigInt(v));
      return hit ? hit.name : v;
    }
    case 'ptr':
      return `0x${readInt(view, 0, 8, false).toString(16)}`;
    case 'float':
      return t.size === 4 ? view.getFloat32(0, true) : view.getFloat64(0, true);
    case 'typedef':
    case 'var':
      return decodeBtfValue(btf, t.type, bytes, depth + 1);
    case 'array': {
      const elemId = skipModifiers(btf, t.type);
      const elem = btf.type(elemId);
      const size = t.nelems === 0 ? 0 : Math.floor(bytes.length / t.nelems);
      if (elem.kind === 'int' && elem.size === 1 && (elem.char || elem.name.includes('char')) && looksLikeString(bytes.subarray(0, t.nelems))) {
        const end = bytes.indexOf(0);
        return new TextDecoder().decode(bytes.subarray(0, end < 0 ? t.nelems : end));
      }
      const out: BtfValue[] = [];
      for (let i = 0; i < t.nelems; i++) out.push(decodeBtfValue(btf, t.type, bytes.subarray(i * size, (i + 1) * size), depth + 1));
      return out;
    }
    case 'struct':
    case 'union': {
      const out: { [k: string]: BtfValue } = {};
      t.members.forEach((m, i) => {
        const name = m.name || `<anon${i}>`;
        if (m.bitfieldSize) {
          out[name] = readBits(bytes, m.bitOffset, m.bitfieldSize);
          return;
        }
        const off = m.bitOffset / 8;
        const size = sizeOf(btf, m.type);
        out[name] = decodeBtfValue(btf, m.type, bytes.subarray(off, off + size), depth + 1);
      });
      return out;
    }
    case 'datasec':
      return {
        [t.name]: t.vars.map((v) => {
          const vt = btf.type(v.type);
          return { [vt.name]: decodeBtfValue(btf, v.type, bytes.subarray(v.offset, v.offset + v.size), depth + 1) };
        }),
      };
    default:
      return hex(bytes);
  }
}


function looksLikeString(b: Uint8Array): boolean {
  const end = b.indexOf(0);
  if (end === 0) return true;
  const text = end < 0 ? b : b.subarray(0, end);
  return text.every((c) => c >= 0x20 && c < 0x7f);
}

function readInt(view: DataView, off: number, size: number, signed: boolean, bitOffset = 0, bits = size * 8): bigint | number {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(off + i < view.byteLength ? view.getUint8(off + i) : 0);
  if (bitOffset || bits !== size * 8) v = (v >> BigInt(bitOffset)) & ((1n << BigInt(bits)) - 1n);
  if (signed) v = BigInt.asIntN(bits, v);
  return size <= 4 ? Number(v) : v;
}

function readBits(bytes: Uint8Array, bitOffset: number, bits: number): bigint | number {
  let v = 0n;
  for (let i = 0; i < bits; i++) {
    const bit = bitOffset + i;
    if ((bytes[bit >> 3]! >> (bit & 7)) & 1) v |= 1n << BigInt(i);
  }
  return bits <= 32 ? Number(v) : v;
}

/** Bytes as space-separated hex pairs, as bpftool prints maps without BTF. */
export function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * JSON as bpftool's pretty json_writer writes it: bigints as bare numbers,
 * 4-space indentation, a new line before each member name and before a
 * closing bracket, none before array elements (`"values": [{` ... `},{`).
 */
export function formatPretty(value: unknown, indent = 0): string {
  let out = '';
  let depth = indent / 4;
  let sep = '';
  const eol = () => (out += `\n${'    '.repeat(depth)}`);
  const eor = () => (out += sep);
  const begin = (c: string) => {
    eor();
    out += c;
    depth++;
    sep = '';
  };
  const end = (c: string) => {
    depth--;
    if (sep) eol();
    out += c;
    sep = ',';
  };
  const scalar = (text: string) => {
    eor();
    out += text;
    sep = ',';
  };
  const write = (v: unknown): void => {
    if (typeof v === 'bigint') scalar(v.toString());
    else if (Array.isArray(v)) {
      begin('[');
      for (const x of v) write(x);
      end(']');
    } else if (v !== null && typeof v === 'object') {
      begin('{');
      for (const [k, x] of Object.entries(v)) {
        eor();
        eol();
        sep = '';
        out += `${JSON.stringify(k)}: `;
        write(x);
      }
      end('}');
    } else scalar(JSON.stringify(v) ?? 'null');
  };
  write(value);
  return out;
}
