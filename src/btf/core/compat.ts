/** Type compatibility as libbpf's CO-RE defines it (relo_core.c semantics). */
import type { Btf } from '../btf.js';
import { skipModsAndTypedefs } from '../navigate.js';
import { type BtfType, isComposite } from '../types.js';
import { essentialName } from './names.js';

const MAX_DEPTH = 32;

/** Same kind, treating enum and enum64 as one. */
export function kindsCoreCompat(a: BtfType, b: BtfType): boolean {
  if (a.kind === b.kind) return true;
  const e = (k: string) => k === 'enum' || k === 'enum64';
  return e(a.kind) && e(b.kind);
}

function namesMatch(a: string, b: string): boolean {
  return essentialName(a) === essentialName(b);
}

/** Field types: used when matching a member of a field access path. */
export function fieldsCompat(lb: Btf, lid: number, tb: Btf, tid: number): boolean {
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const l = lb.type(skipModsAndTypedefs(lb, lid));
    const t = tb.type(skipModsAndTypedefs(tb, tid));
    if (isComposite(l) && isComposite(t)) return true;
    if (!kindsCoreCompat(l, t)) return false;
    switch (l.kind) {
      case 'ptr':
      case 'float':
        return true;
      case 'fwd':
      case 'enum':
      case 'enum64':
        return namesMatch(l.name, t.name);
      case 'int':
        return l.bitOffset === 0 && (t as { bitOffset: number }).bitOffset === 0;
      case 'array':
        lid = l.type;
        tid = (t as typeof l).type;
        continue;
      default:
        return false;
    }
  }
  return false;
}

/** Types as a whole: type id target / exists / size relocations. */
export function typesCompat(lb: Btf, lid: number, tb: Btf, tid: number, depth = MAX_DEPTH, seen = new Set<string>()): boolean {
  // Function prototypes recurse per parameter: decide each pair once.
  const key = `${lid}:${tid}`;
  if (seen.has(key)) return true;
  seen.add(key);
  if (!kindsCoreCompat(lb.type(lid), tb.type(tid))) return false;
  for (; depth > 0; depth--) {
    lid = skipModsAndTypedefs(lb, lid);
    tid = skipModsAndTypedefs(tb, tid);
    const l = lb.type(lid);
    const t = tb.type(tid);
    if (!kindsCoreCompat(l, t)) return false;
    switch (l.kind) {
      case 'void':
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'fwd':
        return true;
      case 'int':
        return l.bitOffset === 0 && (t as typeof l).bitOffset === 0;
      case 'ptr':
        lid = l.type;
        tid = (t as typeof l).type;
        continue;
      case 'array':
        lid = l.type;
        tid = (t as typeof l).type;
        continue;
      case 'func_proto': {
        const tp = t as typeof l;
        if (l.params.length !== tp.params.length) return false;
        for (let i = 0; i < l.params.length; i++)
          if (!typesCompat(lb, l.params[i]!.type, tb, tp.params[i]!.type, depth - 1, seen)) return false;
        lid = l.returnType;
        tid = tp.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  return false;
}

/** Essential names equal; an anonymous side matches anything (libbpf's bpf_core_names_match). */
function namesMatchOrAnonymous(a: string, b: string): boolean {
  return a === '' || b === '' || essentialName(a) === essentialName(b);
}

const isUnionLike = (t: BtfType): boolean => (t.kind === 'fwd' ? t.union : t.kind === 'union');

/**
 * The stricter bpf_core_type_matches() relation: names (after typedefs) and
 * kinds agree, every local member/enumerator has a matching one in the
 * target, ints agree in size and sign, arrays in length; a forward
 * declaration behind a pointer matches a struct/union of its flavor.
 */
export function typesMatch(lb: Btf, lid: number, tb: Btf, tid: number, behindPtr = false, level = MAX_DEPTH, seen = new Map<string, boolean>()): boolean {
  if (level <= 0) return false;
  // Recursive types (list_head's next/prev) would branch exponentially: each
  // pair is decided once, and a pair met again while deciding it is assumed
  // to match (the rest of the structure decides).
  const key = `${lid}:${tid}:${behindPtr ? 1 : 0}`;
  const known = seen.get(key);
  if (known !== undefined) return known;
  seen.set(key, true);
  const result = typesMatchOnce(lb, lid, tb, tid, behindPtr, level, seen);
  seen.set(key, result);
  return result;
}

function typesMatchOnce(lb: Btf, lid: number, tb: Btf, tid: number, behindPtr: boolean, level: number, seen: Map<string, boolean>): boolean {
  const l = lb.type(skipModsAndTypedefs(lb, lid));
  const t = tb.type(skipModsAndTypedefs(tb, tid));
  if (!namesMatchOrAnonymous(l.name, t.name)) return false;
  if (l.kind === 'fwd' || t.kind === 'fwd') {
    if (l.kind === 'fwd' && t.kind === 'fwd') return l.union === t.union;
    if (!behindPtr) return false;
    const other = l.kind === 'fwd' ? t : l;
    return isComposite(other) && isUnionLike(l) === isUnionLike(t);
  }
  if (!kindsCoreCompat(l, t)) return false;
  switch (l.kind) {
    case 'void':
      return true;
    case 'enum':
    case 'enum64': {
      const tv = (t as typeof l).values;
      if (l.values.length > tv.length) return false;
      return l.values.every((v) => tv.some((x) => namesMatchOrAnonymous(v.name, x.name)));
    }
    case 'struct':
    case 'union': {
      const tm = (t as typeof l).members;
      if (l.members.length > tm.length) return false;
      return l.members.every((m) =>
        tm.some((x) => namesMatchOrAnonymous(m.name, x.name) && typesMatch(lb, m.type, tb, x.type, behindPtr, level - 1, seen)),
      );
    }
    case 'int': {
      const ti = t as typeof l;
      return l.size === ti.size && l.signed === ti.signed;
    }
    case 'ptr':
      return typesMatch(lb, l.type, tb, (t as typeof l).type, true, level - 1, seen);
    case 'array': {
      const ta = t as typeof l;
      return l.nelems === ta.nelems && typesMatch(lb, l.type, tb, ta.type, behindPtr, level - 1, seen);
    }
    case 'func_proto': {
      const tp = t as typeof l;
      if (l.params.length !== tp.params.length) return false;
      for (let i = 0; i < l.params.length; i++)
        if (!typesMatch(lb, l.params[i]!.type, tb, tp.params[i]!.type, behindPtr, level - 1, seen)) return false;
      return typesMatch(lb, l.returnType, tb, tp.returnType, behindPtr, level - 1, seen);
    }
    default:
      return false;
  }
}
