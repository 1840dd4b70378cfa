/**
 * Building CO-RE access strings the way clang does, for compilers that emit
 * relocations (the DSL): `task_struct` + ['real_parent'] → "0:95". Named
 * members are found through anonymous structs/unions (each contributes its
 * index), numbers index arrays.
 */
import type { Btf } from '../btf.js';
import { BtfError } from '../errors.js';
import { sizeOf, skipModsAndTypedefs } from '../navigate.js';

export interface FieldAccess {
  /** For the .BTF.ext record, e.g. "0:2:0:1". */
  accessString: string;
  /** Bit offset from the start of the root type. */
  bitOffset: number;
  /** The accessed field's type. */
  typeId: number;
  /** Non-zero for a bitfield. */
  bitfieldSize: number;
}

const MAX_ANON_DEPTH = 32;

/** Finds `name` in a struct/union, descending into anonymous members; the index path to it. */
function findMember(btf: Btf, id: number, name: string, depth = 0): { path: number[]; bitOffset: number; typeId: number; bitfieldSize: number } | undefined {
  const t = btf.type(skipModsAndTypedefs(btf, id));
  if ((t.kind !== 'struct' && t.kind !== 'union') || depth > MAX_ANON_DEPTH) return undefined;
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i]!;
    if (m.name === name) return { path: [i], bitOffset: m.bitOffset, typeId: m.type, bitfieldSize: m.bitfieldSize };
  }
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i]!;
    if (m.name !== '') continue;
    const inner = findMember(btf, m.type, name, depth + 1);
    if (inner) return { ...inner, path: [i, ...inner.path], bitOffset: m.bitOffset + inner.bitOffset };
  }
  return undefined;
}

/**
 * The access string and layout of `root` followed by `path` (member names and
 * array indexes), starting like clang with the root's own index 0.
 */
export function fieldAccess(btf: Btf, root: number, path: ReadonlyArray<string | number>): FieldAccess {
  const raw: number[] = [0];
  let id = root;
  let bitOffset = 0;
  let bitfieldSize = 0;
  const where = () => `${btf.nameOf(root) || `[${root}]`}${path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}`;
  for (const step of path) {
    if (bitfieldSize) throw new BtfError('BAD_ACCESS', `${where()}: cannot go inside a bitfield`, { section: btf.section, typeId: id });
    if (typeof step === 'number') {
      const aid = skipModsAndTypedefs(btf, id);
      const a = btf.type(aid);
      if (a.kind !== 'array') throw new BtfError('BAD_ACCESS', `${where()}: [${step}] indexes a ${a.kind}, not an array`, { section: btf.section, typeId: aid });
      if (!Number.isInteger(step) || step < 0 || (a.nelems > 0 && step >= a.nelems))
        throw new BtfError('BAD_ACCESS', `${where()}: index ${step} out of bounds (${a.nelems} elements)`, { section: btf.section, typeId: aid });
      raw.push(step);
      bitOffset += step * sizeOf(btf, a.type) * 8;
      id = a.type;
    } else {
      const found = findMember(btf, id, step);
      if (!found) throw new BtfError('BAD_ACCESS', `${where()}: no member '${step}'`, { section: btf.section, typeId: skipModsAndTypedefs(btf, id) });
      raw.push(...found.path);
      bitOffset += found.bitOffset;
      bitfieldSize = found.bitfieldSize;
      id = found.typeId;
    }
  }
  return { accessString: raw.join(':'), bitOffset, typeId: id, bitfieldSize };
}
