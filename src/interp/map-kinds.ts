/**
 * Map kinds by the kernel's type name (the BPF_MAP_TYPE_ suffix, lower
 * case). Register more with `mapKinds.name = (spec) => new MyMap(spec)`.
 */
import { BloomFilterMap } from './bloom-filter.js';
import { LocalStorageMap } from './local-storage.js';
import { LpmTrieMap } from './lpm-trie.js';
import { MapOfMaps } from './map-of-maps.js';
import { ArrayMap, HashMap, type InterpMap, LruHashMap, type MapSpec } from './maps.js';
import { PerfEventArrayMap } from './perf-event-array.js';
import { PerCpuArrayMap, PerCpuHashMap } from './percpu-maps.js';
import { ProgArrayMap } from './prog-array.js';
import { QueueMap, StackMap } from './queue-maps.js';
import { RingBufMap } from './ringbuf.js';
import { RedirectArrayMap, RedirectHashMap } from './redirect-maps.js';
import { StackTraceMap } from './stack-trace-map.js';

export const mapKinds: Record<string, (spec: MapSpec) => InterpMap> = {
  array: (spec) => new ArrayMap(spec),
  hash: (spec) => new HashMap(spec),
  lru_hash: (spec) => new LruHashMap(spec),
  percpu_array: (spec) => new PerCpuArrayMap(spec),
  percpu_hash: (spec) => new PerCpuHashMap(spec),
  queue: (spec) => new QueueMap(spec),
  stack: (spec) => new StackMap(spec),
  ringbuf: (spec) => new RingBufMap(spec),
  prog_array: (spec) => new ProgArrayMap(spec),
  lpm_trie: (spec) => new LpmTrieMap(spec),
  bloom_filter: (spec) => new BloomFilterMap(spec),
  perf_event_array: (spec) => new PerfEventArrayMap(spec),
  array_of_maps: (spec) => new MapOfMaps({ ...spec, type: 'array_of_maps' }),
  hash_of_maps: (spec) => new MapOfMaps({ ...spec, type: 'hash_of_maps' }),
  devmap: (spec) => new RedirectArrayMap(spec),
  cpumap: (spec) => new RedirectArrayMap(spec),
  xskmap: (spec) => new RedirectArrayMap(spec),
  devmap_hash: (spec) => new RedirectHashMap(spec),
  task_storage: (spec) => new LocalStorageMap(spec),
  sk_storage: (spec) => new LocalStorageMap(spec),
  inode_storage: (spec) => new LocalStorageMap(spec),
  cgrp_storage: (spec) => new LocalStorageMap(spec),
  stack_trace: (spec) => new StackTraceMap(spec),
};

/** Makes an in-memory map of a registered kind. */
export function createMap(spec: MapSpec): InterpMap {
  const make = mapKinds[spec.type];
  if (!make) throw new RangeError(`no interpreter support for map type '${spec.type}' (known: ${Object.keys(mapKinds).join(', ')})`);
  return make(spec);
}
