/**
 * The C view of module types: integers with width and signedness, fixed
 * arrays and structs with natural alignment. Layout is computed here once.
 */

export interface IntType {
  kind: 'int';
  bits: 8 | 16 | 32 | 64;
  signed: boolean;
  /** Network byte order (be16/be32): the bits are stored swapped. */
  bigEndian?: boolean;
  /** The DSL name (u8, be16, bool…), for BTF and messages. */
  name: string;
  /**
   * A kernel pointer (`Ptr<T>`): a u64 whose fields are read through CO-RE.
   * The pointee's type annotation (or interface), or null for `Ptr<unknown>`.
   */
  pointee?: import('ts-morph').Node | null;
  /** A pointer the verifier tracks as a BTF pointer (BTF-typed program arguments, currentTaskBtf): its fields are loaded directly. */
  btfPointer?: boolean;
}

export interface ArrayType {
  kind: 'array';
  element: CType;
  length: number;
  /** A CStr<N>: printed as a string in user space. */
  cstr?: boolean;
}

export interface StructField {
  name: string;
  type: CType;
  offset: number;
}

export interface StructType {
  kind: 'struct';
  name: string;
  fields: StructField[];
  size: number;
  align: number;
}

export type CType = IntType | ArrayType | StructType;

const int = (name: string, bits: IntType['bits'], signed: boolean, bigEndian = false): IntType => ({ kind: 'int', name, bits, signed, ...(bigEndian ? { bigEndian } : {}) });

/** The DSL's integer type names. */
export const INT_TYPES: Record<string, IntType> = {
  u8: int('u8', 8, false),
  u16: int('u16', 16, false),
  u32: int('u32', 32, false),
  u64: int('u64', 64, false),
  i8: int('i8', 8, true),
  i16: int('i16', 16, true),
  i32: int('i32', 32, true),
  i64: int('i64', 64, true),
  bool: int('bool', 8, false),
  be16: int('be16', 16, false, true),
  be32: int('be32', 32, false, true),
};

/** struct bpf_spin_lock: the kernel finds it in a map value's BTF by this name and size; it has no fields a program may touch. */
export const SPIN_LOCK: StructType = { kind: 'struct', name: 'bpf_spin_lock', fields: [], size: 4, align: 4 };

/** How many spin locks `t` holds, and whether one is anywhere but a top-level field of a struct (where the kernel looks for it). */
export function spinLocks(t: CType, depth = 0): { count: number; nested: boolean } {
  if (t === SPIN_LOCK) return { count: 1, nested: depth !== 1 };
  if (t.kind === 'int') return { count: 0, nested: false };
  if (t.kind === 'array') {
    const e = spinLocks(t.element, depth + 1);
    return { count: e.count * t.length, nested: e.count > 0 };
  }
  let count = 0;
  let nested = false;
  for (const f of t.fields) {
    const s = spinLocks(f.type, depth + 1);
    count += s.count;
    nested ||= s.nested;
  }
  return { count, nested };
}

export const U32 = INT_TYPES.u32!;
export const U64 = INT_TYPES.u64!;
export const I32 = INT_TYPES.i32!;
export const I64 = INT_TYPES.i64!;
export const BOOL = INT_TYPES.bool!;

/** A BPF program's stack (MAX_BPF_STACK): no local, key or stack buffer can be larger. */
export const STACK_LIMIT = 512;
/** The largest map value the kernel accepts (KMALLOC_MAX_SIZE with 4 KiB pages); no C type of a module may be larger. */
export const MAX_VALUE_SIZE = 4 << 20;
/** The largest per-CPU map value (PCPU_MIN_UNIT_SIZE). */
export const MAX_PERCPU_VALUE_SIZE = 32 << 10;

export function sizeOf(t: CType): number {
  if (t.kind === 'int') return t.bits / 8;
  if (t.kind === 'array') return sizeOf(t.element) * t.length;
  return t.size;
}

export function alignOf(t: CType): number {
  if (t.kind === 'int') return t.bits / 8;
  if (t.kind === 'array') return alignOf(t.element);
  return t.align;
}

/** Lays out fields in declaration order with natural alignment. */
export function makeStruct(name: string, fields: Array<{ name: string; type: CType }>): StructType {
  let offset = 0;
  let align = 1;
  const laid: StructField[] = [];
  for (const f of fields) {
    const a = alignOf(f.type);
    offset = Math.ceil(offset / a) * a;
    laid.push({ name: f.name, type: f.type, offset });
    offset += sizeOf(f.type);
    align = Math.max(align, a);
  }
  return { kind: 'struct', name, fields: laid, size: Math.ceil(offset / align) * align || 0, align };
}

export function typeName(t: CType): string {
  if (t.kind === 'int') return t.name;
  if (t.kind === 'array') return t.cstr ? `CStr<${t.length}>` : `${typeName(t.element)}[${t.length}]`;
  return t.name;
}

/** The range of values an integer type holds. */
export function intRange(t: IntType): [bigint, bigint] {
  const b = BigInt(t.bits);
  return t.signed ? [-(1n << (b - 1n)), (1n << (b - 1n)) - 1n] : [0n, (1n << b) - 1n];
}
