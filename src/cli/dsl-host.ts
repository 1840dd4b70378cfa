/**
 * The compiler's host on Node: files from disk, the DSL declarations from
 * this package, tracepoint formats from tracefs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompileHost, CompileOptions } from '../dsl/compiler/compile.js';

/**
 * Where the DSL's index.ts/net.ts live. The package ships src/, so the
 * built CLI (dist/cli) uses the same declaration files as tsx (src/cli):
 * a module importing the DSL by relative path into src/dsl then names the
 * very files the compiler recognises. dist/dsl's .d.ts is the fallback.
 */
const here = dirname(fileURLToPath(import.meta.url));
export const dslRoot = [resolve(here, '../dsl'), resolve(here, '../../src/dsl')].find((d) => existsSync(`${d}/index.ts`)) ?? resolve(here, '../dsl');

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
let triedMount = false;

export const nodeHost: CompileHost = {
  readFile(path: string): string | undefined {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  tracepointFormat(group: string, name: string): string | undefined {
    if (!/^[\w-]+$/.test(group) || !/^[\w-]+$/.test(name)) return undefined;
    const read = (): string | undefined => {
      for (const root of TRACEFS) {
        try {
          return readFileSync(`${root}/events/${group}/${name}/format`, 'utf8');
        } catch {
          // try the next mount point
        }
      }
      return undefined;
    };
    const found = read();
    if (found !== undefined || triedMount || existsSync(`${TRACEFS[0]}/events`)) return found;
    // tracefs not mounted: mount it as a user would by hand (needs privileges), then look again.
    triedMount = true;
    spawnSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS[0]!], { stdio: 'ignore' });
    return read();
  },
};

/** The package's src/dsl and dist/dsl: modules in the repository import the DSL relatively from src/. */
const dslAliases = [resolve(dslRoot, '../../src/dsl'), resolve(dslRoot, '../../dist/dsl')].filter((d) => d !== dslRoot);

/** Compile options for a module file on disk. */
export function nodeCompileOptions(entry: string, host: CompileHost = nodeHost): CompileOptions {
  return { entry: resolve(entry), host, dslRoot, dslAliases };
}
