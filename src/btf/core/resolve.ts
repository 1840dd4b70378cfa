/**
 * Resolving one CO-RE relocation: parse the local access spec, match it
 * against every candidate in the target, compute the value the instruction
 * must carry. The result says what to patch; an unsatisfiable relocation is
 * `poison: true` with a reason naming the type and field path, as libbpf
 * poisons it (the verifier then rejects the instruction only if reachable).
 */
import type { Btf } from '../btf.js';
import { BtfError } from '../errors.js';
import type { CoreRelo, CoreReloKind } from '../ext.js';
import { sizeOf, skipModsAndTypedefs } from '../navigate.js';
import { isAnyEnum, type StructType } from '../types.js';
import type { CoreTarget } from './candidates.js';
import { fieldsCompat, typesCompat, typesMatch } from './compat.js';
import { essentialName } from './names.js';
import { MAX_SPEC_LEN, describeSpec, isEnumvalKind, isFieldKind, isFlexArray, parseSpec, type Accessor, type CoreSpec } from './spec.js';

export interface CoreResult {
  kind: CoreReloKind;
  /** The value the compiler wrote (from the local BTF). */
  localValue: bigint;
  /** The value for the running kernel. */
  targetValue: bigint;
  /** Memory access sizes (field loads), 0 when not applicable. */
  localSize: number;
  targetSize: number;
  /** Check that the instruction currently carries `localValue`. */
  validate: boolean;
  /** Replace the instruction with the poison call (see applyCoreRelocation). */
  poison: boolean;
  /** Loads/stores whose size cannot be adjusted safely are poisoned. */
  failMemSizeAdjust: boolean;
  /** `struct task_struct.pids[0].pid` */
  path: string;
  /** Why the relocation is poisoned, e.g. `struct task_struct.pids[0].pid: no candidate`. */
  reason?: string;
  /** The matched target type, when one matched. */
  target?: { btf: Btf; typeId: number };
}

interface Calc {
  value: bigint;
  size: number;
  typeId: number;
  validate: boolean;
  poison?: boolean;
}

function relErr(relo: CoreRelo, path: string, msg: string): BtfError {
  return new BtfError('CORE_RELO', `${path}: ${msg}`, { section: '.BTF.ext core_relo', offset: relo.insnOff });
}

/** Matches a local member accessor inside a target composite (recursing into anonymous members). */
function matchMember(local: CoreSpec, acc: Accessor, tb: Btf, tid: number, spec: CoreSpec, path = new Set<number>()): { found: boolean; next: number } {
  const lt = local.btf.type(acc.typeId) as StructType;
  const lm = lt.members[acc.idx]!;
  tid = skipModsAndTypedefs(tb, tid);
  const t = tb.type(tid);
  if (t.kind !== 'struct' && t.kind !== 'union') return { found: false, next: 0 };
  // Anonymous members are searched depth-first; a type already on the path is a loop.
  if (path.has(tid)) return { found: false, next: 0 };
  path.add(tid);
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i]!;
    if (spec.raw.length >= MAX_SPEC_LEN) throw new BtfError('CORE_RELO', 'struct nesting too deep', { section: '.BTF.ext core_relo' });
    spec.bitOffset += m.bitOffset;
    spec.raw.push(i);
    if (m.name === '') {
      const r = matchMember(local, acc, tb, m.type, spec, path);
      if (r.found) return r;
    } else if (m.name === lm.name) {
      if (!fieldsCompat(local.btf, lm.type, tb, m.type)) return { found: false, next: 0 };
      spec.accessors.push({ typeId: tid, idx: i, name: m.name });
      return { found: true, next: m.type };
    }
    spec.bitOffset -= m.bitOffset;
    spec.raw.pop();
  }
  return { found: false, next: 0 };
}

/** The candidate's spec if the local spec matches it. */
export function matchSpec(local: CoreSpec, tb: Btf, tid: number): CoreSpec | undefined {
  const spec: CoreSpec = { btf: tb, rootTypeId: tid, kind: local.kind, accessors: [], raw: [], bitOffset: 0 };
  if (!isFieldKind(local.kind) && !isEnumvalKind(local.kind)) {
    const ok = local.kind === 'typeMatches' ? typesMatch(local.btf, local.rootTypeId, tb, tid) : typesCompat(local.btf, local.rootTypeId, tb, tid);
    return ok ? spec : undefined;
  }
  if (isEnumvalKind(local.kind)) {
    const id = skipModsAndTypedefs(tb, tid);
    const t = tb.type(id);
    if (t.kind !== 'enum' && t.kind !== 'enum64') return undefined;
    const want = essentialName(local.accessors[0]!.name!);
    const i = t.values.findIndex((v) => essentialName(v.name) === want);
    if (i < 0) return undefined;
    spec.accessors.push({ typeId: id, idx: i, name: t.values[i]!.name });
    spec.raw.push(i);
    return spec;
  }
  for (let i = 0; i < local.accessors.length; i++) {
    const acc = local.accessors[i]!;
    if (acc.name !== undefined) {
      const r = matchMember(local, acc, tb, tid, spec);
      if (!r.found) return undefined;
      tid = r.next;
    } else {
      if (i > 0) {
        const aid = skipModsAndTypedefs(tb, tid);
        const a = tb.type(aid);
        if (a.kind !== 'array') return undefined;
        const flex = isFlexArray(tb, spec.accessors[spec.accessors.length - 1], a);
        if (!flex && acc.idx >= a.nelems) return undefined;
        tid = skipModsAndTypedefs(tb, a.type);
      }
      if (spec.raw.length >= MAX_SPEC_LEN) return undefined;
      spec.accessors.push({ typeId: tid, idx: acc.idx });
      spec.raw.push(acc.idx);
      spec.bitOffset += acc.idx * sizeOf(tb, tid) * 8;
    }
  }
  return spec;
}

function calcField(relo: CoreRelo, spec: CoreSpec | undefined, path: string): Calc {
  const kind = relo.kind;
  if (kind === 'fieldExists') return { value: spec ? 1n : 0n, size: 0, typeId: 0, validate: true };
  if (!spec) return { value: 0n, size: 0, typeId: 0, validate: true, poison: true };
  const btf = spec.btf;
  const acc = spec.accessors[spec.accessors.length - 1]!;
  if (acc.name === undefined) {
    // The access ends on an array element (or the root itself).
    const sz = sizeOf(btf, acc.typeId);
    if (kind === 'fieldByteOffset') return { value: BigInt(Math.floor(spec.bitOffset / 8)), size: sz, typeId: acc.typeId, validate: true };
    if (kind === 'fieldByteSize') return { value: BigInt(sz), size: 0, typeId: 0, validate: true };
    throw relErr(relo, path, `${kind} cannot be applied to an array element`);
  }
  const parent = btf.type(acc.typeId) as StructType;
  const member = parent.members[acc.idx]!;
  const fieldTypeId = skipModsAndTypedefs(btf, member.type);
  const mt = btf.type(fieldTypeId);
  const bitOff = spec.bitOffset;
  let bitSz = member.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    byteSz = 'size' in mt ? (mt.size as number) : 0;
    if (byteSz <= 0) throw relErr(relo, path, 'bitfield of a sizeless type');
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) throw relErr(relo, path, 'bitfield cannot be read with a 64-bit load');
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = sizeOf(btf, fieldTypeId);
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  // For bitfields the compiler's choices may differ from ours: only signedness and rshift are checked.
  let validate = !bitfield;
  let value: number;
  let size = 0;
  let typeId = 0;
  switch (kind) {
    case 'fieldByteOffset':
      value = byteOff;
      if (!bitfield) {
        size = byteSz;
        typeId = fieldTypeId;
      }
      break;
    case 'fieldByteSize':
      value = byteSz;
      break;
    case 'fieldSigned':
      value = (isAnyEnum(mt) && mt.signed) || (mt.kind === 'int' && mt.signed) ? 1 : 0;
      validate = true;
      break;
    case 'fieldLshiftU64':
      value = btf.littleEndian ? 64 - (bitOff + bitSz - byteOff * 8) : (8 - byteSz) * 8 + (bitOff - byteOff * 8);
      break;
    case 'fieldRshiftU64':
      value = 64 - bitSz;
      validate = true;
      break;
    default:
      throw relErr(relo, path, `unsupported field relocation ${kind}`);
  }
  return { value: BigInt(value), size, typeId, validate };
}

function calcType(relo: CoreRelo, spec: CoreSpec | undefined): Calc {
  if (!spec) return { value: 0n, size: 0, typeId: 0, validate: true };
  switch (relo.kind) {
    case 'typeIdLocal':
    case 'typeIdTarget':
      return { value: BigInt(spec.rootTypeId), size: 0, typeId: 0, validate: true };
    case 'typeExists':
    case 'typeMatches':
      return { value: 1n, size: 0, typeId: 0, validate: true };
    default:
      return { value: BigInt(sizeOf(spec.btf, spec.rootTypeId)), size: 0, typeId: 0, validate: true };
  }
}

function calcEnumval(relo: CoreRelo, spec: CoreSpec | undefined): Calc {
  if (relo.kind === 'enumvalExists') return { value: spec ? 1n : 0n, size: 0, typeId: 0, validate: true };
  if (!spec) return { value: 0n, size: 0, typeId: 0, validate: true, poison: true };
  const t = spec.btf.type(spec.accessors[0]!.typeId);
  if (t.kind !== 'enum' && t.kind !== 'enum64') throw new BtfError('CORE_RELO', 'enum value relocation on a non-enum');
  return { value: BigInt(t.values[spec.accessors[0]!.idx]!.value), size: 0, typeId: 0, validate: true };
}

function calc(relo: CoreRelo, local: CoreSpec, target: CoreSpec | undefined, path: string): CoreResult {
  const k = relo.kind;
  const one = (s: CoreSpec | undefined) => (isFieldKind(k) ? calcField(relo, s, path) : isEnumvalKind(k) ? calcEnumval(relo, s) : calcType(relo, s));
  const l = one(local);
  const t = one(target);
  let failMemSizeAdjust = false;
  if (isFieldKind(k) && !t.poison && l.size !== t.size && target) {
    const lt = local.btf.type(l.typeId);
    const tt = target.btf.type(t.typeId);
    const bothPtr = lt.kind === 'ptr' && tt.kind === 'ptr';
    const bothUnsigned = lt.kind === 'int' && tt.kind === 'int' && !lt.signed && !tt.signed;
    failMemSizeAdjust = !bothPtr && !bothUnsigned;
  }
  const poison = t.poison === true;
  return {
    kind: k,
    localValue: l.value,
    targetValue: t.value,
    localSize: l.size,
    targetSize: t.size,
    validate: l.validate,
    poison,
    failMemSizeAdjust,
    path,
    ...(poison ? { reason: `${path}: no candidate` } : {}),
    ...(target ? { target: { btf: target.btf, typeId: target.rootTypeId } } : {}),
  };
}

/**
 * Resolves one relocation of the program's BTF (`local`) against the kernel's.
 * Throws BtfError for malformed records and for ambiguous candidates.
 */
export function resolveCoreRelo(relo: CoreRelo, local: Btf, target: CoreTarget): CoreResult {
  const spec = parseSpec(local, relo);
  const path = describeSpec(spec);
  if (relo.kind === 'typeIdLocal') {
    const v = BigInt(relo.typeId);
    return { kind: relo.kind, localValue: v, targetValue: v, localSize: 0, targetSize: 0, validate: false, poison: false, failMemSizeAdjust: false, path };
  }
  const localType = local.type(relo.typeId);
  if (localType.name === '') throw relErr(relo, path, 'CO-RE relocations on anonymous types are not supported');
  let chosen: { spec: CoreSpec; res: CoreResult } | undefined;
  for (const cand of target.candidates(localType)) {
    const tspec = matchSpec(spec, cand.btf, cand.id);
    if (!tspec) continue;
    const res = calc(relo, spec, tspec, path);
    if (!chosen) chosen = { spec: tspec, res };
    else if (tspec.bitOffset !== chosen.spec.bitOffset)
      throw relErr(relo, path, `field offset ambiguity between candidates [${chosen.spec.rootTypeId}] and [${cand.id}]: ${chosen.spec.bitOffset} != ${tspec.bitOffset} bits`);
    else if (res.poison !== chosen.res.poison || (!res.poison && res.targetValue !== chosen.res.targetValue))
      throw relErr(relo, path, `relocation decision ambiguity between candidates [${chosen.spec.rootTypeId}] and [${cand.id}]: ${chosen.res.targetValue} != ${res.targetValue}`);
  }
  return chosen ? chosen.res : calc(relo, spec, undefined, path);
}

/** Like resolveCoreRelo, but an unsatisfiable relocation is an error (naming type and field path). */
export function resolveCoreReloStrict(relo: CoreRelo, local: Btf, target: CoreTarget): CoreResult {
  const r = resolveCoreRelo(relo, local, target);
  if (r.poison) throw relErr(relo, r.path, 'no candidate');
  return r;
}
