/**
 * A CO-RE access spec: the relocation's access string ("0:1:2") walked over
 * a type, recording each named member and array index, and the bit offset
 * the walk ends at. Local specs come from the program's BTF; target specs
 * are the matching walk over a kernel candidate.
 */
import type { Btf } from '../btf.js';
import { BtfError } from '../errors.js';
import type { CoreRelo, CoreReloKind } from '../ext.js';
import { sizeOf, skipModsAndTypedefs } from '../navigate.js';
import { type ArrayType, type Enum64Type, type EnumType, isComposite, type StructType } from '../types.js';

export const MAX_SPEC_LEN = 64;

export interface Accessor {
  /** For members: the struct/union; for array steps: the element type. */
  typeId: number;
  idx: number;
  /** Member (or enumerator) name; undefined for array indexes. */
  name?: string;
}

export interface CoreSpec {
  btf: Btf;
  rootTypeId: number;
  kind: CoreReloKind;
  /** Named members, array indexes (anonymous members only appear in `raw`). */
  accessors: Accessor[];
  raw: number[];
  bitOffset: number;
}

export const isFieldKind = (k: CoreReloKind): boolean =>
  k === 'fieldByteOffset' || k === 'fieldByteSize' || k === 'fieldExists' || k === 'fieldSigned' || k === 'fieldLshiftU64' || k === 'fieldRshiftU64';
export const isTypeKind = (k: CoreReloKind): boolean =>
  k === 'typeIdLocal' || k === 'typeIdTarget' || k === 'typeExists' || k === 'typeSize' || k === 'typeMatches';
export const isEnumvalKind = (k: CoreReloKind): boolean => k === 'enumvalExists' || k === 'enumvalValue';

function bad(relo: CoreRelo, msg: string): BtfError {
  return new BtfError('BAD_CORE_SPEC', `relocation [${relo.typeId}] '${relo.accessString}' (${relo.kind}) at insn offset ${relo.insnOff}: ${msg}`, {
    section: '.BTF.ext core_relo',
    offset: relo.insnOff,
  });
}

/** A flexible array: a zero-length array that is the last member. */
export function isFlexArray(btf: Btf, parent: Accessor | undefined, arr: ArrayType): boolean {
  if (!parent || parent.name === undefined || arr.nelems > 0) return false;
  const t = btf.type(parent.typeId) as StructType;
  return parent.idx === t.members.length - 1;
}

export function parseSpec(btf: Btf, relo: CoreRelo): CoreSpec {
  const parts = relo.accessString.split(':');
  if (parts.length === 0 || parts.length > MAX_SPEC_LEN) throw bad(relo, 'access string too long');
  const raw = parts.map((p) => {
    if (!/^[0-9]+$/.test(p)) throw bad(relo, `bad access string component '${p}'`);
    return Number(p);
  });
  const spec: CoreSpec = { btf, rootTypeId: relo.typeId, kind: relo.kind, accessors: [], raw, bitOffset: 0 };
  if (relo.typeId === 0 || relo.typeId >= btf.typeCount) throw bad(relo, `type id ${relo.typeId} out of range`);
  if (isTypeKind(relo.kind)) {
    if (raw.length !== 1 || raw[0] !== 0) throw bad(relo, 'type relocations need access string "0"');
    return spec;
  }
  let id = skipModsAndTypedefs(btf, relo.typeId);
  let t = btf.type(id);
  if (isEnumvalKind(relo.kind)) {
    if (t.kind !== 'enum' && t.kind !== 'enum64') throw bad(relo, `enum value relocation on a ${t.kind}`);
    if (raw.length !== 1 || raw[0]! >= t.values.length) throw bad(relo, `enumerator index ${raw[0]} out of range`);
    spec.accessors.push({ typeId: id, idx: raw[0]!, name: (t as EnumType | Enum64Type).values[raw[0]!]!.name });
    return spec;
  }
  if (!isFieldKind(relo.kind)) throw bad(relo, 'unknown relocation kind');
  spec.accessors.push({ typeId: id, idx: raw[0]! });
  spec.bitOffset = raw[0]! * sizeOf(btf, id) * 8;
  for (let i = 1; i < raw.length; i++) {
    id = skipModsAndTypedefs(btf, id);
    t = btf.type(id);
    const idx = raw[i]!;
    if (isComposite(t)) {
      if (idx >= t.members.length) throw bad(relo, `member index ${idx} out of range for ${t.kind} '${t.name}'`);
      const m = t.members[idx]!;
      spec.bitOffset += m.bitOffset;
      if (m.name) spec.accessors.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === 'array') {
      const elem = skipModsAndTypedefs(btf, t.type);
      const flex = isFlexArray(btf, spec.accessors[spec.accessors.length - 1], t);
      if (!flex && idx >= t.nelems) throw bad(relo, `array index ${idx} out of range (${t.nelems} elements)`);
      spec.accessors.push({ typeId: elem, idx });
      spec.bitOffset += idx * sizeOf(btf, elem) * 8;
      id = elem;
    } else throw bad(relo, `access step ${i} reaches a ${t.kind}`);
  }
  return spec;
}

/** `struct task_struct.pids[0].pid` for a field spec, `enum foo::BAR` for enumerators. */
export function describeSpec(spec: CoreSpec): string {
  const btf = spec.btf;
  const root = btf.type(spec.rootTypeId);
  const head = root.kind === 'typedef' ? root.name : root.kind === 'enum64' ? `enum ${root.name}` : `${root.kind} ${root.name || '(anon)'}`;
  if (isTypeKind(spec.kind)) return head;
  if (isEnumvalKind(spec.kind)) return `${head}::${spec.accessors[0]?.name ?? '?'}`;
  let s = head;
  spec.accessors.forEach((a, i) => {
    if (i === 0) {
      if (a.idx !== 0) s += `[${a.idx}]`;
    } else if (a.name !== undefined) s += `.${a.name}`;
    else s += `[${a.idx}]`;
  });
  return s;
}
