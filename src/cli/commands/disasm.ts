/**
 * `tsbpf disasm`: print raw instruction bytes, or the code sections of a BPF
 * ELF object, in llvm-objdump's syntax (which `tsbpf asm` reads back).
 */
import { parseArgs } from 'node:util';
import { AsmError, disassemble, disassembleText } from '../../asm/index.js';
import { readFileOrStdin } from '../input-file.js';
import { CliError, dim, printJson } from '../output.js';

export const help = `usage: tsbpf disasm IN [--lenient] [--json]

Disassembles eBPF bytecode into the text llvm-objdump -d --mattr=+alu32 prints
(without address and hex columns); 'tsbpf asm' reads it back.

  IN            raw little-endian 8-byte slots, or a BPF ELF object (each
                code section, with function labels and relocations as comments);
                - for standard input
  --lenient     print invalid instructions as llvm-objdump does (<unknown>)
                instead of stopping with an error naming the slot
  --json        one JSON object per line: {"section","index","text"}
`;

interface ElfSectionLike {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  data: Uint8Array;
}
interface ElfFileLike {
  sections: ElfSectionLike[];
  symbols: Array<{ name: string; value: bigint; type: number; sectionIndex: number }>;
  relocationsFor(index: number): Array<{ relocations: Array<{ offset: bigint; symbolIndex: number }> }>;
}
interface ElfModule {
  readElf?: (bytes: Uint8Array) => ElfFileLike;
}

const SHT_PROGBITS = 1;
const STT_SECTION = 3;
const SHF_EXECINSTR = 0x4n;
const STT_FUNC = 2;

const isElf = (b: Uint8Array): boolean => b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;

/** Loads src/elf lazily: the ELF reader is another part of tsbpf and may be missing from a build. */
async function loadElfReader(): Promise<ElfModule['readElf']> {
  try {
    return ((await import('../../elf/index.js')) as ElfModule).readElf;
  } catch {
    return undefined;
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { lenient: { type: 'boolean' }, json: { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new CliError(`expected one input file\n\n${help}`, 2);
  const input = positionals[0]!;
  let bytes: Uint8Array;
  try {
    bytes = await readFileOrStdin(input);
  } catch (e) {
    throw new CliError(`cannot read ${input}: ${(e as Error).message}`);
  }
  const strict = !values.lenient;
  if (!isElf(bytes)) {
    let lines: string[] | string;
    try {
      lines = values.json ? disassemble(bytes, { strict }) : disassembleText(bytes, { strict });
    } catch (e) {
      // The error names the slot; say which input it is in.
      if (e instanceof AsmError) throw new CliError(`${input}: ${e.message}`);
      throw e;
    }
    if (typeof lines !== 'string') lines.forEach((text, index) => printJson({ index, text }));
    else await new Promise<void>((resolve, reject) => process.stdout.write(lines, (e) => (e ? reject(e) : resolve())));
    return 0;
  }
  const readElf = await loadElfReader();
  if (!readElf) throw new CliError(`${input} is an ELF object, but this build has no ELF reader (src/elf)`);
  const elf = readElf(bytes);
  const out: string[] = [];
  for (const section of elf.sections) {
    if (section.type !== SHT_PROGBITS || (section.flags & SHF_EXECINSTR) === 0n || section.data.length === 0) continue;
    printSection(elf, section, strict, values.json === true, out);
  }
  if (!values.json) process.stdout.write(out.join(''));
  return 0;
}

/** A relocation's symbol: its name, or for a section symbol the section's name. */
function symbolName(elf: ElfFileLike, index: number): string {
  const sym = elf.symbols[index];
  if (!sym) return `symbol #${index}`;
  if (sym.name) return sym.name;
  if (sym.type === STT_SECTION) return elf.sections.find((s) => s.index === sym.sectionIndex)?.name ?? `section #${sym.sectionIndex}`;
  return `symbol #${index}`;
}

/**
 * For a bpf-to-bpf call relocated against a section symbol, the function it
 * reaches (libbpf's rule: section offset st_value + (imm + 1) * 8), as ` (name)`.
 */
function callTarget(elf: ElfFileLike, section: ElfSectionLike, slot: number, symbolIndex: number): string {
  const at = slot * 8;
  const sym = elf.symbols[symbolIndex];
  if (!sym || sym.type !== STT_SECTION || section.data[at] !== 0x85 || section.data[at + 1] >> 4 !== 1) return '';
  const imm = new DataView(section.data.buffer, section.data.byteOffset + at + 4, 4).getInt32(0, true);
  const offset = Number(sym.value) + (imm + 1) * 8;
  const fn = elf.symbols.find((s) => s.type === STT_FUNC && s.sectionIndex === sym.sectionIndex && Number(s.value) === offset);
  return fn ? ` (${fn.name})` : '';
}

function printSection(elf: ElfFileLike, section: ElfSectionLike, strict: boolean, json: boolean, out: string[]): void {
  const lines = disassemble(section.data, { strict });
  // Map instruction index → slot, for labels and relocations, which are byte offsets.
  const labels = new Map<number, string[]>();
  for (const sym of elf.symbols) {
    if (sym.sectionIndex !== section.index || sym.type !== STT_FUNC || !sym.name) continue;
    const slot = Number(sym.value) / 8;
    labels.set(slot, [...(labels.get(slot) ?? []), sym.name]);
  }
  const relocs = new Map<number, string>();
  for (const rs of elf.relocationsFor(section.index)) {
    for (const r of rs.relocations) {
      const slot = Number(r.offset) / 8;
      relocs.set(slot, symbolName(elf, r.symbolIndex) + callTarget(elf, section, slot, r.symbolIndex));
    }
  }
  if (!json) out.push(`${out.length ? '\n' : ''}${dim(`# section ${section.name}`)}\n`);
  let slot = 0;
  lines.forEach((text, index) => {
    const view = section.data;
    const isWide = view[slot * 8] === 0x18;
    const reloc = relocs.get(slot);
    if (json) printJson({ section: section.name, index, slot, text, ...(labels.has(slot) ? { labels: labels.get(slot) } : {}), ...(reloc ? { relocation: reloc } : {}) });
    else {
      for (const l of labels.get(slot) ?? []) out.push(`${l}:\n`);
      out.push(`  ${text}${reloc ? `  ${dim(`# reloc ${reloc}`)}` : ''}\n`);
    }
    slot += isWide ? 2 : 1;
  });
}
