/** BTF kind numbers as the kernel's uapi btf.h defines them. */
export const BTF_KIND = {
  unknown: 0,
  int: 1,
  ptr: 2,
  array: 3,
  struct: 4,
  union: 5,
  enum: 6,
  fwd: 7,
  typedef: 8,
  volatile: 9,
  const: 10,
  restrict: 11,
  func: 12,
  func_proto: 13,
  var: 14,
  datasec: 15,
  float: 16,
  decl_tag: 17,
  type_tag: 18,
  enum64: 19,
} as const;

export type BtfKindName = Exclude<keyof typeof BTF_KIND, 'unknown'>;

/** Kind number → name, index 0 is void. */
export const KIND_NAMES: readonly string[] = Object.keys(BTF_KIND).map((k) => (k === 'unknown' ? 'void' : k));

export const BTF_MAGIC = 0xeb9f;
export const BTF_HEADER_SIZE = 24;
export const BTF_MAX_VLEN = 0xffff;

/** func and var linkage values. */
export const LINKAGE = { static: 0, global: 1, extern: 2 } as const;
export type Linkage = keyof typeof LINKAGE;
export const LINKAGE_NAMES: readonly Linkage[] = ['static', 'global', 'extern'];

/** Bytes a type record occupies after its 12-byte common header. */
export function extraRecordSize(kind: number, vlen: number): number {
  switch (kind) {
    case BTF_KIND.int:
    case BTF_KIND.var:
    case BTF_KIND.decl_tag:
      return 4;
    case BTF_KIND.array:
      return 12;
    case BTF_KIND.struct:
    case BTF_KIND.union:
    case BTF_KIND.datasec:
    case BTF_KIND.enum64:
      return 12 * vlen;
    case BTF_KIND.enum:
    case BTF_KIND.func_proto:
      return 8 * vlen;
    default:
      return 0;
  }
}

/** Kinds that are valid on the wire (1..19). */
export const isKnownKind = (kind: number): boolean => kind >= 1 && kind <= 19;
