/**
 * `tsbpf prog dump xlated|jited PROG [file FILE] [--json]`: a loaded
 * program's instructions as the kernel holds them after verification
 * (xlated, disassembled in LLVM syntax with the source lines from its line
 * info interleaved: the TypeScript lines for a compiled module, the C lines
 * for clang's) or its JIT-compiled machine code (raw bytes to a file, or hex).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { disassemble } from '../asm/disasm.js';
import { parseBtf } from '../btf/index.js';
import { btfBytesById } from '../kernel/btf-bytes.js';
import { CliError, dim, escapeControl, printJson } from './output.js';
import { openProgram } from './prog-run.js';

export const dumpHelp = `  dump      the translated instructions with their source lines, or the JIT code:
              tsbpf prog dump xlated|jited id ID | pinned PATH | name NAME [file FILE] [--json]`;

/** Source lines by instruction slot, from the program's line info and BTF. */
function sourceLines(btfId: number, lineInfo: NonNullable<ReturnType<typeof import('../kernel/info.js').progInfoByFd>['lineInfo']>): Map<number, { text: string; file: string; line: number; column: number }> {
  const out = new Map<number, { text: string; file: string; line: number; column: number }>();
  if (!btfId || lineInfo.length === 0) return out;
  let btf;
  try {
    btf = parseBtf(btfBytesById(btfId).bytes, { section: `BTF ${btfId}` });
  } catch {
    return out;
  }
  for (const l of lineInfo) out.set(l.insnOff, { text: btf.string(l.lineOff).trim(), file: btf.string(l.fileNameOff), line: l.line, column: l.column });
  return out;
}

export async function progDump(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  const [what, how, which, fileWord, file] = positionals;
  if (what !== 'xlated' && what !== 'jited') throw new CliError('usage: tsbpf prog dump xlated|jited id ID | pinned PATH | name NAME [file FILE]', 2);
  if (fileWord !== undefined && (fileWord !== 'file' || !file)) throw new CliError(`expected 'file FILE', not '${fileWord}'`, 2);
  using prog = openProgram(how, which);
  const info = prog.info({ instructions: true });
  const bytes = what === 'xlated' ? info.xlated : info.jited;
  if (!bytes) throw new CliError(what === 'jited' ? 'the program is not JIT-compiled (or the JIT code is hidden: kernel.bpf_jit_harden / kptr_restrict)' : 'no translated instructions (needs root)');
  if (file) {
    try {
      writeFileSync(file, bytes);
    } catch (e) {
      throw new CliError(`cannot write ${file}: ${(e as Error).message}`);
    }
    return 0;
  }
  if (what === 'jited') {
    if (values.json) printJson({ jited: [...bytes].map((b) => `0x${b.toString(16).padStart(2, '0')}`) });
    else for (let i = 0; i < bytes.length; i += 16) process.stdout.write(`${i.toString(16).padStart(4, '0')}: ${[...bytes.subarray(i, i + 16)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}\n`);
    return 0;
  }
  const lines = sourceLines(info.btfId, info.lineInfo ?? []);
  const text = disassemble(bytes, { strict: false });
  // disassemble gives one line per instruction; wide loads take two slots.
  let slot = 0;
  const rows: Array<{ pc: number; insn: string; src?: { text: string; file: string; line: number; column: number } }> = [];
  for (const insn of text) {
    rows.push({ pc: slot, insn, ...(lines.has(slot) ? { src: lines.get(slot)! } : {}) });
    const opcode = bytes[slot * 8];
    slot += opcode === 0x18 ? 2 : 1;
  }
  for (const r of rows) {
    if (values.json) printJson({ pc: r.pc, insn: r.insn, ...(r.src ? { src: r.src.text, file: r.src.file, line: r.src.line, column: r.src.column } : {}) });
    else process.stdout.write(`${r.src ? `${dim(`; ${escapeControl(r.src.text)}  @ ${escapeControl(r.src.file)}:${r.src.line}:${r.src.column}`)}\n` : ''}${String(r.pc).padStart(4)}: ${r.insn}\n`);
  }
  return 0;
}
