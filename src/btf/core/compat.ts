/** Type compatibility as libbpf's CO-RE defines it (relo_core.c semantics). */
import type { Btf } from '../btf.js';
import { skipModsAndTypedefs } from '../navigate.js';
import type { BtfType } from '../types.js';
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
    if ((l.kind === 'struct' || l.kind === 'union') && (t.kind === 'struct' || t.kind === 'union')) return true;
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
export function typesCompat(lb: Btf, lid: number, tb: Btf, tid: number, depth = MAX_DEPTH): boolean {
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
          if (!typesCompat(lb, l.params[i]!.type, tb, tp.params[i]!.type, depth - 1)) return false;
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

/** The stricter bpf_core_type_matches() relation. */
export function typesMatch(lb: Btf, lid: number, tb: Btf, tid: number, behindPtr = false, level = MAX_DEPTH): boolean {
  if (level <= 0) return false;
  const l = lb.type(skipModsAndTypedefs(lb, lid));
  const t = tb.type(skipModsAndTypedefs(tb, tid));
  if (behindPtr && (l.kind === 'fwd' || t.kind === 'fwd')) return namesMatch(l.name, t.name);
  if (!kindsCoreCompat(l, t)) return false;
  switch (l.kind) {
    case 'void':
      return true;
    case 'fwd':
      return namesMatch(l.name, t.name) && l.union === (t as typeof l).union;
    case 'enum':
    case 'enum64': {
      if (!namesMatch(l.name, t.name)) return false;
      const tv = new Set((t as typeof l).values.map((v) => essentialName(v.name)));
      return l.values.every((v) => tv.has(essentialName(v.name)));
    }
    case 'struct':
    case 'union': {
      if (!namesMatch(l.name, t.name)) return false;
      const tm = (t as typeof l).members;
      if (l.members.length > tm.length) return false;
      return l.members.every((m) => {
        const other = tm.find((x) => x.name === m.name);
        return other !== undefined && typesMatch(lb, m.type, tb, other.type, behindPtr, level - 1);
      });
    }
    case 'int': {
      const ti = t as typeof l;
      return l.size === ti.size && l.signed === ti.signed;
    }
    case 'ptr':
      return typesMatch(lb, l.type, tb, (t as typeof l).type, true, level - 1);
    case 'array': {
      const ta = t as typeof l;
      return l.nelems === ta.nelems && typesMatch(lb, l.type, tb, ta.type, behindPtr, level - 1);
    }
    case 'func_proto': {
      const tp = t as typeof l;
      if (l.params.length !== tp.params.length) return false;
      for (let i = 0; i < l.params.length; i++)
        if (!typesMatch(lb, l.params[i]!.type, tb, tp.params[i]!.type, behindPtr, level - 1)) return false;
      return typesMatch(lb, l.returnType, tb, tp.returnType, behindPtr, level - 1);
    }
    default:
      return false;
  }
}
