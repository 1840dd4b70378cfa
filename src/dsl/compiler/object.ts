/**
 * Writes a compiled module as a relocatable BPF ELF object in libbpf's
 * conventions (through src/elf's writer and src/btf's builder): one section
 * per program under its SEC name, BTF-defined `.maps`, `.rodata`/`.data`,
 * `license`, `.BTF` and `.BTF.ext`, and R_BPF_64_64 relocations for every
 * map or global reference.
 */
import { encode } from '../../asm/codec.js';
import { PseudoLoad } from '../../asm/opcodes.js';
import { type CoreRelo, encodeBtfExt } from '../../btf/ext.js';
import { R_BPF_64_64, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_PROGBITS, STB_GLOBAL, STT_FUNC, STT_OBJECT, STT_SECTION } from '../../elf/constants.js';
import { encodeTsbpfMeta, TSBPF_META_SECTION, type TsbpfMeta } from '../../elf/tsbpf-meta.js';
import { ElfWriter } from '../../elf/writer.js';
import type { CompiledModule } from './compile.js';
import { buildModuleBtf } from './module-btf.js';
import { attachSectionName } from './program-kinds.js';

/** The CO-RE relocation records of a program's instructions (offsets in bytes from its start). */
function coreRelocations(btf: ReturnType<typeof buildModuleBtf>, mod: CompiledModule, p: CompiledModule['programs'][number]): CoreRelo[] {
  const out: CoreRelo[] = [];
  let slot = 0;
  for (const ins of p.instructions) {
    if (ins.coreRelocation !== undefined && mod.kernel) {
      const r = mod.kernel.relocations[ins.coreRelocation]!;
      out.push({ insnOff: slot * 8, typeId: btf.kernelIds.get(r.ref.root)!, accessString: r.accessString, kind: r.ref.kind });
    }
    slot += ins.imm64 !== undefined ? 2 : 1;
  }
  return out;
}

export function writeObject(mod: CompiledModule): Uint8Array {
  const btf = buildModuleBtf(mod);
  const w = new ElfWriter();
  const symbols = new Map<string, number>();

  // Programs of the same section name share one ELF section, one after another, as clang
  // writes them: .BTF.ext names sections, so two sections of one name would be ambiguous.
  const bySection = new Map<string, CompiledModule['programs']>();
  for (const p of mod.programs) bySection.set(p.section, [...(bySection.get(p.section) ?? []), p]);
  /** Per program: its section's index and its byte offset there. */
  const placed = new Map<CompiledModule['programs'][number], { index: number; base: number }>();
  for (const [section, progs] of bySection) {
    const codes = progs.map((p) => encode(p.instructions.map((ins) => {
      if (ins.reference === undefined || ins.imm64 === undefined) return ins;
      // In an object file the lddw carries only the offset; the relocation names the map or section.
      const isValue = ins.src === PseudoLoad.MAP_VALUE;
      const offset = isValue ? ins.imm64 & 0xffffffffn : 0n;
      return { ...ins, src: 0, imm: Number(offset), imm64: offset };
    })));
    const data = new Uint8Array(codes.reduce((n, c) => n + c.length, 0));
    let base = 0;
    const bases = codes.map((c) => {
      data.set(c, base);
      base += c.length;
      return base - c.length;
    });
    const index = w.addSection({ name: section, type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data, addralign: 8 });
    progs.forEach((p, i) => {
      w.addSymbol({ name: p.name, section: index, value: bases[i]!, size: codes[i]!.length, type: STT_FUNC, binding: STB_GLOBAL });
      placed.set(p, { index, base: bases[i]! });
    });
  }

  if (mod.maps.length) {
    const maps = w.addSection({ name: '.maps', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_WRITE, data: new Uint8Array(btf.mapsSize), addralign: 8 });
    for (const m of mod.maps) {
      symbols.set(m.name, w.addSymbol({ name: m.name, section: maps, value: btf.mapOffsets.get(m.name)!, size: btf.mapSizes.get(m.name)!, type: STT_OBJECT, binding: STB_GLOBAL }));
    }
  }
  for (const d of mod.data) {
    const index = w.addSection({ name: d.name, type: SHT_PROGBITS, flags: d.name === '.rodata' ? SHF_ALLOC : SHF_ALLOC | SHF_WRITE, data: d.bytes, addralign: 8 });
    symbols.set(d.name, w.addSymbol({ name: d.name, section: index, type: STT_SECTION }));
    for (const v of d.variables) w.addSymbol({ name: v.name, section: index, value: v.offset, size: v.size, type: STT_OBJECT, binding: STB_GLOBAL });
  }
  const license = w.addSection({ name: 'license', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_WRITE, data: new TextEncoder().encode(`${mod.license}\0`), addralign: 1 });
  w.addSymbol({ name: '_license', section: license, size: mod.license.length + 1, type: STT_OBJECT, binding: STB_GLOBAL });

  mod.programs.forEach((p) => {
    const { index, base } = placed.get(p)!;
    let at = base;
    for (const ins of p.instructions) {
      if (ins.reference !== undefined && ins.imm64 !== undefined) {
        const sym = symbols.get(ins.reference);
        if (sym === undefined) throw new Error(`program ${p.name} refers to unknown map ${ins.reference}`);
        w.addRelocation(index, { offset: at, symbol: sym, type: R_BPF_64_64 });
      }
      at += ins.imm64 !== undefined ? 16 : 8;
    }
  });

  // One .BTF.ext record set per section, each program's records moved to where it starts.
  const shifted = <R extends { insnOff: number }>(records: (p: CompiledModule['programs'][number]) => R[]) =>
    [...bySection].map(([section, progs]) => ({
      section,
      records: progs.flatMap((p) => records(p).map((r) => ({ ...r, insnOff: r.insnOff + placed.get(p)!.base }))),
    }));
  const ext = encodeBtfExt({
    funcInfo: shifted((p) => btf.funcInfo(p)),
    lineInfo: shifted((p) => btf.lineInfo(p)).filter((s) => s.records.length > 0),
    coreRelos: shifted((p) => coreRelocations(btf, mod, p)).filter((sec) => sec.records.length > 0),
  }, btf.builder);
  const meta: TsbpfMeta = { programSections: new Map(), pinnedByName: new Set(mod.maps.filter((m) => m.pinByName).map((m) => m.name)) };
  for (const p of mod.programs) {
    const exact = attachSectionName(p.kind, p.target, p.binary);
    if (exact !== p.section) meta.programSections.set(p.name, exact);
  }
  if (meta.programSections.size || meta.pinnedByName.size) w.addSection({ name: TSBPF_META_SECTION, type: SHT_PROGBITS, data: encodeTsbpfMeta(meta), addralign: 1 });
  w.addSection({ name: '.BTF', type: SHT_PROGBITS, data: btf.builder.encode(), addralign: 4 });
  w.addSection({ name: '.BTF.ext', type: SHT_PROGBITS, data: ext, addralign: 4 });
  return w.toBytes();
}
