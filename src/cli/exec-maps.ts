/**
 * What `tsbpf exec --maps` shows after a run: each map of an object with its
 * non-empty entries (all-zero array slots left out), per-CPU values, queued
 * values and ring/perf buffer records.
 */
import { type InterpMap, PerCpuArrayMap, PerCpuHashMap, PerfEventArrayMap, QueueMap, RingBufMap } from '../interp/index.js';
import { hex } from '../btf/values.js';

export interface MapDump {
  name: string;
  type: string;
  /** key/value pairs as hex; per-CPU kinds give one value per CPU. */
  entries: { key: string; value: string | string[] }[];
  /** Queue/stack elements, ring buffer records, or perf records ("cpu N: hex"). */
  items?: string[];
}

const isZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);

export function dumpMap(name: string, map: InterpMap): MapDump {
  const dump: MapDump = { name, type: map.type, entries: [] };
  if (map instanceof RingBufMap) dump.items = map.drain().map(hex);
  else if (map instanceof PerfEventArrayMap) dump.items = map.drain().map((r) => `cpu ${r.cpu}: ${hex(r.data)}`);
  else if (map instanceof QueueMap) {
    const items: string[] = [];
    for (let v = map.pop(); v; v = map.pop()) items.push(hex(v));
    dump.items = items;
  } else {
    for (const key of map.keys()) {
      if (map instanceof PerCpuArrayMap || map instanceof PerCpuHashMap) {
        const values = map.lookupAll(key) ?? [];
        if (map instanceof PerCpuArrayMap && values.every(isZero)) continue;
        dump.entries.push({ key: hex(key), value: values.map(hex) });
        continue;
      }
      const value = map.lookup(key);
      if (!value || (map.type === 'array' && isZero(value))) continue;
      dump.entries.push({ key: hex(key), value: hex(value) });
    }
  }
  return dump;
}

/** Text lines for a terminal. */
export function formatMapDump(d: MapDump): string[] {
  const lines = [`map ${d.name} (${d.type})${d.entries.length === 0 && !d.items?.length ? ': empty' : ':'}`];
  for (const e of d.entries) lines.push(`  ${e.key} => ${Array.isArray(e.value) ? e.value.map((v, cpu) => `[cpu ${cpu}] ${v}`).join(', ') : e.value}`);
  for (const item of d.items ?? []) lines.push(`  ${item}`);
  return lines;
}
