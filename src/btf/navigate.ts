/** Walking type graphs: skipping qualifiers, sizes and alignments. */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { type BtfType, isModifier } from './types.js';

/** Longest chain of modifiers/typedefs/arrays followed before giving up (a loop). */
export const MAX_RESOLVE_DEPTH = 32;

/** The first type that is not const/volatile/restrict/type_tag. */
export function skipModifiers(btf: Btf, id: number): number {
  for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
    const t = btf.type(id);
    if (!isModifier(t)) return id;
    id = t.type;
  }
  throw loop(btf, id);
}

/** The first type that is neither a modifier nor a typedef. */
export function skipModsAndTypedefs(btf: Btf, id: number): number {
  for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
    const t = btf.type(id);
    if (!isModifier(t) && t.kind !== 'typedef') return id;
    id = t.type;
  }
  throw loop(btf, id);
}

function loop(btf: Btf, id: number): BtfError {
  return new BtfError('TYPE_LOOP', `type chain through [${id}] is too deep or loops`, { section: btf.section, typeId: id });
}

/** Size in bytes of a type as C's sizeof would give it. */
export function sizeOf(btf: Btf, id: number): number {
  let mult = 1;
  for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
    const t = btf.type(id);
    switch (t.kind) {
      case 'int':
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'datasec':
      case 'float':
        return checked(btf, id, mult * t.size);
      case 'ptr':
        return checked(btf, id, mult * 8);
      case 'typedef':
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
      case 'var':
        id = t.type;
        continue;
      case 'array':
        mult *= t.nelems;
        id = t.type;
        continue;
      default:
        throw new BtfError('NO_SIZE', `${t.kind} has no size`, { section: btf.section, typeId: id });
    }
  }
  throw loop(btf, id);
}

function checked(btf: Btf, id: number, n: number): number {
  if (!Number.isSafeInteger(n) || n > 0xffffffff)
    throw new BtfError('HUGE_SIZE', `size ${n} does not fit in 32 bits`, { section: btf.section, typeId: id });
  return n;
}

const alignments = new WeakMap<Btf, Map<number, number>>();

/**
 * Natural alignment in bytes (as a 64-bit target lays the type out). A
 * struct with a misaligned member or a size that is not a multiple of its
 * members' alignment is packed (1). Memoised per Btf: linear in the graph.
 */
export function alignOf(btf: Btf, id: number): number {
  let memo = alignments.get(btf);
  if (!memo) alignments.set(btf, (memo = new Map()));
  return alignRec(btf, id, memo, new Set());
}

function alignRec(btf: Btf, id: number, memo: Map<number, number>, path: Set<number>): number {
  const hit = memo.get(id);
  if (hit !== undefined) return hit;
  if (path.has(id) || path.size > MAX_RESOLVE_DEPTH * 4) throw loop(btf, id);
  path.add(id);
  const t: BtfType = btf.type(id);
  let a: number;
  switch (t.kind) {
    case 'int':
    case 'enum':
    case 'enum64':
    case 'float':
      a = Math.max(1, Math.min(t.size, 8));
      break;
    case 'ptr':
      a = 8;
      break;
    case 'typedef':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'type_tag':
    case 'array':
      a = alignRec(btf, t.type, memo, path);
      break;
    case 'struct':
    case 'union': {
      a = 1;
      for (const m of t.members) {
        const ma = alignRec(btf, m.type, memo, path);
        // A member that breaks natural alignment means the struct is packed.
        if (m.bitfieldSize === 0 && m.bitOffset % (8 * ma) !== 0) {
          a = 0;
          break;
        }
        a = Math.max(a, ma);
      }
      a = a === 0 || t.size % a !== 0 ? 1 : a;
      break;
    }
    default:
      a = 1;
  }
  path.delete(id);
  memo.set(id, a);
  return a;
}

/** The name of a type as C would spell its head: `struct foo`, `int`, `void`. */
export function cTypeName(t: BtfType): string {
  switch (t.kind) {
    case 'struct':
    case 'union':
    case 'enum':
      return `${t.kind} ${t.name || '(anon)'}`;
    case 'enum64':
      return `enum ${t.name || '(anon)'}`;
    case 'fwd':
      return `${t.union ? 'union' : 'struct'} ${t.name}`;
    case 'void':
      return 'void';
    default:
      return t.name || `(anon ${t.kind})`;
  }
}
