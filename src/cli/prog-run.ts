/**
 * `tsbpf prog run PROG data_in FILE [data_out FILE] [ctx_in FILE] [ctx_out FILE] [repeat N]`:
 * BPF_PROG_TEST_RUN of a loaded program on a packet (or context) from a
 * file, as bpftool prog run takes and prints it. FILE '-' is standard
 * input or output (data_out - prints a hex dump, as bpftool does).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { listPrograms } from '../kernel/enumerate.js';
import { Program } from '../kernel/program.js';
import { readFileOrStdin } from './input-file.js';
import { CliError, printJson } from './output.js';

export const runHelp = `  run       test-run a loaded program (BPF_PROG_TEST_RUN), as bpftool prog run:
              tsbpf prog run id ID | pinned PATH | name NAME data_in FILE
                [data_out FILE] [ctx_in FILE] [ctx_out FILE] [repeat N] [--json]
            FILE '-' is standard input / output (data_out - is a hex dump)`;

/** The program named as bpftool names programs. */
export function openProgram(how: string | undefined, what: string | undefined): Program {
  switch (how) {
    case 'id': {
      const id = Number(what);
      if (!Number.isInteger(id) || id <= 0) throw new CliError(`bad program id '${what ?? ''}'`, 2);
      return Program.fromId(id);
    }
    case 'pinned':
      if (!what) throw new CliError('pinned needs a path', 2);
      return Program.openPinned(what);
    case 'name': {
      const hits = listPrograms().filter((p) => p.name === what);
      if (hits.length !== 1) throw new CliError(hits.length ? `${hits.length} programs are named '${what}' (ids ${hits.map((p) => p.id).join(', ')}); use id ID` : `no program named '${what}'`);
      return Program.fromId(hits[0]!.id);
    }
    default:
      throw new CliError('which program? use: id ID | pinned PATH | name NAME', 2);
  }
}

/** bpftool's hex dump: offset, eight 16-bit groups, then the bytes as text in two halves. */
export function hexDump(bytes: Uint8Array): string {
  let out = '';
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(i < row.length ? [...row.subarray(i, i + 2)].map((b) => b.toString(16).padStart(2, '0')).join('').padEnd(4, ' ') : '    ');
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    out += `${at.toString(16).padStart(7, '0')}\t${groups.join(' ')} | ${text.slice(0, 8)} ${text.slice(8)}\n`;
  }
  return out;
}

export async function progRun(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  const [how, what, ...rest] = positionals;
  const words: Record<string, string> = {};
  for (let i = 0; i < rest.length; i += 2) {
    const [k, v] = [rest[i]!, rest[i + 1]];
    if (!['data_in', 'data_out', 'ctx_in', 'ctx_out', 'repeat'].includes(k)) throw new CliError(`unknown 'prog run' argument '${k}' (data_in, data_out, ctx_in, ctx_out, repeat)`, 2);
    if (v === undefined) throw new CliError(`${k} needs a value`, 2);
    words[k] = v;
  }
  if (words.data_in === undefined && words.ctx_in === undefined) throw new CliError('give the input: data_in FILE (or ctx_in FILE)', 2);
  const repeat = words.repeat === undefined ? 1 : Number(words.repeat);
  if (!(Number.isInteger(repeat) && repeat >= 1)) throw new CliError(`repeat must be a positive integer, not '${words.repeat}'`, 2);
  const read = async (file: string): Promise<Uint8Array> => {
    try {
      return file === '-' ? await readFileOrStdin('-') : new Uint8Array(readFileSync(file));
    } catch (e) {
      throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
    }
  };
  const data = words.data_in !== undefined ? await read(words.data_in) : undefined;
  const ctx = words.ctx_in !== undefined ? await read(words.ctx_in) : undefined;
  using prog = openProgram(how, what);
  const r = prog.testRun({
    ...(data ? { data } : {}),
    ...(ctx ? { ctx, ctxOutSize: words.ctx_out !== undefined ? ctx.byteLength : 0 } : {}),
    ...(repeat > 1 ? { repeat } : {}),
  });
  const emit = (file: string | undefined, bytes: Uint8Array | undefined): void => {
    if (file === undefined || bytes === undefined) return;
    if (file === '-') {
      if (!values.json) process.stdout.write(hexDump(bytes));
      return;
    }
    try {
      writeFileSync(file, bytes);
    } catch (e) {
      throw new CliError(`cannot write ${file}: ${(e as Error).message}`);
    }
  };
  emit(words.data_out, r.dataOut);
  emit(words.ctx_out, r.ctxOut);
  if (values.json) printJson({ retval: r.retval, duration: r.duration });
  else process.stdout.write(`Return value: ${r.retval >>> 0}, duration${repeat > 1 ? ' (average)' : ''}: ${r.duration}ns\n`);
  return 0;
}
