/**
 * The compiler's host on Node: files from disk, the DSL declarations from
 * this package, tracepoint formats from tracefs.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompileHost, CompileOptions } from '../dsl/compiler/compile.js';
import { ensureTracefs } from '../kernel/fs-mounts.js';
import { isTracepointName, readSourceFile, readTracepointFormat } from './tracepoint-format.js';

/**
 * Where the DSL's index.ts/net.ts live. The package ships src/, so the
 * built CLI (dist/cli) uses the same declaration files as tsx (src/cli):
 * a module importing the DSL by relative path into src/dsl then names the
 * very files the compiler recognises. dist/dsl's .d.ts is the fallback.
 */
const here = dirname(fileURLToPath(import.meta.url));
export const dslRoot = [resolve(here, '../dsl'), resolve(here, '../../src/dsl')].find((d) => existsSync(`${d}/index.ts`)) ?? resolve(here, '../dsl');


export const nodeHost: CompileHost = {
  readFile: readSourceFile,
  tracepointFormat(group: string, name: string): string | undefined | { unavailable: string } {
    if (!isTracepointName(group, name)) return undefined;
    let root: string;
    try {
      root = ensureTracefs(); // mounts it where missing (root only); the error says how otherwise
    } catch (e) {
      return { unavailable: (e as Error).message };
    }
    return readTracepointFormat(root, group, name);
  },
};

/** The package's src/dsl and dist/dsl: modules in the repository import the DSL relatively from src/. */
const dslAliases = [resolve(dslRoot, '../../src/dsl'), resolve(dslRoot, '../../dist/dsl')].filter((d) => d !== dslRoot);

/** Compile options for a module file on disk. */
export function nodeCompileOptions(entry: string, host: CompileHost = nodeHost): CompileOptions {
  return { entry: resolve(entry), host, dslRoot, dslAliases };
}
