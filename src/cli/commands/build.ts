/**
 * `tsbpf build module.bpf.ts [-o module.o] [--emit obj|asm|ir]`: compiles a
 * TypeScript module to a BPF ELF object (or shows its eBPF or IR).
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { encode } from '../../asm/codec.js';
import { disassemble } from '../../asm/disasm.js';
import { CompileError, formatDiagnostic } from '../../dsl/compiler/diagnostics.js';
import { writeObject } from '../../dsl/compiler/object.js';
import { compileCached } from '../dsl-cache.js';
import { classifyRunInput } from '../run-input.js';
import { sourceFrame } from '../dsl-errors.js';
import { CliError, errColor, escapeControl, indicator, printJson } from '../output.js';

export const help = `usage: tsbpf build MODULE.bpf.ts [-o OUT.o] [--emit obj|asm|ir] [--no-cache] [--json]

Compiles a TypeScript module written against tsbpf/dsl to a BPF ELF object
(libbpf conventions: SEC names, BTF-defined maps, .rodata/.data, .BTF and
.BTF.ext with the TypeScript lines), loadable by tsbpf, libbpf and bpftool.

options:
  -o, --output FILE   where to write the object (default: MODULE.o next to it),
                      or the text of --emit asm|ir (default: standard output)
  --emit KIND         obj (default), asm (eBPF text per program) or ir
  --no-cache          compile even when a cached build matches
  --json              diagnostics and results as JSON lines
`;

/** Prints compile diagnostics with code frames; returns the exit status. */
export function reportCompileError(e: CompileError, json: boolean): number {
  indicator.stop();
  for (const d of e.diagnostics) {
    if (json) printJson({ diagnostic: d });
    else process.stderr.write(`${errColor.red('error')} ${escapeControl(formatDiagnostic(d))}\n${d.text !== undefined ? `${errColor.dim(sourceFrame(d))}\n` : ''}`);
  }
  if (!json) process.stderr.write(`${e.diagnostics.length} error${e.diagnostics.length === 1 ? '' : 's'}\n`);
  return 1;
}

function writeOutput(path: string, data: string | Uint8Array): void {
  try {
    writeFileSync(path, data);
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      output: { type: 'string', short: 'o' },
      emit: { type: 'string', default: 'obj' },
      'no-cache': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [entry] = positionals;
  if (!entry || positionals.length > 1) throw new CliError('give one module: tsbpf build MODULE.bpf.ts', 2);
  const emit = values.emit!;
  if (!['obj', 'asm', 'ir'].includes(emit)) throw new CliError(`--emit must be obj, asm or ir, not '${emit}'`, 2);
  classifyRunInput(entry, 'build');
  let mod;
  try {
    indicator.start(`compiling ${entry}…`);
    mod = (await compileCached(entry, { cache: !values['no-cache'] })).module;
  } catch (e) {
    if (e instanceof CompileError) return reportCompileError(e, Boolean(values.json));
    throw e;
  } finally {
    indicator.stop();
  }
  if (emit === 'ir' || emit === 'asm') {
    // To standard output, or with -o to that file (as clang -S -o does).
    let text = '';
    for (const p of mod.programs) {
      const body = emit === 'ir' ? p.ir : disassemble(encode(p.instructions)).map((l, i) => `${String(i).padStart(4)}: ${l}`).join('\n');
      if (values.json && values.output === undefined) printJson({ program: p.name, section: p.section, [emit]: body.split('\n') });
      else text += `${emit === 'asm' ? `${p.name} (SEC("${p.section}"), ${p.instructions.length} instructions):\n` : ''}${body}\n\n`;
    }
    if (values.output === undefined) process.stdout.write(text);
    else {
      writeOutput(values.output, text);
      if (values.json) printJson({ [emit]: values.output, bytes: Buffer.byteLength(text), programs: mod.programs.map((p) => p.name) });
      else process.stdout.write(`wrote ${values.output} (${emit === 'asm' ? 'eBPF text' : 'IR'} of ${mod.programs.length} program${mod.programs.length === 1 ? '' : 's'})\n`);
    }
    return 0;
  }
  const out = values.output ?? entry.replace(/(\.bpf)?\.ts$/, '') + '.o';
  const bytes = writeObject(mod);
  writeOutput(out, bytes);
  if (values.json) printJson({ object: out, bytes: bytes.length, programs: mod.programs.map((p) => ({ name: p.name, section: p.section, instructions: p.instructions.length })), maps: mod.maps.map((m) => m.name) });
  else process.stdout.write(`wrote ${out} (${bytes.length} bytes): ${mod.programs.length} program${mod.programs.length === 1 ? '' : 's'}, ${mod.maps.length} map${mod.maps.length === 1 ? '' : 's'} from ${basename(entry)}\n`);
  return 0;
}
