/**
 * Real inputs the targets mutate: the clang objects in bpf-tests (and the
 * corpus under bpf-tests/corpus when built), the BTF fixtures, the
 * bpf_conformance programs (when /work/shared/conformance or
 * TSBPF_CONFORMANCE_DIR is present), the example and twin modules and the
 * module examples of docs/language.md.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('../', import.meta.url).pathname;

function filesUnder(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(suffix)).sort().map((f) => join(dir, f));
}

let objects: Array<{ name: string; bytes: Uint8Array }> | undefined;

/** Every clang-built BPF object the repository has. */
export function seedObjects(): Array<{ name: string; bytes: Uint8Array }> {
  objects ??= [
    ...filesUnder(join(ROOT, 'bpf-tests'), '.bpf.o'),
    ...filesUnder(join(ROOT, 'bpf-tests/dsl-twins'), '.bpf.o'),
    ...filesUnder(join(ROOT, 'bpf-tests/negative'), '.bpf.o'),
    ...filesUnder(join(ROOT, 'bpf-tests/corpus'), '.bpf.o'),
    ...filesUnder(join(ROOT, 'test/btf/fixtures'), '.bpf.o'),
    ...filesUnder(join(ROOT, 'test/elf/fixtures'), '.bpf.o'),
  ].map((path) => ({ name: path.slice(ROOT.length), bytes: new Uint8Array(readFileSync(path)) }));
  return objects;
}

/** The conformance suite's directory, when present. */
export function conformanceDir(): string | undefined {
  const dir = process.env.TSBPF_CONFORMANCE_DIR ?? '/work/shared/conformance/tests';
  return existsSync(dir) ? dir : undefined;
}

let conformance: string[] | undefined;

/** The text of every conformance test file (empty when the suite is absent). */
export function seedConformance(): string[] {
  const dir = conformanceDir();
  conformance ??= dir ? filesUnder(dir, '.data').map((p) => readFileSync(p, 'utf8')) : [];
  return conformance;
}

/** Repository imports of the DSL, rewritten to the package names a module outside the repository uses. */
function packageImports(source: string): string {
  return source.replace(/'(?:\.\.\/)+src\/dsl\/index\.js'/g, "'tsbpf/dsl'").replace(/'(?:\.\.\/)+src\/dsl\/net\.js'/g, "'tsbpf/dsl/net'");
}

let modules: string[] | undefined;

/** Module sources: examples, DSL twins of the C tests, and the whole-module and diagnostic examples of docs/language.md. */
export function seedModules(): string[] {
  if (modules) return modules;
  const files = [...filesUnder(join(ROOT, 'examples'), '.bpf.ts'), ...filesUnder(join(ROOT, 'bpf-tests/dsl-twins'), '.bpf.ts')];
  const doc = readFileSync(join(ROOT, 'docs/language.md'), 'utf8');
  const docBlocks = [...doc.matchAll(/^```ts(?: TSBPF_[A-Z0-9_]+ \d+:\d+(?: missing)?)?\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).filter((s) => s.includes("from 'tsbpf/dsl"));
  modules = [...files.map((f) => packageImports(readFileSync(f, 'utf8'))), ...docBlocks];
  return modules;
}
