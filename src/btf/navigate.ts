/** Walking type graphs: skipping qualifiers, sizes and alignments. */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import type { BtfType } from './types.js';

/** Longest chain of modifiers/typedefs/arrays followed before giving up (a loop). */
export const MAX_RESOLVE_DEPTH = 32;

/** The first type that is not const/volatile/restrict/type_tag. */
export function skipModifiers(btf: Btf, id: number): number {
  for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
    const t = btf.type(id);
    if (t.kind !== 'const' && t.kind !== 'volatile' && t.kind !== 'restrict' && t.kind !== 'type_tag') return id;
    id = t.type;
  }
  throw loop(btf, id);
}

/** The first type that is neither a modifier nor a typedef. */
export function skipModsAndTypedefs(btf: Btf, id: number): number {
  for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
    const t = btf.type(id);
    if (t.kind !== 'const' && t.kind !== 'volatile' && t.kind !== 'restrict' && t.kind !== 'type_tag' && t.kind !== 'typedef')
      return id;
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

/** Natural alignment in bytes (as a 64-bit target lays the type out). */
export function alignOf(btf: Btf, id: number, depth = 0): number {
  if (depth > MAX_RESOLVE_DEPTH) throw loop(btf, id);
  const t: BtfType = btf.type(id);
  switch (t.kind) {
    case 'int':
    case 'enum':
    case 'enum64':
    case 'float':
      return Math.max(1, Math.min(t.size, 8));
    case 'ptr':
      return 8;
    case 'typedef':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'type_tag':
    case 'array':
      return alignOf(btf, t.type, depth + 1);
    case 'struct':
    case 'union': {
      let a = 1;
      for (const m of t.members) {
        const ma = alignOf(btf, m.type, depth + 1);
        // A member that breaks natural alignment means the struct is packed.
        if (m.bitfieldSize === 0 && m.bitOffset % (8 * ma) !== 0) return 1;
        a = Math.max(a, ma);
      }
      if (t.size % a !== 0) return 1;
      return a;
    }
    default:
      return 1;
  }
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
