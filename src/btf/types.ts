/**
 * Decoded BTF types. Types refer to each other by id (never by object), so a
 * type graph with cycles is plain data, and encoding is a direct mapping.
 * Type id 0 is `void`. Names are '' for anonymous types.
 */
import type { Linkage } from './kinds.js';

export interface VoidType {
  kind: 'void';
  name: '';
}

export interface IntType {
  kind: 'int';
  name: string;
  /** Size in bytes. */
  size: number;
  signed: boolean;
  char: boolean;
  bool: boolean;
  /** Legacy bitfield encoding inside the int (almost always 0). */
  bitOffset: number;
  /** Number of value bits (size * 8 for a normal int). */
  bits: number;
}

/** ptr, typedef, volatile, const, restrict and type_tag: one referenced type. */
export interface PtrType {
  kind: 'ptr';
  name: '';
  type: number;
}
export interface TypedefType {
  kind: 'typedef';
  name: string;
  type: number;
}
export interface ModifierType {
  kind: 'volatile' | 'const' | 'restrict';
  name: '';
  type: number;
}
export interface TypeTagType {
  kind: 'type_tag';
  name: string;
  type: number;
  /** kind_flag: the tag is a plain __attribute__ rather than btf_type_tag. */
  attribute?: boolean;
}

export interface ArrayType {
  kind: 'array';
  name: '';
  /** Element type. */
  type: number;
  indexType: number;
  nelems: number;
}

export interface Member {
  name: string;
  type: number;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** Bitfield width in bits; 0 when the member is not a bitfield. */
  bitfieldSize: number;
}

export interface StructType {
  kind: 'struct' | 'union';
  name: string;
  size: number;
  members: Member[];
  /**
   * kind_flag: members encode (bitfieldSize << 24 | bitOffset). When absent,
   * the encoder sets it if any member is a bitfield.
   */
  kindFlag?: boolean;
}

export interface EnumValue {
  name: string;
  value: number;
}
export interface EnumType {
  kind: 'enum';
  name: string;
  /** 1, 2, 4 (or 8 written by old encoders). */
  size: number;
  signed: boolean;
  values: EnumValue[];
}
export interface Enum64Value {
  name: string;
  value: bigint;
}
export interface Enum64Type {
  kind: 'enum64';
  name: string;
  size: number;
  signed: boolean;
  values: Enum64Value[];
}

export interface FwdType {
  kind: 'fwd';
  name: string;
  /** A forward declaration of a union (kind_flag) rather than a struct. */
  union: boolean;
}

export interface FuncType {
  kind: 'func';
  name: string;
  /** The func_proto. */
  type: number;
  linkage: Linkage;
}

export interface FuncParam {
  name: string;
  /** 0 with an empty name for a trailing `...`. */
  type: number;
}
export interface FuncProtoType {
  kind: 'func_proto';
  name: '';
  returnType: number;
  params: FuncParam[];
}

export interface VarType {
  kind: 'var';
  name: string;
  type: number;
  linkage: Linkage;
}

export interface DatasecVar {
  type: number;
  offset: number;
  size: number;
}
export interface DatasecType {
  kind: 'datasec';
  name: string;
  size: number;
  vars: DatasecVar[];
}

export interface FloatType {
  kind: 'float';
  name: string;
  size: number;
}

export interface DeclTagType {
  kind: 'decl_tag';
  name: string;
  type: number;
  /** -1 for the type itself, else the member or parameter index. */
  componentIdx: number;
  attribute?: boolean;
}

export type BtfType =
  | VoidType
  | IntType
  | PtrType
  | ArrayType
  | StructType
  | EnumType
  | FwdType
  | TypedefType
  | ModifierType
  | FuncType
  | FuncProtoType
  | VarType
  | DatasecType
  | FloatType
  | DeclTagType
  | TypeTagType
  | Enum64Type;

export type BtfTypeKind = BtfType['kind'];

/** Kinds that only qualify the type they reference. */
export const isModifier = (t: BtfType): t is ModifierType | TypeTagType =>
  t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag';

export const isComposite = (t: BtfType): t is StructType => t.kind === 'struct' || t.kind === 'union';
export const isAnyEnum = (t: BtfType): t is EnumType | Enum64Type => t.kind === 'enum' || t.kind === 'enum64';
