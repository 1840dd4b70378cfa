/** Setting global variables (.rodata, .data, .bss) in a spec before it is loaded. */
import type { Btf } from '../btf/index.js';
import { skipModsAndTypedefs } from '../btf/navigate.js';
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
  const bytes = encodeValue(v, value, integerKind(spec.btf, v.btfTypeId));
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

/** What BTF says an integer variable is: signed or not, a bool; undefined when it is not an integer or there is no BTF. */
interface IntegerKind {
  signed: boolean;
  bool: boolean;
}

function integerKind(btf: Btf | undefined, typeId: number): IntegerKind | undefined {
  if (!btf || typeId === 0) return undefined;
  try {
    const t = btf.type(skipModsAndTypedefs(btf, typeId));
    if (t.kind === 'int') return { signed: t.signed, bool: t.bool };
    if (t.kind === 'enum' || t.kind === 'enum64') return { signed: t.signed, bool: false };
    if (t.kind === 'ptr') return { signed: false, bool: false };
  } catch {
    // A broken type chain: fall back to the size alone.
  }
  return undefined;
}

/**
 * The values an integer of `size` bytes holds: [min, max] for a signed or
 * unsigned one, or, when the signedness is unknown, anything either reading
 * holds (-2^(n-1) .. 2^n - 1).
 */
export function integerRange(size: number, signed: boolean | undefined, bool = false): [bigint, bigint] {
  if (bool) return [0n, 1n];
  const bits = BigInt(size * 8);
  if (signed === true) return [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
  if (signed === false) return [0n, (1n << bits) - 1n];
  return [-(1n << (bits - 1n)), (1n << bits) - 1n];
}

/** The C-like name of an integer type: u16, i32, bool, or '4-byte integer' when the signedness is unknown. */
export function integerTypeName(size: number, signed: boolean | undefined, bool = false): string {
  if (bool) return 'bool';
  return signed === undefined ? `${size}-byte integer` : `${signed ? 'i' : 'u'}${size * 8}`;
}

/** Why `n` does not fit the integer type, or undefined when it does. */
export function integerMisfit(n: bigint, size: number, signed: boolean | undefined, bool = false): string | undefined {
  const [min, max] = integerRange(size, signed, bool);
  if (n >= min && n <= max) return undefined;
  return `${n} is out of range for ${integerTypeName(size, signed, bool)} (${min}..${max})`;
}

function encodeValue(v: VariableSpec, value: VariableValue, kind: IntegerKind | undefined): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.length !== v.size) throw new ElfError('E_VARIABLE', `variable '${v.name}' is ${v.size} bytes, got ${value.length}`, { section: v.map, offset: v.offset });
    return value;
  }
  if (typeof value === 'string') {
    if (kind) throw new ElfError('E_VARIABLE', `variable '${v.name}' is an integer (${integerTypeName(v.size, kind.signed, kind.bool)}), not a string`, { section: v.map, offset: v.offset });
    const enc = new TextEncoder().encode(value);
    if (enc.length > v.size) throw new ElfError('E_VARIABLE', `string of ${enc.length} bytes does not fit variable '${v.name}' (${v.size} bytes)`, { section: v.map, offset: v.offset });
    const out = new Uint8Array(v.size);
    out.set(enc);
    return out;
  }
  if (![1, 2, 4, 8].includes(v.size)) throw new ElfError('E_VARIABLE', `variable '${v.name}' is ${v.size} bytes; give a Uint8Array`, { section: v.map, offset: v.offset });
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new ElfError('E_VARIABLE', `variable '${v.name}': ${value} is not an integer`, { section: v.map, offset: v.offset });
  const n = BigInt(value);
  const misfit = integerMisfit(n, v.size, kind?.signed, kind?.bool);
  if (misfit) throw new ElfError('E_VARIABLE', `variable '${v.name}': ${misfit}`, { section: v.map, offset: v.offset });
  const u = BigInt.asUintN(v.size * 8, n);
  const out = new Uint8Array(v.size);
  for (let i = 0; i < v.size; i++) out[i] = Number((u >> BigInt(8 * i)) & 0xffn);
  return out;
}
