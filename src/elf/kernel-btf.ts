/**
 * The object's BTF as the kernel must see it. clang leaves DATASEC sizes
 * and variable offsets at 0 (the ELF knows them) and marks externs with a
 * linkage the kernel rejects; libbpf fixes both before BPF_BTF_LOAD and so
 * do we: sizes from sections, offsets from symbols, .kconfig laid out like
 * its map, .ksyms entries turned into plain 4-byte variables.
 *
 * Most objects need only the DATASEC sizes and offsets: those are written
 * into a copy of the bytes, in place (a `tsbpf load` decoded and encoded
 * every type for that: 4-12 ms of a libbpf-tools object's ~420 types). The
 * rest (externs, hidden functions) goes through the BTF builder; both ways
 * give the same bytes where both apply (test/elf/kconfig-btf.test.ts).
 */
import { BtfBuilder, type Btf, type DatasecType, type DatasecVar, type FuncProtoType, type NewType } from '../btf/index.js';
import { KCONFIG_SECTION, KSYMS_SECTION } from './externs.js';
import type { ObjectSpec } from './object-spec.js';

/** Name libbpf gives the stand-in variable for kfunc entries of .ksyms. */
const DUMMY_KSYM = 'dummy_ksym';

export function kernelBtfBytes(spec: ObjectSpec): Uint8Array | undefined {
  const btf = spec.btf;
  if (!btf) return undefined;
  return datasecsFixedInPlace(spec, btf) ?? rebuiltKernelBtf(spec);
}

const KIND_DATASEC = 15;
const DATASEC_HEADER = 12;
const SECINFO_SIZE = 12;

/** The section's vars as the kernel wants them: offsets from the symbols, in offset order (as rebuiltKernelBtf sets them). */
function placedVars(spec: ObjectSpec, btf: Btf, t: DatasecType): DatasecVar[] {
  const vars = t.vars.map((v) => ({ ...v }));
  for (const v of vars) {
    const vt = btf.type(v.type);
    if (vt.kind === 'var' || vt.kind === 'func') v.offset = spec.symbolOffsets.get(vt.name) ?? v.offset;
  }
  return vars.sort((x, y) => x.offset - y.offset);
}

/** The BTF with only DATASEC sizes and var offsets set, written into a copy; undefined when more must change (externs, hidden functions). */
function datasecsFixedInPlace(spec: ObjectSpec, btf: Btf): Uint8Array | undefined {
  if (spec.hiddenFunctions.length > 0 || btf.base) return undefined;
  const sectionSize = new Map(spec.dataSections.map((s) => [s.name, s.size]));
  const out = btf.bytes.slice();
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const le = btf.littleEndian;
  for (let id = btf.firstId; id < btf.typeCount; id++) {
    if (btf.kindNumber(id) !== KIND_DATASEC) continue;
    const t = btf.type(id) as DatasecType;
    if (t.name === KCONFIG_SECTION || t.name === KSYMS_SECTION) return undefined;
    const at = btf.recordOffset(id);
    v.setUint32(at + 8, sectionSize.get(t.name) ?? t.size, le);
    placedVars(spec, btf, t).forEach((x, i) => {
      const o = at + DATASEC_HEADER + i * SECINFO_SIZE;
      v.setUint32(o, x.type, le);
      v.setUint32(o + 4, x.offset, le);
      v.setUint32(o + 8, x.size, le);
    });
  }
  return out;
}

/** The BTF fixed up through the builder: every case (exported for the test that both ways agree). */
export function rebuiltKernelBtf(spec: ObjectSpec): Uint8Array | undefined {
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
