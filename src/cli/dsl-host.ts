/**
 * The compiler's host on Node: files from disk, the DSL declarations from
 * this package, tracepoint formats from tracefs.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompileHost, CompileOptions } from '../dsl/compiler/compile.js';

/** Where the DSL's index.ts/net.ts (or .d.ts when running from dist/) live. */
export const dslRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../dsl');

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

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
    for (const root of TRACEFS) {
      try {
        return readFileSync(`${root}/events/${group}/${name}/format`, 'utf8');
      } catch {
        // try the next mount point
      }
    }
    return undefined;
  },
};

/** Compile options for a module file on disk. */
export function nodeCompileOptions(entry: string, host: CompileHost = nodeHost): CompileOptions {
  return { entry: resolve(entry), host, dslRoot };
}
