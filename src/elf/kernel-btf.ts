/**
 * The object's BTF as the kernel must see it. clang leaves DATASEC sizes
 * and variable offsets at 0 (the ELF knows them) and marks externs with a
 * linkage the kernel rejects; libbpf fixes both before BPF_BTF_LOAD and so
 * do we: sizes from sections, offsets from symbols, .kconfig laid out like
 * its map, .ksyms entries turned into plain 4-byte variables.
 */
import { BtfBuilder, type DatasecVar, type FuncProtoType, type NewType } from '../btf/index.js';
import { KCONFIG_SECTION, KSYMS_SECTION } from './externs.js';
import type { ObjectSpec } from './object-spec.js';

/** Name libbpf gives the stand-in variable for kfunc entries of .ksyms. */
const DUMMY_KSYM = 'dummy_ksym';

export function kernelBtfBytes(spec: ObjectSpec): Uint8Array | undefined {
  const btf = spec.btf;
  if (!btf) return undefined;
  const b = BtfBuilder.from(btf);
  const sectionSize = new Map(spec.dataSections.map((s) => [s.name, s.size]));
  const externs = new Map(spec.externs.map((e) => [e.name, e]));
  let intId: number | undefined;
  let dummyVarId: number | undefined;
  const fourByteInt = (): number => {
    if (intId !== undefined) return intId;
    for (let id = btf.firstId; id < btf.typeCount; id++) {
      const t = btf.type(id);
      if (t.kind === 'int' && t.size === 4 && t.bits === 32 && !t.bool && !t.char) return (intId = id);
    }
    return (intId = b.int('int', 4, true));
  };

  const hidden = new Set(spec.hiddenFunctions);
  for (let id = btf.firstId; id < btf.typeCount; id++) {
    const t = btf.type(id);
    if (t.kind === 'func' && t.linkage === 'global' && hidden.has(t.name)) b.set(id, { ...t, linkage: 'static' });
    if (t.kind !== 'datasec') continue;
    const vars: DatasecVar[] = t.vars.map((v) => ({ ...v }));
    let size = t.size;
    if (t.name === KCONFIG_SECTION) {
      for (const v of vars) {
        const vt = b.get(v.type);
        if (vt?.kind !== 'var') continue;
        const ext = externs.get(vt.name);
        if (ext?.kconfig) v.offset = ext.kconfig.offset;
        b.set(v.type, { ...vt, linkage: 'global' });
      }
      size = spec.maps.find((m) => m.kind === 'kconfig')?.valueSize ?? size;
    } else if (t.name === KSYMS_SECTION) {
      let off = 0;
      for (const v of vars) {
        const vt = b.get(v.type);
        if (vt?.kind === 'func') {
          if (dummyVarId === undefined) dummyVarId = b.variable(DUMMY_KSYM, fourByteInt(), 'global');
          // The kernel wants named parameters in every FUNC's prototype.
          const proto = b.get(vt.type);
          if (proto?.kind === 'func_proto' && proto.params.some((p) => p.name === '')) {
            b.set(vt.type, { ...proto, params: proto.params.map((p) => (p.name === '' && p.type !== 0 ? { ...p, name: DUMMY_KSYM } : p)) } as FuncProtoType);
          }
          b.set(v.type, { ...vt, linkage: 'global' });
          v.type = dummyVarId;
        } else if (vt?.kind === 'var') {
          b.set(v.type, { ...vt, type: fourByteInt(), linkage: 'global' });
        }
        v.offset = off;
        v.size = 4;
        off += 4;
      }
      size = off;
    } else {
      size = sectionSize.get(t.name) ?? size;
      for (const v of vars) {
        const vt = b.get(v.type);
        if (vt?.kind === 'var' || vt?.kind === 'func') v.offset = spec.symbolOffsets.get(vt.name) ?? v.offset;
      }
    }
    vars.sort((x, y) => x.offset - y.offset);
    b.set(id, { ...t, size, vars } as NewType);
  }
  return b.encode();
}
