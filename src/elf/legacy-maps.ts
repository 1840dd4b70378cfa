/**
 * Legacy map definitions: `struct bpf_map_def` records in SEC("maps"),
 * one per symbol (type, key_size, value_size, max_entries, map_flags, then
 * optional fields we ignore). libbpf 1.0 dropped them; older objects and
 * other loaders still use them, so they are read as plain definitions.
 */
import { STT_OBJECT, STT_NOTYPE } from './constants.js';
import { ElfError } from './errors.js';
import { OBJ_NAME_MAX } from './map-types.js';
import type { MapSpec } from './object-spec.js';
import type { ElfFile, ElfSection } from './reader.js';

const DEF_SIZE = 20;

export interface LegacyMapDefinition {
  spec: MapSpec;
  offset: number;
}

export function parseLegacyMaps(elf: ElfFile, s: ElfSection): LegacyMapDefinition[] {
  const syms = elf.symbols
    .filter((x) => x.sectionIndex === s.index && x.name && (x.type === STT_OBJECT || x.type === STT_NOTYPE))
    .sort((a, b) => Number(a.value - b.value));
  const view = elf.viewOf(s);
  const le = elf.littleEndian;
  return syms.map((sym, i) => {
    const offset = Number(sym.value);
    const next = i + 1 < syms.length ? Number(syms[i + 1]!.value) : s.size;
    const size = sym.size > 0n ? Number(sym.size) : next - offset;
    if (size < DEF_SIZE || offset + DEF_SIZE > s.size) {
      throw new ElfError('E_MAP_DEFINITION', `legacy map '${sym.name}' is ${size} bytes, shorter than struct bpf_map_def`, { section: s.name, offset });
    }
    const u32 = (k: number): number => view.getUint32(offset + 4 * k, le);
    const spec: MapSpec = {
      name: sym.name, kernelName: sym.name.slice(0, OBJ_NAME_MAX), kind: 'user', type: u32(0), keySize: u32(1), valueSize: u32(2),
      maxEntries: u32(3), flags: u32(4), numaNode: 0, mapExtra: 0n, pinning: 'none', btfKeyTypeId: 0, btfValueTypeId: 0,
      initialValues: [], freeze: false, section: s.name,
    };
    return { spec, offset };
  });
}
