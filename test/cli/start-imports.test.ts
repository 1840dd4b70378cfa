/**
 * Start-up footprint (issue 14): what a command imports before it runs. The
 * TypeScript compiler (ts-morph + TypeScript, ~13 MB of JavaScript, ~300 ms
 * of CPU to load) must be imported lazily, on a build-cache miss only: a
 * cached `tsbpf run`, `tsbpf load`, `map`, `prog` and `--version` never load
 * it. The check walks the static imports of src/ as Node runs them
 * (verbatimModuleSyntax keeps `import { type X }` as an import; only
 * `import type` and dynamic `import()` are not followed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const STATIC_IMPORT = /^\s*(import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;

/** Every package a file reaches through static imports, each with the chain of files that leads to it. */
function staticPackages(entry: string): Map<string, string[]> {
  const via = new Map<string, string | null>([[entry, null]]);
  const packages = new Map<string, string[]>();
  const queue = [entry];
  const chain = (file: string): string[] => {
    const out: string[] = [];
    for (let f: string | null | undefined = file; f; f = via.get(f)) out.push(f.slice(src.length + 1));
    return out;
  };
  while (queue.length) {
    const file = queue.shift()!;
    for (const [, , spec] of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      if (spec!.startsWith('.')) {
        const target = resolve(dirname(file), spec!.replace(/\.js$/, '.ts'));
        if (!existsSync(target) || via.has(target)) continue;
        via.set(target, file);
        queue.push(target);
      } else if (!spec!.startsWith('node:') && !packages.has(spec!)) {
        packages.set(spec!, chain(file));
      }
    }
  }
  return packages;
}

describe('cli start-up imports', () => {
  const compiler = ['ts-morph', 'typescript'];
  for (const entry of ['cli/bin.ts', 'cli/main.ts', 'cli/commands/run.ts', 'cli/commands/load.ts', 'cli/commands/map.ts', 'cli/commands/prog.ts', 'cli/commands/link.ts']) {
    it(`${entry} does not import the TypeScript compiler statically`, () => {
      const packages = staticPackages(resolve(src, entry));
      for (const name of compiler) expect(packages.get(name), `${name} reached through ${packages.get(name)?.join(' <- ')}`).to.equal(undefined);
    });
  }

  it('the walk does find the compiler where it is imported (compile.ts)', () => {
    expect(staticPackages(resolve(src, 'dsl/compiler/compile.ts')).has('ts-morph')).to.equal(true);
  });

  it('bin.ts and main.ts import nothing but Node built-ins (--version, --help)', () => {
    expect([...staticPackages(resolve(src, 'cli/bin.ts')).keys()]).to.deep.equal([]);
  });
});
