/**
 * Addresses to names, for stack traces: kernel addresses through
 * /proc/kallsyms, a process's addresses through its /proc/PID/maps and the
 * ELF symbol tables of the files mapped there (.symtab, else .dynsym).
 * A name is the function that contains the address and the offset into it;
 * an address nothing covers keeps only the module or file it is in.
 */
import { readFileSync } from 'node:fs';
import { ElfSymbols } from './elf-symbols.js';
import { forEachKallsym } from './kernel-symbols.js';

/** One symbolized address. */
export interface Frame {
  address: bigint;
  /** The function containing it, when known. */
  symbol?: string;
  /** How far into that function. */
  offset?: bigint;
  /** The kernel module ([name] in kallsyms) or the mapped file it is in. */
  module?: string;
}

interface Sym { start: bigint; end?: bigint; name: string; module?: string }

/** The greatest entry of `sorted` starting at or below `address`. */
function floor(sorted: Sym[], address: bigint): Sym | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  let found: Sym | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.start <= address) {
      found = sorted[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/**
 * Kernel addresses to function names from /proc/kallsyms (read once; addresses hidden by kptr_restrict give no names).
 * @example
 * new KernelSymbolizer().resolve(0xffffffff81e01234n);   // { address, symbol: 'do_syscall_64', offset: 0x34n }
 */
export class KernelSymbolizer {
  readonly #syms: Sym[] = [];

  constructor(kallsyms: string = readFileSync('/proc/kallsyms', 'utf8')) {
    forEachKallsym(kallsyms, (start, type, name, module) => {
      // Functions only (text and weak symbols); a zero address is one kptr_restrict hides.
      if (start === 0n || !'tTwW'.includes(type)) return;
      this.#syms.push({ start, name, ...(module ? { module } : {}) });
    });
    this.#syms.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }

  resolve(address: bigint): Frame {
    const s = floor(this.#syms, address);
    if (!s) return { address };
    return { address, symbol: s.name, offset: address - s.start, ...(s.module ? { module: s.module } : {}) };
  }
}

interface Mapping { start: bigint; end: bigint; offset: bigint; path: string }

/** Function symbols of a mapped file, by file offset. */
const fileSymbols = new Map<string, Sym[]>();

function symbolsOf(path: string): Sym[] {
  let syms = fileSymbols.get(path);
  if (syms) return syms;
  syms = [];
  try {
    for (const f of new ElfSymbols(new Uint8Array(readFileSync(path)), path).functions().values()) {
      syms.push({ start: f.fileOffset, end: f.fileOffset + (f.size === 0n ? 1n : f.size), name: f.name });
    }
  } catch {
    // Not ELF, unreadable or gone: addresses in it keep only the file name.
  }
  syms.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  fileSymbols.set(path, syms);
  return syms;
}

/**
 * A process's addresses to function names, from its mappings as they are now (the process must still be running).
 * @example
 * new ProcessSymbolizer(pid).resolve(ip);   // { address: ip, symbol: 'main', offset: 0x1cn, module: '/usr/bin/app' }
 */
export class ProcessSymbolizer {
  readonly #maps: Mapping[] = [];

  constructor(readonly pid: number) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch {
      // The process has exited: no names.
    }
    for (const line of text.split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \d+\s+(\/.*)$/.exec(line);
      if (m) this.#maps.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), offset: BigInt(`0x${m[3]}`), path: m[4]! });
    }
  }

  resolve(address: bigint): Frame {
    const map = this.#maps.find((m) => address >= m.start && address < m.end);
    if (!map) return { address };
    const fileOffset = address - map.start + map.offset;
    // Through /proc/PID/root: the file as the process sees it (another mount namespace, a deleted file's own path fails quietly).
    const s = floor(symbolsOf(`/proc/${this.pid}/root${map.path}`), fileOffset);
    if (!s || fileOffset >= s.end!) return { address, module: map.path };
    return { address, symbol: s.name, offset: fileOffset - s.start, module: map.path };
  }
}
