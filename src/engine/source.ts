/**
 * From what a client names to an object spec: a `.bpf.ts` module is compiled
 * by the engine's warm compiler into a BPF ELF object (the same object `tsbpf
 * build` writes), a `.o` is read as it is; both then take the one loader road
 * (parseObject → loadCollection). The object's bytes are kept with the module.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { CompileError, formatDiagnostic } from '../dsl/compiler/diagnostics.js';
import { ElfError } from '../elf/errors.js';
import type { ObjectSpec } from '../elf/object-spec.js';
import { parseObject } from '../elf/parse-object.js';
import { setVariable } from '../elf/variables.js';
import { EngineProtocolError, type ModuleSource } from './protocol.js';

/** Compiles a `.bpf.ts` file to a BPF ELF object (the CLI passes the cached, warm compiler in). */
export type CompileModule = (entry: string) => Promise<Uint8Array>;

export interface PreparedModule {
  bytes: Uint8Array;
  spec: ObjectSpec;
  hash: string;
  /** The file, or "inline". */
  source: string;
}

export const isTypeScriptModule = (file: string): boolean => /\.ts$/.test(file);

export async function prepareSource(src: ModuleSource, compile: CompileModule | undefined): Promise<PreparedModule> {
  if ((src.file === undefined) === (src.object === undefined)) throw new EngineProtocolError('E_BAD_REQUEST', 'give exactly one of "file" (a path the engine reads) or "object" (base64 ELF)');
  let bytes: Uint8Array;
  let source: string;
  if (src.file !== undefined) {
    if (!src.file.startsWith('/')) throw new EngineProtocolError('E_BAD_REQUEST', `"file" must be an absolute path, got ${JSON.stringify(src.file)}`);
    source = src.file;
    if (isTypeScriptModule(src.file)) {
      if (!compile) throw new EngineProtocolError('E_UNSUPPORTED', 'this engine has no compiler; load a built object (tsbpf build) instead');
      try {
        bytes = await compile(src.file);
      } catch (e) {
        if (e instanceof CompileError) {
          throw new EngineProtocolError('E_COMPILE', `${src.file} does not compile (${e.diagnostics.length} problem${e.diagnostics.length === 1 ? '' : 's'})`, e.diagnostics.map(formatDiagnostic));
        }
        throw new EngineProtocolError('E_COMPILE', `${src.file}: ${(e as Error).message}`);
      }
    } else {
      try {
        bytes = new Uint8Array(readFileSync(src.file));
      } catch (e) {
        throw new EngineProtocolError('E_SOURCE', `cannot read ${src.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  } else {
    source = 'inline';
    bytes = new Uint8Array(Buffer.from(src.object!, 'base64'));
  }
  return { bytes, spec: parseSpec(bytes, source), hash: createHash('sha256').update(bytes).digest('hex'), source };
}

/** Parses an object; a bad one is E_SOURCE with the section and offset the ELF reader names. */
export function parseSpec(bytes: Uint8Array, source: string): ObjectSpec {
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new EngineProtocolError('E_SOURCE', `${source} is neither a .bpf.ts module nor a BPF ELF object`);
  }
  const name = basename(source).split('.')[0] || 'module';
  try {
    return parseObject(bytes, { name });
  } catch (e) {
    if (e instanceof ElfError) throw new EngineProtocolError('E_SOURCE', `${source}: ${e.message}`);
    throw e;
  }
}

/** Sets rodata/data globals; a string of digits is an integer, other strings are strings. */
export function applySettings(spec: ObjectSpec, set: Record<string, string | number> | undefined): void {
  for (const [name, raw] of Object.entries(set ?? {})) {
    let value: bigint | string;
    if (typeof raw === 'number') value = BigInt(Math.trunc(raw));
    else if (/^-?(0x[0-9a-f]+|\d+)$/i.test(raw)) value = raw.startsWith('-') ? -BigInt(raw.slice(1)) : BigInt(raw);
    else value = raw;
    try {
      setVariable(spec, name, value);
    } catch (e) {
      throw new EngineProtocolError('E_BAD_REQUEST', `set ${name}: ${(e as Error).message}`);
    }
  }
}
