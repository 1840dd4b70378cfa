/**
 * A tiny, self-contained ELF64 symbol reader for uprobes: find a function
 * symbol in .symtab/.dynsym and turn its virtual address into the file
 * offset the kernel's uprobe PMU wants (through the PT_LOAD program headers).
 * Bounds-checked; a malformed file is an ElfSymbolError, never a crash.
 */
import { SHN_UNDEF, SHT_DYNSYM, SHT_SYMTAB, STT_FUNC } from '../elf/constants.js';
import { readName } from '../syscall/attr.js';

/**
 * An ELF file could not give a symbol's offset: not ELF, truncated, no such symbol, or no segment holding it; with the path and the offset where reading stopped.
 * @example
 * try { new ElfSymbols(bytes); } catch (e) { if (e instanceof ElfSymbolError) console.error(e.code, e.offset); }
 */
export class ElfSymbolError extends Error {
  override readonly name = 'ElfSymbolError';
  constructor(readonly code: 'ENOTELF' | 'ETRUNC' | 'ENOSYM' | 'ENOSEG', message: string, readonly path?: string, readonly offset?: number) {
    super(path ? `${path}: ${message}` : message);
  }
}

/** A function symbol of an ELF file, with the file offset a uprobe needs. */
export interface ElfFunctionSymbol {
  name: string;
  /** st_value: the symbol's virtual address. */
  address: bigint;
  size: bigint;
  /** Offset of the symbol in the file (what perf's uprobe PMU takes). */
  fileOffset: bigint;
  /** The table it came from. */
  table: '.symtab' | '.dynsym';
}

// Not in src/elf/constants.ts: that reader handles relocatable objects, which have neither.
const PT_LOAD = 1;
const STT_GNU_IFUNC = 10;

interface Segment { vaddr: bigint; memsz: bigint; offset: bigint }

/**
 * Reads the function symbols of an ELF64 little-endian file image.
 * @example
 * const symbols = new ElfSymbols(readFileSync('/usr/bin/bash'), '/usr/bin/bash');
 * symbols.functions().get('readline')?.fileOffset;
 */
export class ElfSymbols {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #segments: Segment[] = [];
  #functions: Map<string, ElfFunctionSymbol> | undefined;

  constructor(bytes: Uint8Array, readonly path?: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw new ElfSymbolError('ENOTELF', 'not an ELF file', path, 0);
    }
    if (bytes[4] !== 2 || bytes[5] !== 1) throw new ElfSymbolError('ENOTELF', 'only 64-bit little-endian ELF is supported', path, 4);
    const phoff = this.#u64(32);
    const phentsize = this.#u16(54);
    const phnum = this.#u16(56);
    for (let i = 0; i < phnum; i++) {
      const at = this.#offset(phoff + BigInt(i * phentsize), 56, 'program header');
      if (this.#u32(at) !== PT_LOAD) continue;
      this.#segments.push({ offset: this.#u64(at + 8), vaddr: this.#u64(at + 16), memsz: this.#u64(at + 40) });
    }
  }

  /** Every defined function symbol, by name (.symtab wins over .dynsym). */
  functions(): Map<string, ElfFunctionSymbol> {
    if (this.#functions) return this.#functions;
    const out = new Map<string, ElfFunctionSymbol>();
    const shoff = this.#u64(40);
    const shentsize = this.#u16(58);
    const shnum = this.#u16(60);
    const sections: Array<{ type: number; offset: bigint; size: bigint; link: number; entsize: bigint }> = [];
    for (let i = 0; i < shnum; i++) {
      const at = this.#offset(shoff + BigInt(i * shentsize), 64, 'section header');
      sections.push({ type: this.#u32(at + 4), offset: this.#u64(at + 24), size: this.#u64(at + 32), link: this.#u32(at + 40), entsize: this.#u64(at + 56) });
    }
    for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
      const table = type === SHT_SYMTAB ? '.symtab' : '.dynsym';
      for (const sec of sections) {
        if (sec.type !== type) continue;
        const strtab = sections[sec.link];
        if (!strtab) throw new ElfSymbolError('ETRUNC', `${table} links to missing string table ${sec.link}`, this.path);
        const strStart = this.#offset(strtab.offset, Number(strtab.size), `${table} string table`);
        const strEnd = strStart + Number(strtab.size);
        const entsize = sec.entsize === 0n ? 24 : Number(sec.entsize);
        if (entsize < 24) throw new ElfSymbolError('ETRUNC', `${table} entry size ${entsize} too small`, this.path);
        const start = this.#offset(sec.offset, Number(sec.size), table);
        const count = Math.floor(Number(sec.size) / entsize);
        for (let i = 0; i < count; i++) {
          const at = start + i * entsize;
          const kind = this.#bytes[at + 4]! & 0xf;
          if (kind !== STT_FUNC && kind !== STT_GNU_IFUNC) continue;
          if (this.#u16(at + 6) === SHN_UNDEF) continue;
          const nameAt = strStart + this.#u32(at);
          const name = readName(this.#bytes, nameAt, strEnd - nameAt);
          if (name === '' || out.has(name)) continue;
          const address = this.#u64(at + 8);
          const fileOffset = this.#fileOffsetOf(address);
          if (fileOffset === undefined) continue;
          out.set(name, { name, address, size: this.#u64(at + 16), fileOffset, table });
        }
      }
    }
    this.#functions = out;
    return out;
  }

  /** The function `name`, or an ENOSYM error listing why. */
  lookup(name: string): ElfFunctionSymbol {
    const sym = this.functions().get(name);
    if (!sym) throw new ElfSymbolError('ENOSYM', `no function symbol '${name}' in .symtab or .dynsym`, this.path);
    return sym;
  }

  #fileOffsetOf(vaddr: bigint): bigint | undefined {
    for (const s of this.#segments) {
      if (vaddr >= s.vaddr && vaddr < s.vaddr + s.memsz) return vaddr - s.vaddr + s.offset;
    }
    return undefined;
  }

  #offset(at: bigint, length: number, what: string): number {
    if (at < 0n || at + BigInt(length) > BigInt(this.#bytes.byteLength) || length < 0) {
      throw new ElfSymbolError('ETRUNC', `${what} at ${at} (+${length}) runs past the end of the file (${this.#bytes.byteLength} bytes)`, this.path, Number(at));
    }
    return Number(at);
  }

  #u16(at: number): number {
    this.#offset(BigInt(at), 2, 'field');
    return this.#view.getUint16(at, true);
  }
  #u32(at: number): number {
    this.#offset(BigInt(at), 4, 'field');
    return this.#view.getUint32(at, true);
  }
  #u64(at: number): bigint {
    this.#offset(BigInt(at), 8, 'field');
    return this.#view.getBigUint64(at, true);
  }
}
