/**
 * `module show`: a module's programs and maps, and each map's entries
 * decoded through the types of the module's own object (its BTF), as
 * `tsbpf map dump` and bpftool print them. Per-CPU integer values are summed.
 */
import { type BtfValue, decodeBtfValue, hex } from '../btf/values.js';
import type { Btf } from '../btf/index.js';
import type { MapSpec } from '../elf/object-spec.js';
import type { BpfMap } from '../kernel/map.js';
import type { LiveModule } from './engine.js';
import type { ModuleInfo } from './protocol.js';

export interface MapContents {
  name: string;
  entries: Array<{ key?: BtfValue; value: BtfValue }>;
  /** More entries than were shown. */
  truncated: boolean;
  /** Why the map has no entries to show (ring buffers, prog arrays...). */
  note?: string;
}

/** Map types that cannot be walked by key, or whose values are fds. */
const NOT_DUMPABLE: Record<number, string> = { 3: 'a prog array', 4: 'a perf event array', 12: 'a map of maps', 13: 'a map of maps', 22: 'a queue', 23: 'a stack', 27: 'a ring buffer', 30: 'a bloom filter', 31: 'a user ring buffer' };

export function mapValueType(spec: { btf?: Btf }, m: MapSpec): number {
  if (m.btfValueTypeId || !spec.btf) return m.btfValueTypeId;
  return m.kind === 'data' || m.kind === 'bss' || m.kind === 'rodata' || m.kind === 'kconfig' ? spec.btf.findByName(m.section, 'datasec') ?? 0 : 0;
}

export function dumpMap(mod: LiveModule, name: string, limit: number): MapContents {
  const map = mod.maps.get(name)!;
  const m = mod.spec.maps.find((x) => x.name === name);
  const note = NOT_DUMPABLE[map.type];
  if (note) return { name, entries: [], truncated: false, note: `${note} has no entries to walk` };
  const btf = mod.spec.btf;
  const keyType = m?.btfKeyTypeId ?? 0;
  const valueType = m ? mapValueType(mod.spec, m) : 0;
  const decode = (typeId: number, bytes: Uint8Array): BtfValue => (btf && typeId ? decodeBtfValue(btf, typeId, bytes) : hex(bytes));
  const entries: MapContents['entries'] = [];
  let key: Uint8Array | undefined;
  let truncated = false;
  for (;;) {
    key = map.nextKey(key);
    if (key === undefined) break;
    if (entries.length >= limit) {
      truncated = true;
      break;
    }
    const value = readValue(map, key);
    if (!value) continue; // deleted while walking
    entries.push({ ...(keyType || !btf ? { key: decode(keyType, key) } : {}), value: decode(valueType, value) });
  }
  return { name, entries, truncated };
}

/** A value; per-CPU values are added up when every byte group is an integer of the value's size, else the first CPU's. */
export function readValue(map: BpfMap, key: Uint8Array): Uint8Array | undefined {
  if (!map.isPerCpu) return map.lookup(key);
  const parts = map.lookupPerCpu(key);
  if (!parts) return undefined;
  const size = map.valueSize;
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return parts[0]!.subarray(0, size);
  let sum = 0n;
  for (const p of parts) sum += readUint(p, size);
  const out = new Uint8Array(size);
  const w = BigInt.asUintN(size * 8, sum);
  for (let i = 0; i < size; i++) out[i] = Number((w >> BigInt(8 * i)) & 0xffn);
  return out;
}

export function readUint(bytes: Uint8Array, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] ?? 0);
  return v;
}

export function showModule(info: ModuleInfo, mod: LiveModule, limit = 256): ModuleInfo & { contents: MapContents[] } {
  return { ...info, contents: [...mod.maps.keys()].map((name) => dumpMap(mod, name, limit)) };
}
