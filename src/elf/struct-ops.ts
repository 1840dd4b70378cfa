/**
 * struct_ops: variables in SEC(".struct_ops") / SEC(".struct_ops.link")
 * are kernel structs (tcp_congestion_ops, ...) implemented in BPF. Each one
 * becomes a STRUCT_OPS map; its function-pointer members point (through
 * R_BPF_64_ABS64 relocations) at SEC("struct_ops/...") programs, and its
 * other members are data copied into the kernel's layout at load.
 */
import { type Btf, skipModsAndTypedefs, sizeOf } from '../btf/index.js';
import { ElfError } from './errors.js';
import { OBJ_NAME_MAX } from './map-types.js';
import type { MapSpec } from './object-spec.js';
import type { ElfFile, ElfSection } from './reader.js';

export const MAP_TYPE_STRUCT_OPS = 26;
/** BPF_F_LINK: a struct_ops map attached through a link. */
export const BPF_F_LINK = 1 << 13;

export const isStructOpsSection = (name: string): boolean => name === '.struct_ops' || name === '.struct_ops.link';

export function parseStructOps(elf: ElfFile, s: ElfSection, btf: Btf | undefined, symbolOffsets: Map<string, number>): MapSpec[] {
  if (!btf) throw new ElfError('E_STRUCT_OPS', `${s.name} needs BTF, but the object has no .BTF`, { section: s.name });
  const secId = btf.findByName(s.name, 'datasec');
  const sec = secId === undefined ? undefined : btf.type(secId);
  if (!sec || sec.kind !== 'datasec') throw new ElfError('E_STRUCT_OPS', `no DATASEC ${s.name} in BTF`, { section: s.name });
  const out: MapSpec[] = [];
  const relocs = elf.relocationsFor(s.index).flatMap((r) => r.relocations);
  for (const v of sec.vars) {
    const vt = btf.type(v.type);
    if (vt.kind !== 'var') continue;
    const offset = symbolOffsets.get(vt.name) ?? v.offset;
    const typeId = skipModsAndTypedefs(btf, vt.type);
    const st = btf.type(typeId);
    if (st.kind !== 'struct') throw new ElfError('E_STRUCT_OPS', `struct_ops '${vt.name}' is a ${st.kind}, not a struct`, { section: s.name, offset });
    const size = sizeOf(btf, typeId);
    if (offset + size > s.data.length) throw new ElfError('E_STRUCT_OPS', `struct_ops '${vt.name}' is outside its section`, { section: s.name, offset });
    const programs: { member: string; program: string }[] = [];
    for (const r of relocs) {
      const at = Number(r.offset) - offset;
      if (at < 0 || at >= size) continue;
      const member = st.members.find((m) => m.bitOffset === at * 8);
      const sym = elf.symbols[r.symbolIndex]!;
      if (!member) throw new ElfError('E_STRUCT_OPS', `relocation inside struct_ops '${vt.name}' is not at a member`, { section: s.name, offset: Number(r.offset) });
      programs.push({ member: member.name, program: sym.name });
    }
    out.push({
      name: vt.name, kernelName: vt.name.slice(0, OBJ_NAME_MAX), kind: 'struct_ops', type: MAP_TYPE_STRUCT_OPS, keySize: 4, valueSize: 0,
      maxEntries: 1, flags: s.name === '.struct_ops.link' ? BPF_F_LINK : 0, numaNode: 0, mapExtra: 0n, pinning: 'none', btfKeyTypeId: 0,
      btfValueTypeId: 0, initialValues: [], freeze: false, section: s.name,
      structOps: { typeName: st.name, localTypeId: typeId, data: s.data.slice(offset, offset + size), programs },
    });
  }
  return out;
}
