/** Setting global variables (.rodata, .data, .bss) in a spec before it is loaded. */
import { ElfError } from './errors.js';
import type { ObjectSpec, VariableSpec } from './object-spec.js';

export type VariableValue = Uint8Array | number | bigint | string;

/**
 * Writes `value` into the variable's bytes in its data map: a Uint8Array
 * of the variable's size, an integer (little-endian, the variable's size),
 * or a string (NUL-padded, for char arrays).
 */
export function setVariable(spec: ObjectSpec, name: string, value: VariableValue): void {
  const v = findVariable(spec, name);
  const map = spec.maps.find((m) => m.name === v.map);
  if (!map?.data) throw new ElfError('E_VARIABLE', `variable '${name}' has no data map`, { section: v.map });
  const bytes = encodeValue(v, value);
  map.data.set(bytes, v.offset);
}

/** Reads a variable's current initial bytes from the spec. */
export function getVariable(spec: ObjectSpec, name: string): Uint8Array {
  const v = findVariable(spec, name);
  const map = spec.maps.find((m) => m.name === v.map);
  return (map?.data ?? new Uint8Array(0)).slice(v.offset, v.offset + v.size);
}

function findVariable(spec: ObjectSpec, name: string): VariableSpec {
  const v = spec.variables.find((x) => x.name === name);
  if (!v) throw new ElfError('E_VARIABLE', `no global variable '${name}' (known: ${spec.variables.map((x) => x.name).join(', ') || 'none'})`);
  return v;
}

function encodeValue(v: VariableSpec, value: VariableValue): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.length !== v.size) throw new ElfError('E_VARIABLE', `variable '${v.name}' is ${v.size} bytes, got ${value.length}`, { section: v.map, offset: v.offset });
    return value;
  }
  if (typeof value === 'string') {
    const enc = new TextEncoder().encode(value);
    if (enc.length > v.size) throw new ElfError('E_VARIABLE', `string of ${enc.length} bytes does not fit variable '${v.name}' (${v.size} bytes)`, { section: v.map, offset: v.offset });
    const out = new Uint8Array(v.size);
    out.set(enc);
    return out;
  }
  if (![1, 2, 4, 8].includes(v.size)) throw new ElfError('E_VARIABLE', `variable '${v.name}' is ${v.size} bytes; give a Uint8Array`, { section: v.map, offset: v.offset });
  const n = BigInt(value);
  const bits = BigInt(v.size * 8);
  if (n < -(1n << (bits - 1n)) || n >= 1n << bits) throw new ElfError('E_VARIABLE', `${value} does not fit variable '${v.name}' (${v.size} bytes)`, { section: v.map, offset: v.offset });
  const u = BigInt.asUintN(v.size * 8, n);
  const out = new Uint8Array(v.size);
  for (let i = 0; i < v.size; i++) out[i] = Number((u >> BigInt(8 * i)) & 0xffn);
  return out;
}
