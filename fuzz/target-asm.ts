/**
 * asm: the text assemblers (LLVM syntax and the ubpf/conformance syntax).
 * Inputs are mutated real programs (conformance files, disassembled clang
 * objects, random valid instructions printed by the disassembler) and token
 * soup. Only AsmError with a line and column may come out; what assembles
 * must decode and disassemble again.
 */
import { assemble, AsmError, decode, disassemble, disassembleText, type AsmSyntax } from '../src/asm/index.js';
import { readElf } from '../src/elf/reader.js';
import { SHF_EXECINSTR } from '../src/elf/constants.js';
import { randomInstruction } from '../test/asm/random-instructions.js';
import { encode } from '../src/asm/codec.js';
import { dictionaryOf, mutateText, type Gen } from './random.js';
import { seedConformance, seedObjects } from './seeds.js';
import { asText, FuzzFinding, type FuzzInput, type FuzzTarget, type Outcome } from './target.js';

interface Seeds {
  llvm: string[];
  ubpf: string[];
  dictionary: string[];
}

let seeds: Seeds | undefined;

function load(): Seeds {
  if (seeds) return seeds;
  const llvm: string[] = [];
  for (const { bytes } of seedObjects()) {
    try {
      for (const s of readElf(bytes).sections) if ((s.flags & SHF_EXECINSTR) && s.size > 0) llvm.push(disassembleText(s.data));
    } catch {
      // a seed that does not parse is no seed
    }
  }
  const ubpf = seedConformance().map((t) => /^-- asm\n([\s\S]*?)(?=^-- |$(?![\s\S]))/m.exec(t)?.[1]).filter((x): x is string => !!x);
  if (!ubpf.length) ubpf.push('mov %r0, 1\nadd %r0, 2\nldxw %r1, [%r1+4]\njeq %r0, 3, +1\nexit\nlddw %r2, 0x1122334455667788\nexit\n');
  const dictionary = dictionaryOf([...llvm.slice(0, 40), ...ubpf], ['r11', 'w11', '%r11', '0x', '-', '+', '*(u128 *)', 'goto', 'll', 'call', 'callx', 'lock', 'may_goto', 'be128', 'le', 'bswap64', 's>>=', 'addr_space_cast', ':', 'L1:', '.L', '-32769', '65536']);
  seeds = { llvm, ubpf, dictionary };
  return seeds;
}

function generate(g: Gen): FuzzInput {
  const s = load();
  const choice = g.int(8);
  if (choice <= 2) return { variant: 'ubpf.s', data: mutateText(g, g.pick(s.ubpf), s.dictionary, s.ubpf) };
  if (choice <= 4 && s.llvm.length) {
    // A window of a real program keeps inputs small (and labels plausible).
    const lines = g.pick(s.llvm).split('\n');
    const from = g.int(lines.length);
    return { variant: 'llvm.s', data: mutateText(g, lines.slice(from, from + 1 + g.int(60)).join('\n'), s.dictionary, s.llvm.slice(0, 20)) };
  }
  if (choice <= 6) {
    const insns = Array.from({ length: 1 + g.int(24) }, () => randomInstruction(g));
    const text = disassembleText(encode(insns));
    return { variant: 'llvm.s', data: g.int(4) ? mutateText(g, text, s.dictionary) : text };
  }
  const soup = Array.from({ length: 1 + g.int(30) }, () => (g.int(6) ? g.pick(s.dictionary) : g.pick([' ', '\n', ',', '\t'])));
  return { variant: g.int(2) ? 'llvm.s' : 'ubpf.s', data: soup.join(g.int(2) ? ' ' : '') };
}

function execute(input: FuzzInput): Outcome {
  const syntax: AsmSyntax = input.variant.startsWith('ubpf') ? 'ubpf' : 'llvm';
  let bytes: Uint8Array;
  try {
    bytes = assemble(asText(input.data), { syntax, file: 'fuzz.s' }).bytes;
  } catch (e) {
    if (!(e instanceof AsmError)) throw e;
    if (!e.position || !(e.position.line > 0) || !(e.position.column > 0)) throw new FuzzFinding(`AsmError without a line and column: ${e.message}`, { cause: e });
    return 'rejected';
  }
  // What assembled is valid bytecode: it decodes and prints.
  decode(bytes);
  disassemble(bytes);
  return 'ok';
}

export const asmTarget: FuzzTarget = { name: 'asm', timeoutMs: 5000, chunk: 50_000, generate, execute };
