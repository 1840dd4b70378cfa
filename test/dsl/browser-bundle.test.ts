/**
 * The compiler in a browser bundle: a user's entry imports tsbpf/compiler and
 * the module language's declarations (tsbpf/dsl/source/*.ts, as text) through
 * the package's exports, esbuild bundles it for the browser, and the bundle
 * runs in a sandbox with no Node globals (no process, require or fs),
 * compiling a module from memory to the same object the CLI's compiler writes.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInContext, createContext } from 'node:vm';
import { nodeCompileOptions } from '../../src/cli/dsl-host.js';
import { compile } from '../../src/dsl/compiler/compile.js';
import { encode } from '../../src/asm/codec.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A module as a user writes it (imports tsbpf/dsl and tsbpf/dsl/net). */
const moduleSource = readFileSync(join(ROOT, 'examples/xdp-proto-count.bpf.ts'), 'utf8');

const entry = `import { compile, memoryHost, writeObject } from 'tsbpf/compiler';
import { encode } from 'tsbpf/asm';
import index from 'tsbpf/dsl/source/index.ts' with { type: 'text' };
import net from 'tsbpf/dsl/source/net.ts' with { type: 'text' };
import kernel from 'tsbpf/dsl/source/kernel.ts' with { type: 'text' };
const host = memoryHost({ '/dsl/index.ts': index, '/dsl/net.ts': net, '/dsl/kernel.ts': kernel, '/m.bpf.ts': ${JSON.stringify(moduleSource)} });
const mod = compile({ entry: '/m.bpf.ts', host, dslRoot: '/dsl' });
globalThis.result = { programs: mod.programs.map((p) => p.name), code: mod.programs.map((p) => Array.from(encode(p.instructions))), object: writeObject(mod).length };
`;

describe('the compiler in a browser bundle (esbuild)', function () {
  let dir: string;
  before(function () {
    // dist/ is what the package's exports name (built by npm install); esbuild comes with tsx.
    if (!existsSync(join(ROOT, 'dist/dsl/compiler/index.js'))) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-browser-user-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules/tsbpf'));
    writeFileSync(join(dir, 'entry.js'), entry);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('bundles for the browser through the package exports and compiles a module with no Node globals', async () => {
    const esbuild = createRequire(join(ROOT, 'node_modules/tsx/package.json'))('esbuild') as typeof import('esbuild');
    const built = await esbuild.build({ entryPoints: [join(dir, 'entry.js')], bundle: true, platform: 'browser', format: 'iife', write: false, logLevel: 'silent', absWorkingDir: dir });
    expect(built.errors).to.deep.equal([]);
    const sandbox: Record<string, unknown> = { TextEncoder, TextDecoder, console, setTimeout, clearTimeout, queueMicrotask, URL, performance };
    sandbox.globalThis = sandbox;
    sandbox.self = sandbox;
    createContext(sandbox);
    runInContext(built.outputFiles[0]!.text, sandbox);
    const result = sandbox.result as { programs: string[]; code: number[][]; object: number };
    expect(result.programs).to.deep.equal(['countProtocols']);
    expect(result.object).to.be.greaterThan(1000);
    // The same code as the CLI's compiler makes of the same module on disk.
    const file = join(dir, 'm.bpf.ts');
    writeFileSync(file, moduleSource);
    const onNode = compile(nodeCompileOptions(file));
    expect(result.code).to.deep.equal(onNode.programs.map((p) => Array.from(encode(p.instructions))));
  });
});
