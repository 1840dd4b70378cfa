/**
 * Writes a compiled module as a relocatable BPF ELF object in libbpf's
 * conventions (through src/elf's writer and src/btf's builder): one section
 * per program under its SEC name, subprograms once each in `.text` (static
 * functions called through R_BPF_64_32 relocations, as clang writes them), BTF-defined `.maps`, `.rodata`/`.data`,
 * `license`, `.BTF` and `.BTF.ext`, and R_BPF_64_64 relocations for every
 * map or global reference.
 */
import { encode } from '../../asm/codec.js';
import { PseudoLoad } from '../../asm/opcodes.js';
import { type CoreRelo, encodeBtfExt } from '../../btf/ext.js';
import { R_BPF_64_32, R_BPF_64_64, R_BPF_64_ABS64, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_PROGBITS, STB_GLOBAL, STB_LOCAL, STT_FUNC, STT_OBJECT, STT_SECTION } from '../../elf/constants.js';
import { type Instruction, slotOffsets } from '../../asm/instruction.js';
import { encodeTsbpfMeta, TSBPF_META_SECTION, type TsbpfMeta } from '../../elf/tsbpf-meta.js';
import { ElfWriter } from '../../elf/writer.js';
import type { CompiledModule } from './compile.js';
import { buildModuleBtf } from './module-btf.js';
import { attachSectionName } from './program-kinds.js';

/** The CO-RE relocation records of a program's instructions (offsets in bytes from its start). */
function coreRelocations(btf: ReturnType<typeof buildModuleBtf>, mod: CompiledModule, p: CompiledModule['programs'][number]): CoreRelo[] {
  const out: CoreRelo[] = [];
  const slots = slotOffsets(p.instructions);
  p.instructions.forEach((ins, i) => {
    if (ins.coreRelocation !== undefined && mod.kernel) {
      const r = mod.kernel.relocations[ins.coreRelocation]!;
      out.push({ insnOff: slots[i]! * 8, typeId: btf.kernelIds.get(r.ref.root)!, accessString: r.accessString, kind: r.ref.kind });
    }
  });
  return out;
}

type Program = CompiledModule['programs'][number];

/** A run of a program's linked instructions written somewhere in the object: its body in its section, or one subprogram in .text. */
interface Part {
  program: Program;
  section: string;
  /** Instruction indexes [from, to) of the linked program. */
  from: number;
  to: number;
  /** Byte offset of the part in its section. */
  base: number;
}

export function writeObject(mod: CompiledModule): Uint8Array {
  const btf = buildModuleBtf(mod);
  const w = new ElfWriter();
  const symbols = new Map<string, number>();
  const slotIndex = new Map(mod.programs.map((p) => [p, slotOffsets(p.instructions)]));
  const slotAt = (p: Program, i: number): number => slotIndex.get(p)![i]!;
  const bytesOf = (part: Part): number => (slotAt(part.program, part.to) - slotAt(part.program, part.from)) * 8;

  // Subprograms go to .text once each (compile gives different code different names), as clang writes static functions.
  const text: Part[] = [];
  const textSlot = new Map<string, number>();
  let textSize = 0;
  for (const p of mod.programs) {
    (p.subprograms ?? []).forEach((sp, i) => {
      if (textSlot.has(sp.name)) return;
      const to = p.subprograms![i + 1]?.start ?? p.instructions.length;
      textSlot.set(sp.name, textSize / 8);
      const part: Part = { program: p, section: '.text', from: sp.start, to, base: textSize };
      text.push(part);
      textSize += bytesOf(part);
    });
  }
  /** Instructions as an object file holds them: an lddw carries only its offset (the relocation names the map, section or function), a call its callee's slot in .text less one. */
  const objectCode = (ins: Instruction[]) => encode(ins.map((x) => {
    if (x.callee !== undefined) {
      if (x.imm64 !== undefined) return { ...x, src: 0, imm: textSlot.get(x.callee)! * 8, imm64: BigInt(textSlot.get(x.callee)! * 8) };
      return { ...x, imm: textSlot.get(x.callee)! - 1 };
    }
    if (x.reference === undefined || x.imm64 === undefined) return x;
    const isValue = x.src === PseudoLoad.MAP_VALUE;
    const offset = isValue ? x.imm64 & 0xffffffffn : 0n;
    return { ...x, src: 0, imm: Number(offset), imm64: offset };
  }));
  const sectionIndex = new Map<string, number>();
  let textSymbol: number | undefined;
  if (text.length) {
    const data = new Uint8Array(textSize);
    for (const part of text) data.set(objectCode(part.program.instructions.slice(part.from, part.to)), part.base);
    const index = w.addSection({ name: '.text', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data, addralign: 8 });
    sectionIndex.set('.text', index);
    textSymbol = w.addSymbol({ name: '.text', section: index, type: STT_SECTION });
    for (const part of text) {
      w.addSymbol({ name: part.program.subprograms!.find((sp) => sp.start === part.from)!.name, section: index, value: part.base, size: bytesOf(part), type: STT_FUNC, binding: STB_LOCAL });
    }
  }

  // Programs of the same section name share one ELF section, one after another, as clang
  // writes them: .BTF.ext names sections, so two sections of one name would be ambiguous.
  const bySection = new Map<string, Program[]>();
  for (const p of mod.programs) bySection.set(p.section, [...(bySection.get(p.section) ?? []), p]);
  const programSymbols = new Map<string, number>();
  const parts: Part[] = [...text];
  for (const [section, progs] of bySection) {
    const bodies = progs.map((p) => p.instructions.slice(0, p.subprograms?.[0]?.start ?? p.instructions.length));
    const codes = bodies.map(objectCode);
    const data = new Uint8Array(codes.reduce((n, c) => n + c.length, 0));
    let base = 0;
    const bases = codes.map((c) => {
      data.set(c, base);
      base += c.length;
      return base - c.length;
    });
    const index = w.addSection({ name: section, type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data, addralign: 8 });
    sectionIndex.set(section, index);
    progs.forEach((p, i) => {
      programSymbols.set(p.name, w.addSymbol({ name: p.name, section: index, value: bases[i]!, size: codes[i]!.length, type: STT_FUNC, binding: STB_GLOBAL }));
      parts.push({ program: p, section, from: 0, to: bodies[i]!.length, base: bases[i]! });
    });
  }

  if (mod.maps.length) {
    const maps = w.addSection({ name: '.maps', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_WRITE, data: new Uint8Array(btf.mapsSize), addralign: 8 });
    for (const m of mod.maps) {
      symbols.set(m.name, w.addSymbol({ name: m.name, section: maps, value: btf.mapOffsets.get(m.name)!, size: btf.mapSizes.get(m.name)!, type: STT_OBJECT, binding: STB_GLOBAL }));
      // A prog array's initial programs (libbpf fills the slots at load): one pointer-sized slot each after the definition.
      const slots = btf.mapOffsets.get(m.name)! + btf.mapSizes.get(m.name)! - 8 * (m.programs?.length ?? 0);
      m.programs?.forEach((name, i) => w.addRelocation(maps, { offset: slots + 8 * i, symbol: programSymbols.get(name)!, type: R_BPF_64_ABS64 }));
    }
  }
  for (const d of mod.data) {
    const index = w.addSection({ name: d.name, type: SHT_PROGBITS, flags: d.name === '.rodata' ? SHF_ALLOC : SHF_ALLOC | SHF_WRITE, data: d.bytes, addralign: 8 });
    symbols.set(d.name, w.addSymbol({ name: d.name, section: index, type: STT_SECTION }));
    for (const v of d.variables) w.addSymbol({ name: v.name, section: index, value: v.offset, size: v.size, type: STT_OBJECT, binding: STB_GLOBAL });
  }
  const license = w.addSection({ name: 'license', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_WRITE, data: new TextEncoder().encode(`${mod.license}\0`), addralign: 1 });
  w.addSymbol({ name: '_license', section: license, size: mod.license.length + 1, type: STT_OBJECT, binding: STB_GLOBAL });

  // Relocations, section by section in the order clang writes them (.text first).
  for (const part of parts) {
    const index = sectionIndex.get(part.section)!;
    let at = part.base;
    for (const ins of part.program.instructions.slice(part.from, part.to)) {
      if (ins.callee !== undefined) {
        // Calls (R_BPF_64_32) and function addresses (R_BPF_64_64) against .text, as clang writes them for static functions.
        w.addRelocation(index, { offset: at, symbol: textSymbol!, type: ins.imm64 !== undefined ? R_BPF_64_64 : R_BPF_64_32 });
      } else if (ins.reference !== undefined && ins.imm64 !== undefined) {
        const sym = symbols.get(ins.reference);
        if (sym === undefined) throw new Error(`program ${part.program.name} refers to unknown map ${ins.reference}`);
        w.addRelocation(index, { offset: at, symbol: sym, type: R_BPF_64_64 });
      }
      at += ins.imm64 !== undefined ? 16 : 8;
    }
  }

  // .BTF.ext records are computed over each linked program, then moved to the part (section and offset) that holds their instruction.
  const sectionNames = [...new Set(parts.map((x) => x.section))];
  const shifted = <R extends { insnOff: number }>(records: (p: Program) => R[]) => sectionNames.map((section) => ({
    section,
    records: parts.filter((x) => x.section === section).flatMap((part) => {
      const from = slotAt(part.program, part.from) * 8;
      const to = slotAt(part.program, part.to) * 8;
      return records(part.program).filter((r) => r.insnOff >= from && r.insnOff < to).map((r) => ({ ...r, insnOff: r.insnOff - from + part.base }));
    }).sort((a, b) => a.insnOff - b.insnOff),
  }));
  const ext = encodeBtfExt({
    funcInfo: shifted((p) => btf.funcInfo(p)),
    lineInfo: shifted((p) => btf.lineInfo(p)).filter((x) => x.records.length > 0),
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
