/**
 * Where CO-RE looks for target types: vmlinux first, then module BTF (only
 * when vmlinux has no candidate, as libbpf does). Candidates share the local
 * type's kind and essential name; the per-BTF essential-name index is built
 * once, on first use.
 */
import { hashBytes, type Btf } from '../btf.js';
import { encodeUtf8 } from '../strings.js';
import { kindsCoreCompat } from './compat.js';
import { essentialName } from './names.js';
import type { BtfType } from '../types.js';

export interface Candidate {
  btf: Btf;
  id: number;
}

const essentialIndexes = new WeakMap<Btf, Map<number, number[]>>();

/** Essential-name length over UTF-8 bytes (same rule as essentialNameLength). */
function essentialEnd(b: Uint8Array, start: number, end: number): number {
  const U = 0x5f;
  for (let i = end - 5; i >= start; i--)
    if (b[i] !== U && b[i + 1] === U && b[i + 2] === U && b[i + 3] === U && b[i + 4] !== U) return i + 1;
  return end;
}

/** Hash of each type's essential name → ids (in id order); built from bytes, nothing decoded. */
function essentialIndex(btf: Btf): Map<number, number[]> {
  let idx = essentialIndexes.get(btf);
  if (idx) return idx;
  const map = new Map<number, number[]>();
  btf.forEachName((id, bytes, start, end) => {
    const h = hashBytes(bytes, start, essentialEnd(bytes, start, end));
    const list = map.get(h);
    if (list) list.push(id);
    else map.set(h, [id]);
  });
  essentialIndexes.set(btf, map);
  return map;
}

export class CoreTarget {
  private readonly cache = new Map<string, Candidate[]>();

  constructor(
    readonly vmlinux: Btf,
    /** Module BTFs, each split on top of `vmlinux`. */
    readonly modules: readonly Btf[] = [],
  ) {}

  /** Target types a local type of this kind and name may relocate to. */
  candidates(local: BtfType): Candidate[] {
    const key = `${local.kind}:${essentialName(local.name)}`;
    let hit = this.cache.get(key);
    if (hit) return hit;
    hit = this.search(this.vmlinux, local);
    if (hit.length === 0) for (const m of this.modules) hit.push(...this.search(m, local));
    this.cache.set(key, hit);
    return hit;
  }

  private search(btf: Btf, local: BtfType): Candidate[] {
    const want = essentialName(local.name);
    const bytes = encodeUtf8(want);
    const ids = essentialIndex(btf).get(hashBytes(bytes, 0, bytes.length)) ?? [];
    const out: Candidate[] = [];
    for (const id of ids) if (kindsCoreCompat(btf.type(id), local) && essentialName(btf.nameOf(id)) === want) out.push({ btf, id });
    return out;
  }
}
