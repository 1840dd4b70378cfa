/**
 * Externs (`__kconfig`, `__ksym`, kfunc declarations): undefined global
 * symbols described in BTF by an extern VAR or FUNC inside the `.kconfig`
 * or `.ksyms` DATASEC. The .kconfig values are laid out in one map the way
 * libbpf lays them out (largest alignment first, then size, then name), so
 * offsets match between loaders.
 */
import { type Btf, alignOf, sizeOf, skipModsAndTypedefs } from '../btf/index.js';
import { STB_GLOBAL, STB_WEAK } from './constants.js';
import { ElfError } from './errors.js';
import type { ExternSpec, KconfigValueType } from './object-spec.js';
import type { ElfSymbol } from './reader.js';

export const KCONFIG_SECTION = '.kconfig';
export const KSYMS_SECTION = '.ksyms';
/** Largest .kconfig map value accepted (as for data sections: far above what the kernel takes as one value). */
const MAX_KCONFIG_SIZE = 1 << 26;

export interface ExternLayout {
  externs: ExternSpec[];
  /** Size of the .kconfig map value (0 when there are no kconfig externs). */
  kconfigSize: number;
}

/** Finds each undefined symbol's BTF and classifies it. */
export function collectExterns(symbols: readonly ElfSymbol[], btf: Btf | undefined): ExternLayout {
  const undefinedSymbols = symbols.filter((s) => s.index > 0 && s.sectionIndex === 0 && s.name !== '' && (s.binding === STB_GLOBAL || s.binding === STB_WEAK));
  if (undefinedSymbols.length === 0) return { externs: [], kconfigSize: 0 };
  if (!btf) throw new ElfError('E_EXTERN_NO_BTF', `extern '${undefinedSymbols[0]!.name}' needs BTF, but the object has no .BTF`, { section: '.symtab' });
  const sectionOf = externSections(btf);
  const externs: (ExternSpec & { align: number })[] = [];
  for (const sym of undefinedSymbols) {
    const btfId = findExternBtf(btf, sym.name);
    if (btfId === undefined) throw new ElfError('E_EXTERN_BTF', `extern '${sym.name}' has no extern VAR or FUNC in BTF`, { section: '.symtab', offset: sym.index * 24 });
    const section = sectionOf.get(btfId);
    const t = btf.type(btfId);
    const weak = sym.binding === STB_WEAK;
    if (section === KCONFIG_SECTION) {
      if (t.kind !== 'var') throw new ElfError('E_EXTERN_KCONFIG', `kconfig extern '${sym.name}' is not a variable`, { section: KCONFIG_SECTION });
      const shape = kconfigShape(btf, t.type, sym.name);
      externs.push({ name: sym.name, kind: 'kconfig', weak, btfId, typed: true, kconfig: { offset: 0, size: shape.size, valueType: shape.valueType, signed: shape.signed }, align: shape.align });
    } else if (section === KSYMS_SECTION || t.kind === 'func') {
      if (t.kind === 'func') externs.push({ name: sym.name, kind: 'kfunc', weak, btfId, typed: true, align: 0 });
      else {
        const target = btf.type(skipModsAndTypedefs(btf, (t as { type: number }).type));
        externs.push({ name: sym.name, kind: 'ksym', weak, btfId, typed: target.kind !== 'void', align: 0 });
      }
    } else {
      throw new ElfError('E_EXTERN_SECTION', `extern '${sym.name}' is in neither ${KCONFIG_SECTION} nor ${KSYMS_SECTION}`, { section: '.symtab', offset: sym.index * 24 });
    }
  }
  // libbpf's order: kconfig first (alignment descending, size ascending), then ksyms, ties by name.
  const rank = (e: ExternSpec): number => (e.kind === 'kconfig' ? 0 : 1);
  externs.sort((a, b) => rank(a) - rank(b)
    || (a.kind === 'kconfig' && b.kind === 'kconfig' ? b.align - a.align || a.kconfig!.size - b.kconfig!.size : 0)
    || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let off = 0;
  for (const e of externs) {
    if (e.kind !== 'kconfig') continue;
    const align = Math.max(1, e.align);
    off = Math.ceil(off / align) * align;
    e.kconfig!.offset = off;
    off += e.kconfig!.size;
    // One map value holds them all: far below this already, the kernel refuses it.
    if (off > MAX_KCONFIG_SIZE) throw new ElfError('E_EXTERN_KCONFIG', `kconfig extern '${e.name}' ends at byte ${off} of ${KCONFIG_SECTION}, past ${MAX_KCONFIG_SIZE}`, { section: KCONFIG_SECTION });
  }
  return { externs: externs.map(({ align: _align, ...e }) => e), kconfigSize: off };
}

function externSections(btf: Btf): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of [KCONFIG_SECTION, KSYMS_SECTION]) {
    const id = btf.findByName(name, 'datasec');
    if (id === undefined) continue;
    const sec = btf.type(id);
    if (sec.kind !== 'datasec') continue;
    for (const v of sec.vars) out.set(v.type, name);
  }
  return out;
}

function findExternBtf(btf: Btf, name: string): number | undefined {
  for (const id of btf.findAllByName(name)) {
    const t = btf.type(id);
    if ((t.kind === 'var' || t.kind === 'func') && t.linkage === 'extern') return id;
  }
  return undefined;
}

function kconfigShape(btf: Btf, typeId: number, name: string): { valueType: KconfigValueType; size: number; align: number; signed: boolean } {
  const id = skipModsAndTypedefs(btf, typeId);
  const t = btf.type(id);
  const size = sizeOf(btf, id);
  const align = alignOf(btf, id);
  if (t.kind === 'int') {
    if (t.bool) return { valueType: 'bool', size, align, signed: false };
    if (t.char && size === 1) return { valueType: 'char', size, align, signed: t.signed };
    if (![1, 2, 4, 8].includes(size)) throw new ElfError('E_EXTERN_KCONFIG', `kconfig extern '${name}' is a ${size}-byte integer`, { section: KCONFIG_SECTION });
    return { valueType: 'int', size, align, signed: t.signed };
  }
  if (t.kind === 'enum' && t.name === 'libbpf_tristate') return { valueType: 'tristate', size, align, signed: false };
  if (t.kind === 'array') {
    const elem = btf.type(skipModsAndTypedefs(btf, t.type));
    if (elem.kind === 'int' && sizeOf(btf, t.type) === 1) return { valueType: 'char_array', size, align: 1, signed: false };
  }
  throw new ElfError('E_EXTERN_KCONFIG', `kconfig extern '${name}' has unsupported type ${t.kind}`, { section: KCONFIG_SECTION });
}
