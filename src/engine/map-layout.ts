/**
 * Whether a running map can serve a new version of its module: same name,
 * type, key and value layout (sizes, and through BTF the fields' names,
 * offsets and integer kinds), max entries and flags. A layout is reduced to
 * a canonical string so that it can be stored with the module and compared
 * after the engine restarts.
 */
import { type Btf, skipModifiers } from '../btf/index.js';
import type { MapSpec, ObjectSpec } from '../elf/object-spec.js';

const MAX_DEPTH = 16;

/** A type's layout without the names of typedefs and structs (renaming a type changes no byte). */
export function typeShape(btf: Btf, id: number, depth = 0): string {
  if (depth > MAX_DEPTH) return '…';
  const t = btf.type(skipModifiers(btf, id));
  switch (t.kind) {
    case 'int': return `${t.signed ? 'i' : 'u'}${t.bits}${t.bool ? 'b' : ''}`;
    case 'enum':
    case 'enum64': return `e${t.size}`;
    case 'ptr': return 'p';
    case 'float': return `f${t.size}`;
    case 'typedef':
    case 'var': return typeShape(btf, t.type, depth + 1);
    case 'array': return `[${t.nelems}]${typeShape(btf, t.type, depth + 1)}`;
    case 'struct':
    case 'union':
      return `${t.kind === 'union' ? 'U' : 'S'}${t.size}{${t.members.map((m) => `${m.name}@${m.bitOffset}${m.bitfieldSize ? `:${m.bitfieldSize}` : ''}=${typeShape(btf, m.type, depth + 1)}`).join(',')}}`;
    case 'datasec': return `D{${t.vars.map((v) => `${btf.type(v.type).name}@${v.offset}=${typeShape(btf, v.type, depth + 1)}`).join(',')}}`;
    default: return t.kind;
  }
}

/** The canonical layout of a map of an object. */
export function mapLayout(spec: ObjectSpec, m: MapSpec): string {
  const parts = [`t${m.type}`, `k${m.keySize}`, `v${m.valueSize}`, `n${m.maxEntries}`, `f${m.flags}`];
  const btf = spec.btf;
  if (btf && m.btfKeyTypeId) parts.push(`K=${typeShape(btf, m.btfKeyTypeId)}`);
  if (btf && m.btfValueTypeId) parts.push(`V=${typeShape(btf, m.btfValueTypeId)}`);
  // A data section's value is its DATASEC: find it by the section name when the map spec carries no id.
  if (btf && !m.btfValueTypeId && (m.kind === 'data' || m.kind === 'bss' || m.kind === 'rodata')) {
    const id = btf.findByName(m.section, 'datasec');
    if (id !== undefined) parts.push(`V=${typeShape(btf, id)}`);
  }
  return parts.join(' ');
}

/** Why two layouts differ, in words (for the CLI's "created new" line). */
export function layoutDifference(before: string, after: string): string {
  const a = new Map(before.split(' ').map((p) => [p[0]!, p]));
  const b = new Map(after.split(' ').map((p) => [p[0]!, p]));
  const names: Record<string, string> = { t: 'map type', k: 'key size', v: 'value size', n: 'max entries', f: 'flags', K: 'key layout', V: 'value layout' };
  const changed = Object.keys(names).filter((k) => a.get(k) !== b.get(k)).map((k) => names[k]!);
  return changed.length ? `${changed.join(', ')} changed` : 'layout changed';
}

/** Maps that are never carried: read-only data is frozen with the new version's values. */
export function carriable(m: MapSpec): boolean {
  return m.kind !== 'rodata' && m.kind !== 'kconfig' && m.kind !== 'struct_ops';
}
