/**
 * Build cache for `tsbpf run`/`build`: a compiled module is stored under a
 * hash of the entry's path and text, the DSL and the compiler's own code;
 * it is reused while every file the compiler read still has the same hash.
 *
 * The key is computable by anyone, and `sudo -E` keeps a user's HOME or
 * TSBPF_CACHE_DIR, so root may be pointed at a place another user can write:
 * the cache directory is made 0700, and it and each entry are used only when
 * owned by the current user and not writable by group or others; an entry
 * also carries the hash of its content, checked before it is used.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompiledModule } from '../dsl/compiler/compile.js';
import { prepareCacheDir, untrusted } from './cache-trust.js';
import { deserializeModule, serializeModule } from './compiled-module-json.js';
import { compileInSnapshot } from './compiler-snapshot.js';
import { CompileError } from '../dsl/compiler/diagnostics.js';
import { nodeCompileOptions, nodeHost } from './dsl-host.js';
import { recordingReads, sha256 } from './file-hashes.js';

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

/** Reads a cache entry if it is a regular file of ours that no one else can write; else says why not. */
function readTrusted(file: string): { text: string } | { refused: string } | undefined {
  let fd: number;
  try {
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return { refused: `cache entry ${file} cannot be opened (${code === 'ELOOP' ? 'it is a symbolic link' : code})` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { refused: `cache entry ${file} is not a regular file` };
    const why = untrusted(st, `cache entry ${file}`);
    if (why) return { refused: why };
    return { text: readFileSync(fd, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

interface StoredEntry {
  files: Record<string, string>;
  module: string;
  /** sha256 of `module`, so a truncated or edited entry is never used. */
  moduleHash: string;
}

export interface CachedCompile {
  module: CompiledModule;
  cached: boolean;
}

/**
 * Compiles a module file, or returns the cached result of an identical earlier
 * build. The compiler (ts-morph and TypeScript, most of `tsbpf run`'s start-up)
 * is never loaded on a hit; a miss compiles in the compiler's start-up
 * snapshot when there is one (compiler-snapshot.ts), else in this process.
 */
export async function compileCached(
  entryPath: string,
  options: {
    cache?: boolean;
    warn?: (message: string) => void;
    /** false: a miss compiles in this process (the engine, whose compiler is loaded and warm), not in the start-up snapshot. */
    snapshot?: boolean;
  } = {},
): Promise<CachedCompile> {
  const warn = options.warn ?? ((m: string) => process.stderr.write(`tsbpf: warning: ${m}\n`));
  const entry = resolve(entryPath);
  const text = nodeHost.readFile(entry);
  const key = sha256(`${entry}\0${text ?? ''}\0${compilerVersion()}`);
  const dir = cacheDir();
  const file = join(dir, `${key}.json`);
  let useCache = options.cache !== false;
  if (useCache) {
    try {
      const why = prepareCacheDir(dir);
      if (why) {
        warn(`not using the build cache: ${why}`);
        useCache = false;
      }
    } catch {
      useCache = false; // caching is best effort (read-only HOME, …)
    }
  }
  if (useCache && text !== undefined) {
    const read = readTrusted(file);
    if (read && 'refused' in read) warn(`ignoring ${read.refused}; rebuilding`);
    else if (read) {
      try {
        const stored = JSON.parse(read.text) as StoredEntry;
        if (typeof stored.module !== 'string' || sha256(stored.module) !== stored.moduleHash) {
          warn(`ignoring cache entry ${file}: its content does not match its hash; rebuilding`);
        } else {
          // The key already covers the entry's text; only the files it imports need reading again.
          const fresh = Object.entries(stored.files).every(([p, h]) => {
            if (p === entry) return true;
            const t = nodeHost.readFile(p);
            return t !== undefined && sha256(t) === h;
          });
          if (fresh) return { module: deserializeModule(stored.module), cached: true };
        }
      } catch {
        warn(`ignoring cache entry ${file}: it is not a valid entry; rebuilding`);
      }
    }
  }
  const { dslRoot, dslAliases = [] } = nodeCompileOptions(entry);
  const viaSnapshot = useCache && options.snapshot !== false ? compileInSnapshot({ entry, dslRoot, dslAliases }, dir, warn) : undefined;
  if (viaSnapshot && 'diagnostics' in viaSnapshot) throw new CompileError(viaSnapshot.diagnostics);
  const { module, files, serialized } = viaSnapshot
    ? { module: deserializeModule(viaSnapshot.module), files: viaSnapshot.files, serialized: viaSnapshot.module }
    : await compileHere(entry);
  if (useCache) {
    try {
      const tmp = `${file}.${process.pid}.tmp`;
      const stored: StoredEntry = { files, module: serialized, moduleHash: sha256(serialized) };
      // 'wx': never write through a file (or link) someone placed at the temporary name.
      writeFileSync(tmp, JSON.stringify(stored), { mode: 0o600, flag: 'wx' });
      renameSync(tmp, file);
    } catch {
      // caching is best effort
    }
  }
  return { module, cached: false };
}

/** Compiles in this process (loading TypeScript), recording each file read with its hash. */
async function compileHere(entry: string): Promise<{ module: CompiledModule; files: Record<string, string>; serialized: string }> {
  const files: Record<string, string> = {};
  const host = { ...nodeHost, readFile: recordingReads(nodeHost.readFile, files) };
  const { compile } = await import('../dsl/compiler/compile.js');
  const module = compile(nodeCompileOptions(entry, host));
  return { module, files, serialized: serializeModule(module) };
}
