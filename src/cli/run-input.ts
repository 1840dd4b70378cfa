/**
 * What `tsbpf run`/`build` were given, decided before anything parses it:
 * a TypeScript module, a BPF ELF object (by its magic, whatever the name),
 * or something else, which gets one clear line instead of a TypeScript
 * diagnostic on binary bytes or an internal error.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { CliError } from './output.js';

export type RunInput = { kind: 'module'; path: string } | { kind: 'object'; path: string };

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
/** Module files the compiler reads. */
const MODULE_EXTENSIONS = new Set(['.ts', '.mts']);
/** C and friends: what the user probably meant to build with clang first. */
const C_EXTENSIONS = new Set(['.c', '.h', '.cc', '.cpp']);

/** The first bytes of `path` (at most `n`). */
function head(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/**
 * Classifies `path` for `verb` ('run' or 'build'); throws a CliError (exit
 * status 1) naming the file and what to do for a missing file, a directory,
 * an empty file, C source, and bytes that are neither ELF nor text.
 */
export function classifyRunInput(path: string, verb: 'run' | 'build', objects = verb === 'run'): RunInput {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new CliError(`${path} is a directory: give a module file (.bpf.ts)${objects ? ' or a BPF ELF object (.o)' : ''}`);
    if (!st.isFile()) throw new CliError(`${path} is not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${path}: no such file` : `cannot read ${path}: ${(e as Error).message}`);
  }
  const ext = extname(path).toLowerCase();
  if (size === 0) throw new CliError(`${path} is empty: give a module file (.bpf.ts)${objects ? ' or a BPF ELF object (.o)' : ''}`);
  let bytes: Uint8Array;
  try {
    bytes = head(path, 4096);
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (ELF_MAGIC.every((b, i) => bytes[i] === b)) {
    if (objects) return { kind: 'object', path };
    throw new CliError(`${path} is an ELF object, not a module: 'tsbpf ${verb}' compiles .bpf.ts modules (run it with 'tsbpf run ${path}', load it with 'tsbpf load ${path}')`);
  }
  if (C_EXTENSIONS.has(ext)) {
    const out = path.replace(/(\.bpf)?\.[^.]+$/, '') + '.bpf.o';
    throw new CliError(`${path} is C source: build it with 'clang -target bpf -O2 -g -c ${path} -o ${out}'${objects ? `, then 'tsbpf run ${out}'` : ''}`);
  }
  if (ext === '.o' || ext === '.elf') throw new CliError(`${path} is not an ELF object (it does not start with \\x7fELF)`);
  if (bytes.includes(0) || !isUtf8(bytes)) throw new CliError(`${path} is neither a TypeScript module nor a BPF ELF object (binary data)`);
  if (!MODULE_EXTENSIONS.has(ext)) throw new CliError(`${path}: give a TypeScript module (.bpf.ts)${objects ? ' or a BPF ELF object (.o)' : ''}`);
  return { kind: 'module', path };
}

/** Whether `bytes` (possibly cut in the middle of a character at the end) are UTF-8. */
function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}
