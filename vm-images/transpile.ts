/**
 * TypeScript → JavaScript for the guest, done on the host. Under software
 * emulation `node --import tsx` costs 10+ s before the first line runs (the
 * esbuild service starts and every file goes through it), so the guest gets
 * a .js beside each .ts and runs plain node. Per-file transpilation (the
 * project uses isolatedModules and `import type`), cached by content hash.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type TypeScript from 'typescript';
import { cacheDir, writeFileAtomic } from './paths.js';

// Loaded on first use: the guest imports this file (through image.ts) without having typescript.
let ts: typeof TypeScript | undefined;
const typescript = (): typeof TypeScript => (ts ??= createRequire(import.meta.url)('typescript') as typeof TypeScript);

/** True for files that get a .js twin: TypeScript sources, not declarations and not DSL modules (tsbpf compiles those itself). */
export function needsTranspile(path: string): boolean {
  return path.endsWith('.ts') && !path.endsWith('.d.ts') && !path.endsWith('.bpf.ts');
}

export function transpile(source: string, fileName: string): string {
  const hash = createHash('sha256').update(`${typescript().version}\0${fileName}\0${source}`).digest('hex');
  const dir = join(cacheDir(), 'transpiled', hash.slice(0, 2));
  const cached = join(dir, `${hash}.js`);
  if (existsSync(cached)) return readFileSync(cached, 'utf8');
  const t = typescript();
  const compilerOptions: TypeScript.CompilerOptions = {
    module: t.ModuleKind.ESNext,
    target: t.ScriptTarget.ES2022,
    verbatimModuleSyntax: true,
    inlineSourceMap: true, // failures in the guest point at the .ts lines (node --enable-source-maps)
  };
  const out = t.transpileModule(source, { compilerOptions, fileName, reportDiagnostics: false }).outputText;
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(cached, out);
  return out;
}

/** A spec glob for .ts tests made to match their .js twins. */
export const jsSpec = (spec: string): string => spec.replace(/\.ts$/, '.js');
