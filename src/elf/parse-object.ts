/**
 * parseObject: a BPF ELF object (as clang or the DSL compiler writes it) to
 * an ObjectSpec, following libbpf's conventions. Pure and deterministic:
 * nothing here depends on the running kernel.
 */
import { decode } from '../asm/codec.js';
import type { Instruction } from '../asm/instruction.js';
import { CALL, LDDW } from '../asm/opcodes.js';
import { AsmError } from '../asm/errors.js';
import { type Btf, type BtfExt, type CoreRelo, parseBtf, parseBtfExt } from '../btf/index.js';
import { parseBtfMaps } from './btf-maps.js';
import { parseLegacyMaps } from './legacy-maps.js';
import { isStructOpsSection, parseStructOps } from './struct-ops.js';
import {
  EM_BPF, SHF_EXECINSTR, SHN_LORESERVE, SHT_NOBITS, SHT_PROGBITS, STB_GLOBAL, STB_LOCAL, STT_FUNC, STT_OBJECT, STT_SECTION, STV_HIDDEN, STV_INTERNAL,
} from './constants.js';
import { ElfError } from './errors.js';
import { decodeTsbpfMeta, TSBPF_META_SECTION } from './tsbpf-meta.js';
import { KCONFIG_SECTION, collectExterns } from './externs.js';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, MAP_TYPE_ARRAY, internalMapName } from './map-types.js';
import type { ExternSpec, MapKind, MapSpec, ObjectSpec, ProgramSpec, VariableSpec } from './object-spec.js';
import { type CodeFunction, type CodeSection, type ResolveRelocation, linkProgram } from './program-linker.js';
import { type ElfFile, type ElfRelocation, type ElfSection, type ElfSymbol, readElf } from './reader.js';
import { sectionProgramType } from './section-types.js';

export interface ParseObjectOptions {
  /** Object name for data map names (libbpf: file name up to the first dot). Default 'obj'. */
  name?: string;
}

const dataKind = (s: ElfSection): MapKind | undefined => {
  const is = (base: string): boolean => s.name === base || s.name.startsWith(`${base}.`);
  if (s.type === SHT_NOBITS) return is('.bss') ? 'bss' : undefined;
  if (s.type !== SHT_PROGBITS || s.size === 0 || (s.flags & SHF_EXECINSTR) !== 0n) return undefined;
  if (is('.data')) return 'data';
  if (is('.rodata')) return 'rodata';
  return undefined;
};

/** Largest data section accepted: far above what the kernel takes as one map value (KMALLOC_MAX_SIZE, 4 MiB on x86). */
const MAX_DATA_SECTION = 1 << 26;

export function parseObject(bytes: Uint8Array, options: ParseObjectOptions = {}): ObjectSpec {
  const elf = readElf(bytes);
  if (elf.header.machine !== EM_BPF && elf.header.machine !== 0) {
    throw new ElfError('E_MACHINE', `ELF machine ${elf.header.machine} is not BPF (${EM_BPF})`, { section: 'header', offset: 18 });
  }
  const name = options.name ?? 'obj';
  const license = readLicense(elf);
  const kernelVersion = readVersion(elf);
  const btfSection = elf.section('.BTF');
  const btf = btfSection ? parseBtf(btfSection.data, { section: '.BTF' }) : undefined;
  const extSection = elf.section('.BTF.ext');
  const ext: BtfExt | undefined = btf && extSection ? parseBtfExt(extSection.data, btf) : undefined;

  const symbolOffsets = new Map<string, number>();
  for (const s of elf.symbols) if (s.name && s.sectionIndex > 0 && s.sectionIndex < SHN_LORESERVE && s.type !== STT_SECTION) symbolOffsets.set(s.name, Number(s.value));

  // Maps: .maps first (DATASEC order), then data sections (section order), then .kconfig.
  const maps: MapSpec[] = [];
  const mapsSection = elf.section('.maps');
  const btfMaps = mapsSection ? parseMapsSection(mapsSection, btf, symbolOffsets) : [];
  const legacySection = elf.sections.find((s) => s.name === 'maps' && s.type === SHT_PROGBITS);
  const legacyMaps = legacySection ? parseLegacyMaps(elf, legacySection) : [];
  maps.push(...legacyMaps.map((m) => m.spec), ...btfMaps.map((m) => m.spec));
  // What an object tsbpf wrote keeps from libbpf's eyes (see tsbpf-meta.ts).
  const metaSection = elf.section(TSBPF_META_SECTION);
  const meta = metaSection ? decodeTsbpfMeta(metaSection.data) : undefined;
  for (const name of meta?.pinnedByName ?? []) {
    const m = btfMaps.find((x) => x.spec.name === name);
    if (!m) throw new ElfError('E_TSBPF_META', `.tsbpf pins map '${name}', which .maps does not define`, { section: TSBPF_META_SECTION });
    m.spec.pinning = 'byName';
  }

  const variables: VariableSpec[] = [];
  const dataMapBySection = new Map<number, MapSpec>();
  for (const s of elf.sections) {
    const kind = dataKind(s);
    if (!kind) continue;
    if (s.size > MAX_DATA_SECTION) throw new ElfError('E_DATA_SIZE', `data section of ${s.size} bytes is too large`, { section: s.name });
    const data = new Uint8Array(s.size);
    if (kind !== 'bss') data.set(s.data);
    const readonly = kind === 'rodata';
    const spec: MapSpec = {
      name: s.name, kernelName: internalMapName(name, s.name), kind, type: MAP_TYPE_ARRAY, keySize: 4, valueSize: s.size, maxEntries: 1,
      flags: (readonly ? BPF_F_RDONLY_PROG : 0) | BPF_F_MMAPABLE, numaNode: 0, mapExtra: 0n, pinning: 'none', btfKeyTypeId: 0,
      btfValueTypeId: btf?.findByName(s.name, 'datasec') ?? 0, initialValues: [], data, freeze: readonly, section: s.name,
    };
    maps.push(spec);
    dataMapBySection.set(s.index, spec);
    for (const sym of elf.symbols) {
      if (sym.sectionIndex !== s.index || sym.type !== STT_OBJECT || !sym.name) continue;
      const offset = Number(sym.value);
      const size = Number(sym.size);
      if (offset + size > s.size) throw new ElfError('E_SYMBOL_BOUNDS', `variable '${sym.name}' [${offset}, +${size}) is outside its section`, { section: s.name, offset });
      variables.push({ name: sym.name, map: s.name, offset, size, btfTypeId: varTypeId(btf, s.name, sym.name), readonly });
    }
  }

  const { externs, kconfigSize } = collectExterns(elf.symbols, btf);
  let kconfigMap: MapSpec | undefined;
  if (kconfigSize > 0) {
    kconfigMap = {
      name: KCONFIG_SECTION, kernelName: internalMapName(name, KCONFIG_SECTION), kind: 'kconfig', type: MAP_TYPE_ARRAY, keySize: 4,
      valueSize: kconfigSize, maxEntries: 1, flags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE, numaNode: 0, mapExtra: 0n, pinning: 'none',
      btfKeyTypeId: 0, btfValueTypeId: btf?.findByName(KCONFIG_SECTION, 'datasec') ?? 0, initialValues: [], data: new Uint8Array(kconfigSize),
      freeze: true, section: KCONFIG_SECTION,
    };
    maps.push(kconfigMap);
  }
  // struct_ops maps come last, as in libbpf.
  for (const s of elf.sections) {
    if (s.type === SHT_PROGBITS && isStructOpsSection(s.name)) maps.push(...parseStructOps(elf, s, btf, symbolOffsets));
  }
  const externByName = new Map(externs.map((e) => [e.name, e]));

  // Code sections and their functions.
  const codeSections = new Map<number, CodeSection>();
  const functions: CodeFunction[] = [];
  for (const s of elf.sections) {
    if (s.type !== SHT_PROGBITS || (s.flags & SHF_EXECINSTR) === 0n || s.size === 0) continue;
    const code = decodeSection(elf, s, ext);
    codeSections.set(s.index, code);
    const syms = elf.symbols.filter((x) => x.sectionIndex === s.index && x.type === STT_FUNC).sort((a, b) => Number(a.value - b.value));
    for (const sym of syms) {
      const startSlot = Number(sym.value) / 8;
      const slots = s.size / 8;
      const next = syms.find((x) => x.value > sym.value);
      const endSlot = sym.size > 0n ? startSlot + Number(sym.size) / 8 : (next ? Number(next.value) : s.size) / 8;
      if (!Number.isInteger(startSlot) || !Number.isInteger(endSlot) || endSlot > slots || startSlot >= endSlot) {
        throw new ElfError('E_FUNCTION_BOUNDS', `function '${sym.name}' [${sym.value}, +${sym.size}) does not fit its section`, { section: s.name, offset: Number(sym.value) });
      }
      if (code.indexAtSlot[startSlot]! < 0) throw new ElfError('E_FUNCTION_BOUNDS', `function '${sym.name}' starts inside an lddw`, { section: s.name, offset: startSlot * 8 });
      functions.push({ name: sym.name, section: code, startSlot, endSlot });
      if (s.name !== '.text' && sym.binding === STB_LOCAL) {
        throw new ElfError('E_STATIC_PROGRAM', `program '${sym.name}' is static; programs must be global functions`, { section: s.name, offset: Number(sym.value) });
      }
    }
  }
  const text = [...codeSections.values()].find((c) => c.name === '.text');
  const subprograms = functions.filter((f) => f.section === text);

  const mapBySymbol = (sym: ElfSymbol, ins: Instruction, where: { section: string; offset: number }): MapSpec => {
    const inMaps = btfMaps.find((m) => m.offset === Number(sym.value) + (sym.type === STT_SECTION ? ins.imm : 0));
    if (!inMaps) throw new ElfError('E_RELOCATION', `relocation against '${sym.name || '.maps'}' does not name a map`, where);
    return inMaps.spec;
  };
  const resolve: ResolveRelocation = (_rel, sym, ins, where) => {
    if (sym.sectionIndex === 0) {
      const ext = externByName.get(sym.name);
      if (!ext) throw new ElfError('E_RELOCATION', `relocation against unknown extern '${sym.name}'`, where);
      if (ins.opcode === CALL) {
        if (ext.kind !== 'kfunc') throw new ElfError('E_RELOCATION', `call of extern '${sym.name}', which is not a kernel function`, where);
        return { kind: 'kfunc', extern: ext.name };
      }
      if (ins.opcode !== LDDW) throw new ElfError('E_RELOCATION', `extern '${sym.name}' used by an instruction that is not lddw`, where);
      if (ext.kind === 'kconfig') return { kind: 'mapValue', map: KCONFIG_SECTION, offset: ext.kconfig!.offset };
      return { kind: 'ksym', extern: ext.name };
    }
    if (ins.opcode !== LDDW) throw new ElfError('E_RELOCATION', `relocation against '${sym.name}' on an instruction that is not lddw`, where);
    if (mapsSection && sym.sectionIndex === mapsSection.index) return { kind: 'map', map: mapBySymbol(sym, ins, where).name };
    if (legacySection && sym.sectionIndex === legacySection.index) {
      const at = Number(sym.value) + (sym.type === STT_SECTION ? ins.imm : 0);
      const m = legacyMaps.find((x) => x.offset === at);
      if (!m) throw new ElfError('E_RELOCATION', `relocation against '${sym.name || 'maps'}' does not name a legacy map`, where);
      return { kind: 'map', map: m.spec.name };
    }
    const data = dataMapBySection.get(sym.sectionIndex);
    if (data) return { kind: 'mapValue', map: data.name, offset: ins.imm + Number(sym.value) };
    const target = elf.sections[sym.sectionIndex];
    throw new ElfError('E_RELOCATION', `relocation against '${sym.name}' in section ${target?.name ?? sym.sectionIndex}, which is neither a map nor data`, where);
  };

  const programs: ProgramSpec[] = [];
  for (const fn of functions) {
    if (fn.section === text) continue;
    // SEC("?name"): same type, not loaded unless asked for.
    const optional = fn.section.name.startsWith('?');
    const kind = sectionProgramType(meta?.programSections.get(fn.name) ?? (optional ? fn.section.name.slice(1) : fn.section.name));
    if (!kind) throw new ElfError('E_SECTION_TYPE', `section '${fn.section.name}' is not a known program type`, { section: fn.section.name });
    const linked = linkProgram(fn, { symbols: elf.symbols, ...(text ? { text } : {}), subprograms, resolve });
    const prog: ProgramSpec = {
      name: fn.name, section: fn.section.name, type: kind.programType, sleepable: kind.sleepable, xdpFrags: kind.xdpFrags, autoload: !optional,
      instructions: linked.instructions, relocations: linked.relocations, funcInfo: linked.funcInfo, lineInfo: linked.lineInfo,
      license, kernelVersion,
    };
    if (kind.attachType) prog.attachType = kind.attachType;
    if (kind.attachTo !== undefined) prog.attachTo = kind.attachTo;
    if (kind.btfName) prog.attachBtf = { name: kind.btfName, kind: kind.btfKind ?? 'func' };
    programs.push(prog);
  }

  // Initial values of map-in-map and prog arrays, from the relocations of .maps.
  if (mapsSection) resolveInitialValues(elf, mapsSection, btfMaps, programs);

  const dataSections = elf.sections.filter((s) => s.name !== '').map((s) => ({ name: s.name, size: s.size }));
  // As libbpf: a global or weak function of restricted visibility (hidden or internal) is static to the verifier.
  const hiddenFunctions = elf.symbols
    .filter((x) => x.type === STT_FUNC && x.binding !== STB_LOCAL && (x.visibility === STV_HIDDEN || x.visibility === STV_INTERNAL))
    .map((x) => x.name);
  return { name, license, kernelVersion, programs, maps, variables, externs: externs as ExternSpec[], ...(btf ? { btf } : {}), dataSections, symbolOffsets, hiddenFunctions };
}

function readLicense(elf: ElfFile): string {
  const s = elf.section('license');
  if (!s) return '';
  const end = s.data.indexOf(0);
  return new TextDecoder().decode(s.data.subarray(0, end < 0 ? s.data.length : end));
}

function readVersion(elf: ElfFile): number {
  const s = elf.section('version');
  if (!s) return 0;
  if (s.data.length !== 4) throw new ElfError('E_VERSION', `version section is ${s.data.length} bytes, not 4`, { section: 'version' });
  return elf.viewOf(s).getUint32(0, elf.littleEndian);
}

function varTypeId(btf: Btf | undefined, section: string, name: string): number {
  if (!btf) return 0;
  const secId = btf.findByName(section, 'datasec');
  if (secId === undefined) return 0;
  const sec = btf.type(secId);
  if (sec.kind !== 'datasec') return 0;
  for (const v of sec.vars) {
    const t = btf.type(v.type);
    if (t.kind === 'var' && t.name === name) return t.type;
  }
  return 0;
}

function parseMapsSection(s: ElfSection, btf: Btf | undefined, symbolOffsets: Map<string, number>) {
  if (!btf) throw new ElfError('E_MAPS_NO_BTF', '.maps needs BTF, but the object has no .BTF', { section: s.name });
  const id = btf.findByName('.maps', 'datasec');
  if (id === undefined) throw new ElfError('E_MAPS_NO_BTF', 'no DATASEC .maps in BTF', { section: s.name });
  const defs = parseBtfMaps(btf, id, symbolOffsets);
  for (const d of defs) {
    if (d.offset + d.size > s.size) throw new ElfError('E_MAP_DEFINITION', `map '${d.spec.name}' is outside .maps`, { section: s.name, offset: d.offset });
  }
  return defs;
}

function resolveInitialValues(elf: ElfFile, s: ElfSection, defs: ReturnType<typeof parseMapsSection>, programs: ProgramSpec[]): void {
  for (const relSection of elf.relocationsFor(s.index)) {
    for (const r of relSection.relocations) {
      const where = { section: relSection.section.name, offset: Number(r.offset) };
      const off = Number(r.offset);
      const def = defs.find((d) => off >= d.offset && off < d.offset + d.size);
      if (!def || def.valuesOffset === undefined || off < def.offset + def.valuesOffset) {
        throw new ElfError('E_MAP_VALUES', 'relocation in .maps outside a map\'s values', where);
      }
      const rel = off - def.offset - def.valuesOffset;
      if (rel % 8 !== 0) throw new ElfError('E_MAP_VALUES', 'misaligned initial value', where);
      const index = rel / 8;
      if (index >= def.spec.maxEntries) throw new ElfError('E_MAP_VALUES', `initial value index ${index} is past max_entries ${def.spec.maxEntries}`, where);
      const sym = elf.symbols[r.symbolIndex]!;
      if (def.spec.inner) {
        const inner = defs.find((d) => d.spec.name === sym.name);
        if (!inner) throw new ElfError('E_MAP_VALUES', `initial value '${sym.name}' is not a map`, where);
        def.spec.initialValues.push({ index, map: sym.name });
      } else {
        if (!programs.some((p) => p.name === sym.name)) throw new ElfError('E_MAP_VALUES', `initial value '${sym.name}' is not a program`, where);
        def.spec.initialValues.push({ index, program: sym.name });
      }
    }
  }
  for (const d of defs) d.spec.initialValues.sort((a, b) => a.index - b.index);
}

function decodeSection(elf: ElfFile, s: ElfSection, ext: BtfExt | undefined): CodeSection {
  if (s.size % 8 !== 0) throw new ElfError('E_CODE_SIZE', `code section size ${s.size} is not a multiple of 8`, { section: s.name });
  let insns: Instruction[];
  try {
    insns = decode(s.data);
  } catch (e) {
    if (e instanceof AsmError) throw new ElfError('E_CODE', e.message, { section: s.name, offset: (e.slot ?? 0) * 8 });
    throw e;
  }
  if (!elf.littleEndian) throw new ElfError('E_BYTE_ORDER', 'big-endian BPF code is not supported', { section: s.name });
  const indexAtSlot = new Int32Array(s.size / 8).fill(-1);
  let slot = 0;
  insns.forEach((ins, i) => {
    indexAtSlot[slot] = i;
    slot += ins.opcode === LDDW ? 2 : 1;
  });
  const relocations = new Map<number, ElfRelocation>();
  for (const rs of elf.relocationsFor(s.index)) {
    for (const r of rs.relocations) {
      const off = Number(r.offset);
      if (off % 8 !== 0 || off >= s.size || indexAtSlot[off / 8]! < 0) {
        throw new ElfError('E_RELOCATION_OFFSET', `relocation at 0x${off.toString(16)} is not at an instruction of ${s.name}`, { section: rs.section.name, offset: off });
      }
      relocations.set(off / 8, r);
    }
  }
  const pick = <T extends { insnOff: number }>(list: { section: string; records: T[] }[] | undefined): T[] =>
    list?.filter((x) => x.section === s.name).flatMap((x) => x.records) ?? [];
  const coreRelos = new Map<number, CoreRelo[]>();
  for (const c of pick(ext?.coreRelos)) {
    if (c.insnOff % 8 !== 0 || c.insnOff >= s.size) throw new ElfError('E_CORE_OFFSET', `CO-RE relocation at 0x${c.insnOff.toString(16)} is outside ${s.name}`, { section: '.BTF.ext' });
    const list = coreRelos.get(c.insnOff / 8) ?? [];
    list.push(c);
    coreRelos.set(c.insnOff / 8, list);
  }
  return { index: s.index, name: s.name, insns, indexAtSlot, relocations, funcInfo: pick(ext?.funcInfo), lineInfo: pick(ext?.lineInfo), coreRelos };
}

