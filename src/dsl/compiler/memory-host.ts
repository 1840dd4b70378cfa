/**
 * A CompileHost over files held in memory, for the compiler where there is
 * no file system (a browser, a web playground, a test). The module language's
 * own declarations are the package's `tsbpf/dsl/source/*.ts` files, which a
 * bundler imports as text.
 */
import type { CompileHost } from './compile.js';

/** The declaration files of the module language, by name under `dslRoot`. */
export const DSL_SOURCE_FILES = ['index.ts', 'net.ts', 'kernel.ts'] as const;

/**
 * A host that reads `files` (absolute path → text); tracepoint formats, which
 * type a tracepoint program's ctx, come from `tracepointFormats` keyed
 * 'group/name' (tracefs's format text), when given.
 *
 * @example
 * import { compile, memoryHost, writeObject } from 'tsbpf/compiler';
 * import index from 'tsbpf/dsl/source/index.ts' with { type: 'text' };
 * import net from 'tsbpf/dsl/source/net.ts' with { type: 'text' };
 * import kernel from 'tsbpf/dsl/source/kernel.ts' with { type: 'text' };
 *
 * const host = memoryHost({ '/dsl/index.ts': index, '/dsl/net.ts': net, '/dsl/kernel.ts': kernel, '/m.bpf.ts': source });
 * const object = writeObject(compile({ entry: '/m.bpf.ts', host, dslRoot: '/dsl' }));
 */
export function memoryHost(files: Readonly<Record<string, string>>, tracepointFormats: Readonly<Record<string, string>> = {}): CompileHost {
  return {
    readFile: (path) => files[path],
    tracepointFormat: (group, name) => tracepointFormats[`${group}/${name}`],
  };
}
