/**
 * The user-space half of a module for `tsbpf run`: a module that exports
 * `main(live, args)` gets it called after its programs are attached, with
 * typed handles (`live`, as `loadModule` gives) and the command line after
 * `--`. When main returns (or throws), run detaches and exits.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './output.js';

/** What `main` receives besides `live`. */
export interface ModuleArgs {
  /** Options after `--`, parsed by the module's `export const options` (node:util parseArgs config) or loosely. */
  values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  positionals: string[];
  /** The raw arguments after `--`. */
  argv: string[];
  /** Aborted on Ctrl-C, SIGTERM or the end of --duration; event streams end then too. */
  signal: AbortSignal;
  /**
   * When to print, as bcc's interval tools do: every `seconds` (`count`
   * times at most, and once more when stopped early), or once when stopped
   * without `seconds`. Each step is the number of the report, from 1.
   */
  reports(seconds: number | undefined, count?: number): AsyncIterable<number>;
}

/** The steps of ModuleArgs.reports for `signal`. */
async function* reports(signal: AbortSignal, seconds: number | undefined, count = Infinity): AsyncGenerator<number> {
  const stopped = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  if (seconds === undefined) {
    await stopped;
    yield 1;
    return;
  }
  for (let i = 1; i <= count && !signal.aborted; i++) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([stopped, new Promise((r) => (timer = setTimeout(r, seconds * 1000)))]);
    clearTimeout(timer); // a pending timer would keep the process alive after Ctrl-C
    yield i;
  }
}

export type UserMain = (live: unknown, args: ModuleArgs) => unknown;

/** Cheap check before importing: does the module's text export a `main`? */
export function exportsMain(file: string): boolean {
  try {
    return /\bexport\s+(?:async\s+)?function\s+main\b|\bexport\s+const\s+main\b/.test(readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
}

/** Imports the module in Node (TypeScript through tsx) and returns its main and option config. */
export async function importUserMain(file: string): Promise<{ main: UserMain; options?: ParseArgsConfig['options'] }> {
  const { tsImport } = await import('tsx/esm/api');
  const ns = (await tsImport(pathToFileURL(file).href, import.meta.url)) as { main?: unknown; options?: ParseArgsConfig['options']; default?: { main?: unknown } };
  const main = ns.main ?? ns.default?.main;
  if (typeof main !== 'function') throw new CliError(`${file}: its export 'main' is not a function`, 2);
  return { main: main as UserMain, ...(ns.options ? { options: ns.options } : {}) };
}

/** Parses the arguments after `--` with the module's options (strict), or loosely when it declares none. */
export function parseModuleArgs(argv: string[], options: ParseArgsConfig['options'] | undefined, signal: AbortSignal): ModuleArgs {
  try {
    const { values, positionals } = options
      ? parseArgs({ args: argv, options, allowPositionals: true, strict: true })
      : parseArgs({ args: argv, allowPositionals: true, strict: false });
    return { values: values as ModuleArgs['values'], positionals, argv, signal, reports: (seconds, count) => reports(signal, seconds, count) };
  } catch (e) {
    throw new CliError(`arguments after --: ${(e as Error).message}`, 2);
  }
}
