/**
 * Start-up footprint (issue 14): what a command imports before it runs. The
 * TypeScript compiler (ts-morph + TypeScript, ~13 MB of JavaScript, ~300 ms
 * of CPU to load) must be imported lazily, on a build-cache miss only: a
 * cached `tsbpf run`, `tsbpf load`, `map`, `prog` and `--version` never load
 * it. The check walks the static imports of src/ as Node runs them
 * (verbatimModuleSyntax keeps `import { type X }` as an import; only
 * `import type` and dynamic `import()` are not followed). The built CLI runs
 * from bundles (dist/cli/tsbpf-cli-<command>.js, scripts/bundle.mjs): the
 * same walk over their files checks that esbuild kept the compiler, and koffi
 * for --version and --help, behind a dynamic import.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const STATIC_IMPORT = /^\s*(import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;

/** Every package a file reaches through static imports, each with the chain of files that leads to it (names relative to `root`). */
function staticPackages(entry: string, root = src): Map<string, string[]> {
  const via = new Map<string, string | null>([[entry, null]]);
  const packages = new Map<string, string[]>();
  const queue = [entry];
  const chain = (file: string): string[] => {
    const out: string[] = [];
    for (let f: string | null | undefined = file; f; f = via.get(f)) out.push(f.slice(root.length + 1));
    return out;
  };
  while (queue.length) {
    const file = queue.shift()!;
    for (const [, , spec] of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      if (spec!.startsWith('.')) {
        const target = resolve(dirname(file), root === src ? spec!.replace(/\.js$/, '.ts') : spec!);
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
    expect([...staticPackages(resolve(src, 'cli/main.ts')).keys()]).to.deep.equal([]);
  });
});

describe('cli start-up imports of the bundles (dist/cli/tsbpf-cli*.js)', () => {
  const cliDir = resolve(src, '../dist/cli');
  const bundle = (name: string) => resolve(cliDir, `${name}.js`);

  before(function () {
    if (!existsSync(bundle('tsbpf-cli'))) {
      console.log('    (skipped: dist/ is not built; npm install or npm run build builds it)');
      this.skip();
    }
  });

  it('has a bundle for every command', () => {
    const commands = readdirSync(resolve(src, 'cli/commands')).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
    for (const c of commands) expect(existsSync(bundle(`tsbpf-cli-${c}`)), c).to.equal(true);
  });

  it('the bundle without a command (--version, --help) imports no package: no koffi, no compiler', () => {
    expect([...staticPackages(bundle('tsbpf-cli'), cliDir).keys()]).to.deep.equal([]);
  });

  /** The chunk holding the command, which the bundle's main imports by name. */
  const commandChunk = (name: string): string => {
    const chunks = [...readFileSync(bundle(`tsbpf-cli-${name}`), 'utf8').matchAll(/\bimport\("\.\/([^"]+)"\)/g)].map((m) => m[1]!);
    expect(chunks, `the dynamic imports of tsbpf-cli-${name}.js`).to.have.length(1);
    return resolve(cliDir, chunks[0]!);
  };

  for (const name of ['run', 'load', 'map', 'prog', 'link']) {
    it(`tsbpf ${name}'s bundle does not import the TypeScript compiler statically`, () => {
      expect([...staticPackages(bundle(`tsbpf-cli-${name}`), cliDir).keys()], 'main').to.deep.equal([]);
      const packages = staticPackages(commandChunk(name), cliDir);
      expect(packages.has('koffi'), 'the walk finds koffi where the kernel layer is').to.equal(true);
      for (const pkg of ['ts-morph', 'typescript']) expect(packages.get(pkg), `${pkg} reached through ${packages.get(pkg)?.join(' <- ')}`).to.equal(undefined);
    });
  }

  it("the walk does find the compiler in run's bundle, behind its dynamic import (a build-cache miss)", () => {
    const chunks = readdirSync(cliDir).filter((f) => /^tsbpf-cli-run-[A-Z0-9]+\.js$/.test(f));
    expect(chunks.filter((f) => staticPackages(resolve(cliDir, f), cliDir).has('ts-morph'))).to.have.length(1);
  });
});
