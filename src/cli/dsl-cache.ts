/**
 * Build cache for `tsbpf run`/`build`: a compiled module is stored under a
 * hash of the entry's path and text, the DSL and the compiler's own code;
 * it is reused while every file the compiler read still has the same hash.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompiledModule } from '../dsl/compiler/compile.js';
import { nodeCompileOptions, nodeHost } from './dsl-host.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let compilerHash: string | undefined;
/** A hash of the compiler's code, so a changed compiler never reuses old output. */
function compilerVersion(): string {
  if (compilerHash) return compilerHash;
  const dir = resolve(dirname(fileURLToPath(import.meta.url)), '../dsl/compiler');
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) if (/\.(ts|js)$/.test(f)) h.update(f).update(readFileSync(join(dir, f)));
  compilerHash = h.digest('hex');
  return compilerHash;
}

export const cacheDir = (): string => process.env.TSBPF_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tsbpf');

function serialize(mod: CompiledModule): string {
  return JSON.stringify(mod, (_k, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v instanceof Uint8Array ? { $bytes: Buffer.from(v).toString('hex') } : v));
}

function deserialize(text: string): CompiledModule {
  return JSON.parse(text, (_k, v) => {
    if (v && typeof v === 'object' && '$bigint' in v) return BigInt(v.$bigint);
    if (v && typeof v === 'object' && '$bytes' in v) return new Uint8Array(Buffer.from(v.$bytes, 'hex'));
    return v;
  }) as CompiledModule;
}

export interface CachedCompile {
  module: CompiledModule;
  cached: boolean;
}

/**
 * Compiles a module file, or returns the cached result of an identical earlier
 * build. The compiler (ts-morph and TypeScript, most of `tsbpf run`'s start-up)
 * is imported only on a cache miss, so a cached run never loads it.
 */
export async function compileCached(entryPath: string, options: { cache?: boolean } = {}): Promise<CachedCompile> {
  const entry = resolve(entryPath);
  const text = nodeHost.readFile(entry);
  const key = sha(`${entry}\0${text ?? ''}\0${compilerVersion()}`);
  const file = join(cacheDir(), `${key}.json`);
  if (options.cache !== false && text !== undefined) {
    try {
      const stored = JSON.parse(readFileSync(file, 'utf8')) as { files: Record<string, string>; module: string };
      // The key already covers the entry's text; only the files it imports need reading again.
      const fresh = Object.entries(stored.files).every(([p, h]) => {
        if (p === entry) return true;
        const t = nodeHost.readFile(p);
        return t !== undefined && sha(t) === h;
      });
      if (fresh) return { module: deserialize(stored.module), cached: true };
    } catch {
      // no usable cache entry
    }
  }
  const files: Record<string, string> = {};
  const host = {
    ...nodeHost,
    readFile(p: string) {
      const t = nodeHost.readFile(p);
      if (t !== undefined) files[p] = sha(t);
      return t;
    },
  };
  const { compile } = await import('../dsl/compiler/compile.js');
  const module = compile(nodeCompileOptions(entry, host));
  if (options.cache !== false) {
    try {
      mkdirSync(cacheDir(), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ files, module: serialize(module) }));
      renameSync(tmp, file);
    } catch {
      // caching is best effort
    }
  }
  return { module, cached: false };
}
