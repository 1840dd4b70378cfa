/**
 * The kinds of map a module declares and what user space may do with each.
 * Free of ts-morph: the CLI's cached `tsbpf run` reads it without loading TypeScript.
 */
import type { HistogramKind } from './histogram-model.js';

export type MapKind =
  | 'hash' | 'array' | 'percpu_hash' | 'percpu_array' | 'lru_hash' | 'ringbuf' | HistogramKind
  | 'lpm_trie' | 'queue' | 'stack' | 'bloom_filter' | 'perf_event_array' | 'prog_array' | 'stack_trace'
  | 'devmap' | 'devmap_hash' | 'cpumap' | 'xskmap' | 'array_of_maps' | 'hash_of_maps' | 'task_storage' | 'sk_storage' | 'inode_storage' | 'cgrp_storage';

/** Maps whose slots hold kernel objects by fd (programs, perf buffers, devices, maps): their BTF gives sizes, not types. */
export const FD_MAP_KINDS: ReadonlySet<MapKind> = new Set(['perf_event_array', 'prog_array', 'devmap', 'devmap_hash', 'cpumap', 'xskmap', 'array_of_maps', 'hash_of_maps', 'stack_trace']);
/** Maps a program reads and writes with lookup/update/delete/increment. */
export const KEY_VALUE_KINDS: ReadonlySet<MapKind> = new Set(['hash', 'array', 'percpu_hash', 'percpu_array', 'lru_hash', 'lpm_trie']);
/** Maps whose values a delete or update may free (a reference to one ends there); array elements live as long as the map. */
export const freesValues = (kind: MapKind): boolean => kind === 'hash' || kind === 'percpu_hash' || kind === 'lru_hash';
/** Maps bpf_for_each_map_elem walks (the kernel's map_for_each_callback). */
export const FOR_EACH_KINDS: ReadonlySet<MapKind> = new Set(['hash', 'array', 'percpu_hash', 'percpu_array', 'lru_hash']);
/** Maps whose values may hold a bpf_spin_lock (the kernel's map_check_btf). */
export const SPIN_LOCK_KINDS: ReadonlySet<MapKind> = new Set(['hash', 'array', 'task_storage', 'sk_storage', 'inode_storage', 'cgrp_storage']);
/** Maps user space dumps as key/value pairs (at exit, in tests). */
export const isDumpable = (kind: MapKind): boolean => KEY_VALUE_KINDS.has(kind) || kind === 'log2hist' || kind === 'linearhist';
