/**
 * elf: the ELF reader and the object parser (maps, programs, relocations,
 * BTF and .BTF.ext as the loader reads them), then the BTF the loader would
 * hand the kernel. Inputs are byte-mutated real objects (header, section
 * headers, symbols, relocations and BTF headers hit most) and objects
 * rebuilt through the ELF writer with sections renamed, dropped or
 * duplicated, symbols moved and relocations added. Only ElfError naming a
 * section or offset, BtfError naming where, or AsmError naming the slot may
 * come out.
 */
import { AsmError } from '../src/asm/errors.js';
import { BtfError } from '../src/btf/errors.js';
import {
  R_BPF_64_32, R_BPF_64_64, R_BPF_64_ABS32, R_BPF_64_ABS64, R_BPF_64_NODYLD32, SHN_ABS, SHN_COMMON, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB,
} from '../src/elf/constants.js';
import { ElfError } from '../src/elf/errors.js';
import { kernelBtfBytes } from '../src/elf/kernel-btf.js';
import { parseObject } from '../src/elf/parse-object.js';
import { readElf } from '../src/elf/reader.js';
import { ElfWriter } from '../src/elf/writer.js';
import { EDGE_U32, mutateBytes, type Gen } from './random.js';
import { seedObjects } from './seeds.js';
import { asBytes, FuzzFinding, type FuzzInput, type FuzzTarget, type Outcome } from './target.js';

/** Header fields, section headers, .BTF/.BTF.ext headers, symbols, relocations and .maps. */
export function elfHotSpots(bytes: Uint8Array): number[] {
  const spots = [4, 5, 16, 18, 24, 32, 40, 48, 58, 60, 62];
  const f = readElf(bytes);
  const shoff = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(40, true));
  for (let i = 0; i < f.sections.length; i++) for (const o of [0, 4, 8, 24, 32, 40, 44, 48, 56]) spots.push(shoff + i * 64 + o);
  for (const s of f.sections) {
    if (s.name === '.BTF' || s.name === '.BTF.ext') for (let o = 0; o < 32; o += 4) spots.push(s.offset + o);
    if (s.type === SHT_SYMTAB) for (let o = 0; o < Math.min(s.size, 24 * 40); o += 4) spots.push(s.offset + o);
    if (s.type === SHT_REL) for (let o = 0; o < Math.min(s.size, 16 * 20); o += 4) spots.push(s.offset + o);
    if (s.name === '.maps' || s.name === '.BTF' || s.name === 'license') for (let o = 0; o < Math.min(s.size, 256); o += 4) spots.push(s.offset + o);
  }
  return spots.filter((x) => x < bytes.length - 4);
}

interface Seed {
  bytes: Uint8Array;
  spots: number[];
}

let seeds: Seed[] | undefined;

function load(): Seed[] {
  seeds ??= seedObjects().map(({ bytes }) => ({ bytes, spots: elfHotSpots(bytes) }));
  return seeds;
}

const SECTION_NAMES = [
  'xdp', 'tc', 'tracepoint/syscalls/sys_enter_openat', 'kprobe/do_sys_open', 'uprobe', 'socket', 'cgroup_skb/egress', 'struct_ops', '.text',
  '.maps', 'maps', '.data', '.rodata', '.bss', '.kconfig', '.ksyms', 'license', 'version', '.BTF', '.BTF.ext', '.tsbpf', '.rodata.str1.1', '?xdp', 'fentry/x',
];
const RELOC_TYPES = [R_BPF_64_64, R_BPF_64_ABS64, R_BPF_64_ABS32, R_BPF_64_NODYLD32, R_BPF_64_32, 0, 7, 255];

/** The seed rebuilt through ElfWriter with structural edits the byte mutator would rarely make consistently. */
function rebuilt(g: Gen, bytes: Uint8Array): Uint8Array {
  const f = readElf(bytes);
  const w = new ElfWriter({ rela: g.int(8) === 0 });
  const newIndex = new Map<number, number>();
  for (const s of f.sections) {
    if (s.index === 0 || s.type === SHT_SYMTAB || s.type === SHT_STRTAB || s.type === SHT_REL || s.type === SHT_RELA) continue;
    const edit = g.int(12);
    if (edit === 0) continue; // dropped
    const name = edit === 1 ? g.pick(SECTION_NAMES) : s.name;
    const data = edit === 2 && s.data.length ? mutateBytes(g, s.data, { max: 3 }) : new Uint8Array(s.data);
    const index = w.addSection({ name, type: s.type, flags: s.flags, data: s.type === 8 ? undefined : data, size: s.type === 8 ? s.size : undefined, addralign: Number(s.addralign) || 1, entsize: s.entsize, info: s.info });
    newIndex.set(s.index, index);
    if (edit === 3) w.addSection({ name: s.name, type: s.type, flags: s.flags, data: s.type === 8 ? undefined : data, size: s.type === 8 ? s.size : undefined, addralign: 8 });
  }
  const refs = new Map<number, number>();
  for (const sym of f.symbols) {
    if (sym.index === 0) continue;
    const section = sym.sectionIndex >= 0xff00 ? sym.sectionIndex : newIndex.get(sym.sectionIndex) ?? 0;
    const edit = g.int(16);
    refs.set(sym.index, w.addSymbol({
      name: edit === 0 ? g.pick(['', 'LICENSE', '_license', 'dup', sym.name + sym.name]) : sym.name,
      section: edit === 1 ? g.pick([0, SHN_ABS, SHN_COMMON, 1 + g.int(newIndex.size + 2)]) : section,
      value: edit === 2 ? BigInt(g.pick(EDGE_U32)) : sym.value,
      size: edit === 3 ? BigInt(g.pick(EDGE_U32)) : sym.size,
      type: edit === 4 ? g.int(16) : sym.type,
      binding: edit === 5 ? g.int(3) : sym.binding,
      visibility: edit === 6 ? g.int(4) : sym.visibility,
    }));
  }
  const symbols = [...refs.values()];
  for (const rs of f.relocationSections) {
    const target = newIndex.get(rs.targetIndex);
    if (target === undefined) continue;
    for (const r of rs.relocations) {
      if (g.int(12) === 0) continue;
      const symbol = refs.get(r.symbolIndex);
      if (symbol === undefined) continue;
      w.addRelocation(target, {
        offset: g.int(10) === 0 ? BigInt(g.pick(EDGE_U32)) : g.int(10) === 0 ? r.offset + BigInt(g.pick([1, 4, 8, -8])) : r.offset,
        symbol: g.int(10) === 0 && symbols.length ? g.pick(symbols) : symbol,
        type: g.int(10) === 0 ? g.pick(RELOC_TYPES) : r.type,
      });
    }
    if (g.int(3) === 0 && symbols.length) w.addRelocation(target, { offset: g.int(64) * 8, symbol: g.pick(symbols), type: g.pick(RELOC_TYPES) });
  }
  return w.toBytes();
}

function generate(g: Gen): FuzzInput {
  const seed = g.pick(load());
  if (g.int(3) === 0) {
    try {
      return { variant: 'o', data: rebuilt(g, seed.bytes) };
    } catch (e) {
      if (!(e instanceof ElfError)) throw e; // the writer refused an edit: mutate bytes instead
    }
  }
  return { variant: 'o', data: mutateBytes(g, seed.bytes, { hotSpots: seed.spots, max: 4 }) };
}

/** The owning modules' errors, each saying where. */
export function checkObjectError(e: unknown): void {
  if (e instanceof ElfError) {
    if (e.section === undefined && e.offset === undefined) throw new FuzzFinding(`ElfError naming no section or offset: ${e.message}`, { cause: e });
    return;
  }
  if (e instanceof BtfError) {
    if (!e.location) throw new FuzzFinding(`BtfError naming no place: ${e.message}`, { cause: e });
    return;
  }
  if (e instanceof AsmError) {
    if (e.slot === undefined) throw new FuzzFinding(`AsmError naming no slot: ${e.message}`, { cause: e });
    return;
  }
  throw e;
}

function execute(input: FuzzInput): Outcome {
  try {
    const spec = parseObject(asBytes(input.data), { name: 'fuzz' });
    kernelBtfBytes(spec); // the BTF the loader would hand the kernel
    return 'ok';
  } catch (e) {
    checkObjectError(e);
    return 'rejected';
  }
}

export const elfTarget: FuzzTarget = { name: 'elf', timeoutMs: 5000, chunk: 25_000, generate, execute };
