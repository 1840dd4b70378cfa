/**
 * Where CO-RE looks for target types: vmlinux first, then module BTF (only
 * when vmlinux has no candidate, as libbpf does). Candidates share the local
 * type's kind and essential name. The first searches in a BTF scan its names
 * for the wanted prefix (~2 ms over vmlinux); after SCANS_BEFORE_INDEX of
 * them the per-BTF essential-name index is built (~40 ms over vmlinux's
 * ~130k types), once. An object relocates against a handful of kernel types
 * (libbpf-tools' objects: 3 to 6), so a one-shot `tsbpf load` never builds it.
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

const essentialIndexes = new WeakMap<Btf, EssentialIndex>();
/** Searches made by scanning, per BTF. */
const scans = new WeakMap<Btf, number>();
const SCANS_BEFORE_INDEX = 16;

/** Essential-name length over UTF-8 bytes (same rule as essentialNameLength). */
function essentialEnd(b: Uint8Array, start: number, end: number): number {
  const U = 0x5f;
  for (let i = end - 5; i >= start; i--)
    if (b[i] !== U && b[i + 1] === U && b[i + 2] === U && b[i + 3] === U && b[i + 4] !== U) return i + 1;
  return end;
}

/**
 * Each type's essential-name hash → its ids, as a hash table in three typed
 * arrays (bucket starts, type indexes grouped by bucket, each type's hash):
 * vmlinux has ~150k named types, and a Map of small arrays made a one-shot
 * `tsbpf load` spend ~20 MB and most of its garbage collection on it.
 */
interface EssentialIndex {
  firstId: number;
  mask: number;
  /** bucketStart[b] .. bucketStart[b + 1]: the slice of `members` in bucket b. */
  bucketStart: Uint32Array;
  /** Type indexes (id - firstId), in id order within a bucket. */
  members: Uint32Array;
  hashes: Uint32Array;
}

/** Built from bytes, nothing decoded; once per BTF. */
function essentialIndex(btf: Btf): EssentialIndex {
  let idx = essentialIndexes.get(btf);
  if (idx) return idx;
  const count = btf.ownCount;
  const hashes = new Uint32Array(count);
  const isNamed = new Uint8Array(count);
  let size = 1;
  while (size < count) size <<= 1;
  const mask = size - 1;
  const bucketStart = new Uint32Array(size + 1);
  let named = 0;
  btf.forEachName((id, bytes, start, end) => {
    const i = id - btf.firstId;
    const h = hashBytes(bytes, start, essentialEnd(bytes, start, end));
    hashes[i] = h;
    isNamed[i] = 1;
    bucketStart[(h & mask) + 1]!++;
    named++;
  });
  for (let b = 0; b < size; b++) bucketStart[b + 1]! += bucketStart[b]!;
  const members = new Uint32Array(named);
  const fill = bucketStart.slice(0, size);
  for (let i = 0; i < count; i++) if (isNamed[i]) members[fill[hashes[i]! & mask]!++] = i;
  idx = { firstId: btf.firstId, mask, bucketStart, members, hashes };
  essentialIndexes.set(btf, idx);
  return idx;
}

/** The ids whose essential name hashes to `hash`, in id order. */
function idsWithHash(idx: EssentialIndex, hash: number): number[] {
  const b = hash & idx.mask;
  const out: number[] = [];
  for (let k = idx.bucketStart[b]!; k < idx.bucketStart[b + 1]!; k++) {
    const i = idx.members[k]!;
    if (idx.hashes[i] === hash) out.push(idx.firstId + i);
  }
  return out;
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
    const n = scans.get(btf) ?? 0;
    let ids: number[];
    if (n < SCANS_BEFORE_INDEX && !essentialIndexes.has(btf)) {
      scans.set(btf, n + 1);
      ids = btf.idsWithNamePrefix(bytes); // a superset: the essential names are compared below
    } else ids = idsWithHash(essentialIndex(btf), hashBytes(bytes, 0, bytes.length));
    const out: Candidate[] = [];
    for (const id of ids) if (essentialName(btf.nameOf(id)) === want && kindsCoreCompat(btf.type(id), local)) out.push({ btf, id });
    return out;
  }
}
