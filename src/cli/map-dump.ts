/**
 * `tsbpf map dump (id ID | pinned PATH | name NAME) [--json]`: every entry
 * of a map, keys and values decoded through the map's BTF as bpftool does,
 * or as hex bytes when the map has no BTF.
 */
import { parseArgs } from 'node:util';
import { type Btf, parseBtf } from '../btf/index.js';
import { btfBytesById } from '../kernel/btf-bytes.js';
import { listMaps } from '../kernel/enumerate.js';
import { BpfMap } from '../kernel/map.js';
import type { MapInfo } from '../kernel/info.js';
import { type BtfValue, decodeBtfValue, formatPretty, hex } from '../btf/values.js';
import { CliError, printJson } from './output.js';

export const dumpHelp = `  dump      every entry of one map, decoded through its BTF:
              tsbpf map dump id ID | pinned PATH | name NAME [--json]`;

/** Map types whose entries cannot be walked by key. */
const NOT_DUMPABLE = new Set([22, 23, 27, 30, 31]); // queue, stack, ringbuf, bloom filter, user ringbuf

/** The map's own BTF (not vmlinux's), when it has key or value types; undefined means hex. */
export function mapBtf(info: MapInfo): Btf | undefined {
  if (!info.btfId || !(info.btfKeyTypeId || info.btfValueTypeId)) return undefined;
  try {
    const raw = btfBytesById(info.btfId);
    return raw.kernelBtf ? undefined : parseBtf(raw.bytes, { section: `BTF ${info.btfId}` });
  } catch {
    return undefined; // fall back to hex
  }
}

export function openMap(how: string | undefined, what: string | undefined): BpfMap {
  if (!how || what === undefined) throw new CliError('which map? use: id ID | pinned PATH | name NAME', 2);
  switch (how) {
    case 'id': {
      const id = Number(what);
      if (!Number.isInteger(id) || id <= 0) throw new CliError(`bad map id '${what}'`, 2);
      return BpfMap.fromId(id);
    }
    case 'pinned':
      return BpfMap.openPinned(what);
    case 'name': {
      const hits = listMaps().filter((m) => m.name === what);
      if (hits.length === 0) throw new CliError(`no map named '${what}'`);
      if (hits.length > 1) throw new CliError(`${hits.length} maps are named '${what}' (ids ${hits.map((m) => m.id).join(', ')}); use id ID`);
      return BpfMap.fromId(hits[0]!.id);
    }
    default:
      throw new CliError(`unknown map selector '${how}' (use id, pinned or name)`, 2);
  }
}

export async function dump(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (positionals.length !== 2) throw new CliError('usage: tsbpf map dump id ID | pinned PATH | name NAME [--json]', 2);
  using map = openMap(positionals[0], positionals[1]);
  if (NOT_DUMPABLE.has(map.type)) throw new CliError(`map ${map.name || map.info().id} cannot be dumped: its type has no keys to walk`);
  const info = map.info();
  const btf = mapBtf(info);
  const decode = (typeId: number, bytes: Uint8Array): BtfValue => (btf && typeId ? decodeBtfValue(btf, typeId, bytes) : hex(bytes));
  const entries: Record<string, BtfValue>[] = [];
  let key: Uint8Array | undefined;
  for (;;) {
    key = map.nextKey(key);
    if (key === undefined) break;
    // bpftool leaves out keys that have no BTF type (data sections) when it decodes values.
    const entry: Record<string, BtfValue> = btf && !info.btfKeyTypeId ? {} : { key: decode(info.btfKeyTypeId, key) };
    if (map.isPerCpu) {
      const per = map.lookupPerCpu(key);
      if (!per) continue;
      entry.values = per.map((v, cpu) => ({ cpu, value: decode(info.btfValueTypeId, v.subarray(0, map.valueSize)) }));
    } else {
      const v = map.lookup(key);
      if (!v) continue; // deleted while walking
      entry.value = decode(info.btfValueTypeId, v);
    }
    if (values.json) printJson(entry);
    else if (!btf) process.stdout.write(plainEntry(entry));
    else entries.push(entry);
  }
  if (btf && !values.json) process.stdout.write(`${formatPretty(entries)}\n`);
  return 0;
}

/** bpftool's layout for maps without BTF. */
function plainEntry(entry: Record<string, BtfValue>): string {
  if (!entry.values) return `key: ${String(entry.key)}  value: ${String(entry.value)}\n`;
  const per = entry.values as { cpu: number; value: BtfValue }[];
  return `key: ${String(entry.key)}\n${per.map((p) => `value (CPU ${String(p.cpu).padStart(2, '0')}): ${String(p.value)}`).join('\n')}\n`;
}
