/**
 * ELF64 reader: header, section headers, string tables, symbols and
 * relocation sections, in either byte order. Every offset, size and count
 * taken from the file is checked against the buffer before it is used; a bad
 * object is an ElfError naming the section and offset.
 */
import {
  ELF_HEADER_SIZE, ELF_MAGIC, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, REL_SIZE, RELA_SIZE, SECTION_HEADER_SIZE,
  SHN_LORESERVE, SHN_XINDEX, SHT_NOBITS, SHT_NULL, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX, SYMBOL_SIZE,
} from './constants.js';
import { ElfError } from './errors.js';

export interface ElfHeader {
  littleEndian: boolean;
  osabi: number;
  abiVersion: number;
  type: number;
  machine: number;
  version: number;
  entry: bigint;
  flags: number;
  /** Index of the section-name string table. */
  shstrndx: number;
}

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  /** File offset of the contents (0 for SHT_NOBITS and SHT_NULL). */
  offset: number;
  /** Size in memory; for SHT_NOBITS the file holds no bytes. */
  size: number;
  link: number;
  info: number;
  addralign: bigint;
  entsize: number;
  /** The bytes in the file (empty for SHT_NOBITS), a view into the input. */
  data: Uint8Array;
}

export interface ElfSymbol {
  /** Index in the symbol table. */
  index: number;
  name: string;
  value: bigint;
  size: bigint;
  /** STT_* */
  type: number;
  /** STB_* */
  binding: number;
  /** STV_* */
  visibility: number;
  /** Raw st_other. */
  other: number;
  /** Section index, with SHN_XINDEX resolved through SHT_SYMTAB_SHNDX. */
  sectionIndex: number;
}

export interface ElfRelocation {
  /** Offset in the target section. */
  offset: bigint;
  symbolIndex: number;
  type: number;
  /** Explicit addend of SHT_RELA entries; undefined for SHT_REL. */
  addend?: bigint;
}

export interface ElfRelocationSection {
  section: ElfSection;
  /** Index of the section the relocations apply to (sh_info). */
  targetIndex: number;
  /** Index of the symbol table they refer to (sh_link). */
  symtabIndex: number;
  relocations: ElfRelocation[];
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A parsed ELF64 file. All parsing happens in the constructor (`readElf`). */
export class ElfFile {
  readonly header: ElfHeader;
  readonly sections: ElfSection[];
  /** Symbols of the (first) SHT_SYMTAB, index 0 included. */
  readonly symbols: ElfSymbol[];
  readonly relocationSections: ElfRelocationSection[];
  readonly #view: DataView;
  readonly #le: boolean;

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.header = this.#readHeader();
    this.#le = this.header.littleEndian;
    this.sections = this.#readSections();
    this.symbols = this.#readSymbols();
    this.relocationSections = this.#readRelocations();
  }

  get littleEndian(): boolean {
    return this.#le;
  }

  /** The first section with this name. */
  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** Relocations that apply to section `index` (from every REL/RELA section targeting it). */
  relocationsFor(index: number): ElfRelocationSection[] {
    return this.relocationSections.filter((r) => r.targetIndex === index);
  }

  /** A DataView over one section's contents, in file order. */
  viewOf(section: ElfSection): DataView {
    return new DataView(section.data.buffer, section.data.byteOffset, section.data.byteLength);
  }

  /** Reads a NUL-terminated string at `offset` of the string table `strtab`. */
  stringAt(strtab: ElfSection, offset: number, what = 'string'): string {
    if (strtab.type !== SHT_STRTAB) {
      throw new ElfError('E_STRTAB_TYPE', `${what} refers to a string table that is not SHT_STRTAB`, { section: strtab.name || `#${strtab.index}` });
    }
    const data = strtab.data;
    if (offset >= data.length) {
      throw new ElfError('E_STRING_BOUNDS', `${what}: string offset ${offset} is past the end of the table (${data.length} bytes)`, { section: strtab.name || `#${strtab.index}`, offset });
    }
    const end = data.indexOf(0, offset);
    if (end < 0) throw new ElfError('E_STRING_UNTERMINATED', `${what}: string is not NUL-terminated`, { section: strtab.name || `#${strtab.index}`, offset });
    return utf8.decode(data.subarray(offset, end));
  }

  #u16(at: number): number {
    return this.#view.getUint16(at, this.#le);
  }
  #u32(at: number): number {
    return this.#view.getUint32(at, this.#le);
  }
  #u64(at: number): bigint {
    return this.#view.getBigUint64(at, this.#le);
  }

  #readHeader(): ElfHeader {
    const b = this.bytes;
    if (b.length < ELF_HEADER_SIZE) throw new ElfError('E_TRUNCATED', `file is ${b.length} bytes, shorter than an ELF64 header`, { section: 'header', offset: 0 });
    for (let i = 0; i < 4; i++) {
      if (b[i] !== ELF_MAGIC[i]) throw new ElfError('E_MAGIC', 'not an ELF file (bad magic)', { section: 'header', offset: i });
    }
    if (b[4] !== ELFCLASS64) throw new ElfError('E_CLASS', `ELF class ${b[4]} is not ELFCLASS64`, { section: 'header', offset: 4 });
    if (b[5] !== ELFDATA2LSB && b[5] !== ELFDATA2MSB) throw new ElfError('E_DATA', `unknown ELF data encoding ${b[5]}`, { section: 'header', offset: 5 });
    const le = b[5] === ELFDATA2LSB;
    const v = this.#view;
    const shentsize = v.getUint16(58, le);
    if (shentsize !== SECTION_HEADER_SIZE && v.getUint16(60, le) !== 0) {
      throw new ElfError('E_SHENTSIZE', `section header size ${shentsize} is not ${SECTION_HEADER_SIZE}`, { section: 'header', offset: 58 });
    }
    return {
      littleEndian: le,
      osabi: b[7]!,
      abiVersion: b[8]!,
      type: v.getUint16(16, le),
      machine: v.getUint16(18, le),
      version: v.getUint32(20, le),
      entry: v.getBigUint64(24, le),
      flags: v.getUint32(48, le),
      shstrndx: v.getUint16(62, le),
    };
  }
  #readSections(): ElfSection[] {
    const v = this.#view;
    const le = this.#le;
    const shoffBig = v.getBigUint64(40, le);
    let count = v.getUint16(60, le);
    let shstrndx = this.header.shstrndx;
    if (shoffBig === 0n) {
      if (count !== 0) throw new ElfError('E_SHOFF', `${count} sections but no section header table`, { section: 'header', offset: 40 });
      return [];
    }
    const shoff = this.#fileOffset(shoffBig, 'section header table offset', { section: 'header', offset: 40 });
    if (shoff + SECTION_HEADER_SIZE > this.bytes.length) {
      throw new ElfError('E_SHOFF', `section header table at 0x${shoff.toString(16)} is past the end of the file`, { section: 'header', offset: 40 });
    }
    // Extended numbering: counts that do not fit live in section 0.
    if (count === 0) count = this.#checkedNumber(this.#u64(shoff + 32), 'extended section count', { section: '#0', offset: shoff + 32 });
    if (shstrndx === SHN_XINDEX) shstrndx = this.#u32(shoff + 40);
    if (shoff + count * SECTION_HEADER_SIZE > this.bytes.length) {
      throw new ElfError('E_SHNUM', `${count} section headers at 0x${shoff.toString(16)} run past the end of the file (${this.bytes.length} bytes)`, { section: 'header', offset: 60 });
    }
    const sections: ElfSection[] = [];
    for (let i = 0; i < count; i++) {
      const at = shoff + i * SECTION_HEADER_SIZE;
      const where = { section: `#${i}`, offset: at };
      const type = this.#u32(at + 4);
      const offsetBig = this.#u64(at + 24);
      const sizeBig = this.#u64(at + 32);
      const size = this.#checkedNumber(sizeBig, 'section size', where);
      let offset = 0;
      let data: Uint8Array = new Uint8Array(0);
      if (type !== SHT_NOBITS && type !== SHT_NULL) {
        offset = this.#fileOffset(offsetBig, 'section offset', where);
        if (size > this.bytes.length - offset) {
          throw new ElfError('E_SECTION_BOUNDS', `section contents [0x${offset.toString(16)}, +0x${size.toString(16)}) run past the end of the file (${this.bytes.length} bytes)`, where);
        }
        data = this.bytes.subarray(offset, offset + size);
      }
      const entsize = this.#checkedNumber(this.#u64(at + 56), 'entry size', where);
      sections.push({
        index: i, name: '', type, flags: this.#u64(at + 8), addr: this.#u64(at + 16), offset, size,
        link: this.#u32(at + 40), info: this.#u32(at + 44), addralign: this.#u64(at + 48), entsize, data,
      });
    }
    if (count > 0) {
      if (shstrndx >= count) throw new ElfError('E_SHSTRNDX', `section name table index ${shstrndx} is out of range (${count} sections)`, { section: 'header', offset: 62 });
      const shstrtab = sections[shstrndx]!;
      for (const s of sections) {
        const nameOff = this.#u32(shoff + s.index * SECTION_HEADER_SIZE);
        if (s.index === 0 && nameOff === 0) continue;
        s.name = this.stringAt(shstrtab, nameOff, `name of section #${s.index}`);
      }
    }
    return sections;
  }

  #readSymbols(): ElfSymbol[] {
    const symtab = this.sections.find((s) => s.type === SHT_SYMTAB);
    if (!symtab) return [];
    const where = { section: symtab.name };
    if (symtab.entsize !== 0 && symtab.entsize !== SYMBOL_SIZE) {
      throw new ElfError('E_SYMTAB_ENTSIZE', `symbol entry size ${symtab.entsize} is not ${SYMBOL_SIZE}`, where);
    }
    if (symtab.size % SYMBOL_SIZE !== 0) throw new ElfError('E_SYMTAB_SIZE', `symbol table size ${symtab.size} is not a multiple of ${SYMBOL_SIZE}`, where);
    const strtab = this.#linked(symtab, 'string table');
    const shndx = this.sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === symtab.index);
    const view = this.viewOf(symtab);
    const le = this.#le;
    const out: ElfSymbol[] = [];
    const count = symtab.size / SYMBOL_SIZE;
    for (let i = 0; i < count; i++) {
      const at = i * SYMBOL_SIZE;
      const info = view.getUint8(at + 4);
      const other = view.getUint8(at + 5);
      let sectionIndex = view.getUint16(at + 6, le);
      if (sectionIndex === SHN_XINDEX) {
        if (!shndx || (i + 1) * 4 > shndx.data.length) {
          throw new ElfError('E_SYMTAB_SHNDX', `symbol #${i} uses SHN_XINDEX but there is no matching SHT_SYMTAB_SHNDX entry`, { section: symtab.name, offset: at + 6 });
        }
        sectionIndex = this.viewOf(shndx).getUint32(i * 4, le);
      }
      if (sectionIndex < SHN_LORESERVE && sectionIndex >= this.sections.length) {
        throw new ElfError('E_SYMBOL_SECTION', `symbol #${i} refers to section ${sectionIndex}, but there are ${this.sections.length}`, { section: symtab.name, offset: at + 6 });
      }
      const nameOff = view.getUint32(at, le);
      out.push({
        index: i,
        name: nameOff === 0 ? '' : this.stringAt(strtab, nameOff, `name of symbol #${i}`),
        value: view.getBigUint64(at + 8, le),
        size: view.getBigUint64(at + 16, le),
        type: info & 0xf,
        binding: info >> 4,
        visibility: other & 3,
        other,
        sectionIndex,
      });
    }
    return out;
  }

  #readRelocations(): ElfRelocationSection[] {
    const out: ElfRelocationSection[] = [];
    const le = this.#le;
    for (const s of this.sections) {
      if (s.type !== SHT_REL && s.type !== SHT_RELA) continue;
      const rela = s.type === SHT_RELA;
      const entry = rela ? RELA_SIZE : REL_SIZE;
      if (s.entsize !== 0 && s.entsize !== entry) throw new ElfError('E_REL_ENTSIZE', `relocation entry size ${s.entsize} is not ${entry}`, { section: s.name });
      if (s.size % entry !== 0) throw new ElfError('E_REL_SIZE', `relocation section size ${s.size} is not a multiple of ${entry}`, { section: s.name });
      if (s.info >= this.sections.length) throw new ElfError('E_REL_TARGET', `relocations target section ${s.info}, but there are ${this.sections.length}`, { section: s.name });
      const symtab = this.#linked(s, 'symbol table');
      // Relocations index the one symbol table we read.
      if (symtab !== this.sections.find((x) => x.type === SHT_SYMTAB)) {
        throw new ElfError('E_REL_SYMTAB', `sh_link ${s.link} is not the object's symbol table`, { section: s.name });
      }
      const symbolCount = this.symbols.length;
      const view = this.viewOf(s);
      const relocations: ElfRelocation[] = [];
      for (let at = 0; at < s.size; at += entry) {
        const info = view.getBigUint64(at + 8, le);
        const symbolIndex = Number(info >> 32n);
        if (symbolIndex >= symbolCount) {
          throw new ElfError('E_REL_SYMBOL', `relocation refers to symbol #${symbolIndex}, but there are ${symbolCount}`, { section: s.name, offset: at + 8 });
        }
        const r: ElfRelocation = { offset: view.getBigUint64(at, le), symbolIndex, type: Number(info & 0xffffffffn) };
        if (rela) r.addend = view.getBigInt64(at + 16, le);
        relocations.push(r);
      }
      out.push({ section: s, targetIndex: s.info, symtabIndex: s.link, relocations });
    }
    return out;
  }

  #linked(s: ElfSection, what: string): ElfSection {
    const linked = s.link < this.sections.length && s.link !== 0 ? this.sections[s.link] : undefined;
    if (!linked) throw new ElfError('E_LINK', `sh_link ${s.link} does not name a ${what}`, { section: s.name || `#${s.index}` });
    return linked;
  }

  #fileOffset(value: bigint, what: string, where: { section: string; offset: number }): number {
    if (value > BigInt(this.bytes.length)) {
      throw new ElfError('E_OFFSET', `${what} 0x${value.toString(16)} is past the end of the file (${this.bytes.length} bytes)`, where);
    }
    return Number(value);
  }

  #checkedNumber(value: bigint, what: string, where: { section: string; offset: number }): number {
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError('E_SIZE', `${what} 0x${value.toString(16)} is too large`, where);
    return Number(value);
  }
}

/** Parses an ELF64 file; throws ElfError on malformed input. */
export function readElf(bytes: Uint8Array): ElfFile {
  return new ElfFile(bytes);
}
