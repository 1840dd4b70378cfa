/**
 * The BTF of a compiled module: integer typedefs with the DSL's names,
 * structs, BTF-defined map definitions in `.maps`, global data sections,
 * one FUNC per program, and the .BTF.ext func_info / line_info whose lines
 * are the TypeScript source (so the verifier log quotes TypeScript).
 */
import { packFuncInfo, packLineInfo } from '../../btf/prog-ext.js';
import { BtfBuilder } from '../../btf/builder.js';
import type { FuncInfo, LineInfo } from '../../btf/ext.js';
import type { CompiledMap, CompiledModule, CompiledProgram } from './compile.js';
import { FD_MAP_KINDS } from './map-kinds.js';
import { type CType, sizeOf } from './ctypes.js';
import { slotOffsets } from '../../asm/instruction.js';
import type { KernelStruct, KernelTypesOutput, KType } from './kernel-types.js';

export interface ModuleBtf {
  builder: BtfBuilder;
  /** Map name → type id of its VAR in .maps. */
  mapVars: Map<string, number>;
  /** Offsets of each map in the .maps section, and the section size. */
  mapOffsets: Map<string, number>;
  /** Size of each map's definition in .maps. */
  mapSizes: Map<string, number>;
  mapsSize: number;
  /** Program name → FUNC type id. */
  funcs: Map<string, number>;
  /** The local BTF type id of each CO-RE relocation's root (kernel struct or enum). */
  kernelIds: Map<object, number>;
  /** Map name → key / value type ids (for BTF-annotated map creation); `.rodata`/`.data` give their DATASEC as value. */
  keyValue: Map<string, { key: number; value: number }>;
  funcInfo(p: CompiledProgram): FuncInfo[];
  lineInfo(p: CompiledProgram): LineInfo[];
}

const C_INT: Record<string, [string, boolean]> = {
  u8: ['unsigned char', false], u16: ['unsigned short', false], u32: ['unsigned int', false], u64: ['unsigned long long', false],
  i8: ['signed char', true], i16: ['short', true], i32: ['int', true], i64: ['long long', true], bool: ['_Bool', false],
  be16: ['unsigned short', false], be32: ['unsigned int', false],
};

/** Context struct each program kind receives (a forward declaration is enough). */
const CTX_STRUCT: Record<string, string | undefined> = {
  xdp: 'xdp_md', tc: '__sk_buff', socket_filter: '__sk_buff', cgroup_skb: '__sk_buff', kprobe: 'pt_regs', kretprobe: 'pt_regs',
  uprobe: 'pt_regs', uretprobe: 'pt_regs', raw_tracepoint: 'bpf_raw_tracepoint_args', perf_event: 'bpf_perf_event_data',
};

export function buildModuleBtf(mod: CompiledModule): ModuleBtf {
  const b = new BtfBuilder();
  const cInts = new Map<string, number>();
  const cInt = (cname: string, size: number, signed: boolean) => {
    let id = cInts.get(cname);
    if (id === undefined) {
      id = cname === '_Bool' ? b.add({ kind: 'int', name: cname, size: 1, signed: false, char: false, bool: true, bitOffset: 0, bits: 8 }) : b.int(cname, size, signed);
      cInts.set(cname, id);
    }
    return id;
  };
  const typedefs = new Map<string, number>();
  const structIds = new Map<string, number>();
  const typeId = (t: CType): number => {
    if (t.kind === 'int') {
      let id = typedefs.get(t.name);
      if (id === undefined) {
        const [cname, signed] = C_INT[t.name] ?? ['unsigned long long', false];
        // A kernel pointer's DSL name (`Ptr<tcp_sock>`) is no C identifier, and the kernel refuses BTF with one.
        id = b.typedef(t.name.replace(/[^A-Za-z0-9_]+/g, '_').replace(/_$/, ''), cInt(cname, t.bits / 8, signed));
        typedefs.set(t.name, id);
      }
      return id;
    }
    // CStr as `char[N]`, as clang writes it: bpftool prints char arrays as strings.
    if (t.kind === 'array') return b.array(t.cstr ? cInt('char', 1, true) : typeId(t.element), t.length, cInt('int', 4, true));
    const known = structIds.get(t.name);
    if (known !== undefined) return known;
    const id = b.reserve();
    structIds.set(t.name, id);
    b.set(id, { kind: 'struct', name: t.name, size: t.size, members: t.fields.map((f) => ({ name: f.name, type: typeId(f.type), bitOffset: f.offset * 8, bitfieldSize: 0 })) });
    return id;
  };
  const intId = cInt('int', 4, true);
  // `int (*name)[N]`: how BTF-defined maps encode numbers.
  const numberPtr = (n: number) => b.ptr(b.array(intId, n, intId));

  const mapVars = new Map<string, number>();
  const mapOffsets = new Map<string, number>();
  const mapSizes = new Map<string, number>();
  const keyValue = new Map<string, { key: number; value: number }>();
  const secVars: Array<{ type: number; offset: number; size: number }> = [];
  let offset = 0;
  /** A BTF map definition struct, as libbpf's __uint/__type/__array macros write it. */
  const mapDef = (m: CompiledMap, withKeyValue: boolean): number => {
    const members: Array<{ name: string; type: number }> = [
      { name: 'type', type: numberPtr(m.mapType) },
      { name: 'max_entries', type: numberPtr(m.maxEntries) },
    ];
    if (m.flags) members.push({ name: 'map_flags', type: numberPtr(m.flags) });
    if (m.mapExtra) members.push({ name: 'map_extra', type: numberPtr(m.mapExtra) });
    if (FD_MAP_KINDS.has(m.kind)) {
      // Slots hold fds (or stack traces): sizes only, as libbpf's objects declare them.
      members.push({ name: 'key_size', type: numberPtr(m.keySize) });
      if (m.inner) members.push({ name: 'values', type: b.array(b.ptr(mapDef(m.inner, false)), 0, intId) });
      // A prog array's programs, as `__array(values, int (void *))` declares them: the slots follow the struct, each an R_BPF_64_ABS64 at its program.
      else if (m.programs?.length) members.push({ name: 'values', type: b.array(b.ptr(b.funcProto(intId, [{ name: '', type: b.ptr(0) }])), 0, intId) });
      else members.push({ name: 'value_size', type: numberPtr(m.valueSize) });
      if (m.event) typeId(m.event);
    } else if (m.key) {
      const key = typeId(m.key);
      const value = typeId(m.value);
      if (withKeyValue) keyValue.set(m.name, { key, value });
      members.push({ name: 'key', type: b.ptr(key) }, { name: 'value', type: b.ptr(value) });
    } else if (m.kind !== 'ringbuf') {
      // Queues, stacks, bloom filters: a value and no key.
      members.push({ name: 'value', type: b.ptr(typeId(m.value)) });
    } else {
      // Ring buffer events have no slot in the map definition; emit their type so tools can decode them.
      typeId(m.value);
    }
    // Pinning by name is recorded in .tsbpf, not here: libbpf would pin at load and then fail
    // `bpftool prog loadall … pinmaps DIR`, whose path differs from its pin root.
    // `values` is a flexible array: it adds nothing to the struct's size.
    const size = members.filter((x) => x.name !== 'values').length * 8;
    return b.struct('', size, members.map((x, i) => ({ name: x.name, type: x.type, bitOffset: i * 64, bitfieldSize: 0 })));
  };
  for (const m of mod.maps) {
    const def = mapDef(m, true);
    const size = (b.get(def) as { size: number }).size + 8 * (m.programs?.length ?? 0);
    mapSizes.set(m.name, size);
    const v = b.variable(m.name, def, 'global');
    for (const tag of m.metricTags ?? []) b.add({ kind: 'decl_tag', name: tag, type: v, componentIdx: -1 });
    mapVars.set(m.name, v);
    mapOffsets.set(m.name, offset);
    secVars.push({ type: v, offset, size });
    offset += size;
  }
  if (mod.maps.length) b.datasec('.maps', offset, secVars);

  for (const d of mod.data) {
    const vars = d.variables.map((v) => ({ type: b.variable(v.name, typeId(v.type), 'global'), offset: v.offset, size: v.size }));
    // As libbpf does for global data maps: key int, value the section, so bpftool prints variables by name.
    keyValue.set(d.name, { key: intId, value: b.datasec(d.name, d.bytes.length, vars) });
  }

  const kernelIds = new Map<object, number>();
  if (mod.kernel) addKernelTypes(b, mod.kernel, kernelIds, (t) => typeId(t), cInt, intId);

  const funcs = new Map<string, number>();
  const ctxTypes = new Map<string, number>();
  const ctxTypeOf = (kind: string): number => {
    let id = ctxTypes.get(kind);
    if (id === undefined) {
      const ctxName = CTX_STRUCT[kind];
      id = ctxName ? b.ptr(b.add({ kind: 'fwd', name: ctxName, union: false })) : b.ptr(0);
      ctxTypes.set(kind, id);
    }
    return id;
  };
  for (const p of mod.programs) {
    const proto = b.funcProto(intId, [{ name: 'ctx', type: ctxTypeOf(p.kind) }]);
    funcs.set(p.name, b.func(p.name, proto, 'global'));
  }
  // Subprograms are static functions, as clang writes `static __noinline` ones: the verifier checks them in their caller's context.
  const subFuncs = new Map<string, number>();
  for (const p of mod.programs) {
    for (const sp of p.subprograms ?? []) {
      if (subFuncs.has(sp.name)) continue;
      const params = sp.params.map((x) => ({ name: x.name, type: x.type === 'ptr' ? b.ptr(0) : x.type === 'ctx' ? ctxTypeOf(p.kind) : typeId(x.type) }));
      subFuncs.set(sp.name, b.func(sp.name, b.funcProto(sp.result ? typeId(sp.result) : 0, params), 'static'));
    }
  }

  return {
    builder: b, mapVars, mapOffsets, mapSizes, mapsSize: offset, funcs, keyValue, kernelIds,
    funcInfo: (p) => {
      const slots = slotOffsets(p.instructions);
      return [{ insnOff: 0, typeId: funcs.get(p.name)! }, ...(p.subprograms ?? []).map((sp) => ({ insnOff: slots[sp.start]! * 8, typeId: subFuncs.get(sp.name)! }))];
    },
    lineInfo: (p) => {
      const out: LineInfo[] = [];
      const starts = new Set((p.subprograms ?? []).map((sp) => sp.start));
      const slots = slotOffsets(p.instructions);
      let last = '';
      p.instructions.forEach((ins, i) => {
        const s = ins.source;
        if (starts.has(i)) last = '';
        if (s) {
          const key = `${s.file}:${s.line}:${s.column}`;
          if (key !== last) {
            out.push({ insnOff: slots[i]! * 8, fileName: s.file, line: s.text ?? '', lineNumber: s.line, column: Math.min(s.column, 0x3ff) });
            last = key;
          }
        }
      });
      // The kernel wants line info to start at the first instruction of each function.
      for (const at of [0, ...(p.subprograms ?? []).map((sp) => slots[sp.start]!)]) {
        if (out.some((r) => r.insnOff === at * 8)) continue;
        const next = out.find((r) => r.insnOff > at * 8) ?? out[out.length - 1];
        if (next) out.push({ ...next, insnOff: at * 8 });
      }
      return out.sort((x, y) => x.insnOff - y.insnOff);
    },
  };
}

/**
 * The local types of kernel structs and enums, as clang writes them for
 * preserve_access_index types: only the members the module reads, at the
 * compiler's local offsets (the loader relocates to the kernel's). Pointers
 * are `void *` (CO-RE checks only that both sides are pointers).
 */
function addKernelTypes(b: BtfBuilder, k: KernelTypesOutput, ids: Map<object, number>, intTypeId: (t: CType) => number, cInt: (name: string, size: number, signed: boolean) => number, intId: number): void {
  const enumIds = new Map<string, number>();
  const enumId = (name: string, size: number, signed: boolean, values: Array<{ name: string; value: number }>) => {
    let id = enumIds.get(name);
    if (id === undefined) {
      id = b.add({ kind: 'enum', name, size, signed, values });
      enumIds.set(name, id);
    }
    return id;
  };
  for (const e of k.enums) {
    ids.set(e, enumId(e.name, e.int.bits / 8, e.int.signed, [...e.used].map(([name, v]) => ({ name, value: Number(BigInt.asIntN(32, v)) }))));
  }
  const structId = (s: KernelStruct): number => {
    const known = ids.get(s);
    if (known !== undefined) return known;
    const id = b.reserve();
    ids.set(s, id);
    const layout = k.layout(s);
    b.set(id, {
      kind: s.union ? 'union' : 'struct', name: s.name, size: layout.size,
      members: [...s.used].map(([name, t]) => ({ name, type: kTypeId(t), bitOffset: layout.offsets.get(name)! * 8, bitfieldSize: 0 })),
    });
    return id;
  };
  const kTypeId = (t: KType): number => {
    switch (t.kind) {
      // A field of a C enum type must be an enum of the same name locally; its enumerators do not matter.
      case 'int': return t.enumName ? enumId(t.enumName, t.int.bits / 8, t.int.signed, [{ name: `${t.enumName}___local`, value: 0 }]) : intTypeId(t.int);
      case 'ptr': return b.ptr(0);
      case 'array': return b.array(t.cstr ? cInt('char', 1, true) : kTypeId(t.element), t.length, intId);
      case 'struct': return structId(t.s);
      case 'opaque': return b.ptr(0);
    }
  };
  for (const s of k.structs) structId(s);
}

/** Packs func_info / line_info records as bpf_prog_load expects them (string offsets resolved by the builder). */
export function packProgramExt(btf: ModuleBtf, p: CompiledProgram): { funcInfo: Uint8Array; lineInfo: Uint8Array } {
  const funcInfo = packFuncInfo(btf.funcInfo(p).map((r) => ({ insn: r.insnOff / 8, typeId: r.typeId })));
  const lineInfo = packLineInfo(
    btf.lineInfo(p).map((r) => ({
      insn: r.insnOff / 8,
      fileNameOff: btf.builder.addString(r.fileName),
      lineOff: btf.builder.addString(r.line),
      lineNumber: r.lineNumber,
      column: r.column,
    })),
  );
  return { funcInfo, lineInfo };
}

export { sizeOf };
