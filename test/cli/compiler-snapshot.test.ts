/**
 * The compiler's start-up snapshot (src/cli/compiler-snapshot.ts): a module
 * compiled in `node --snapshot-blob` must come out byte for byte as the CLI's
 * own process compiles it, with the same diagnostics; a blob that is corrupt,
 * someone else's or writable by others is not used (the CLI compiles
 * itself), a missing one is built in the background. Runs the built package
 * (dist/: the snapshot's script is a bundle made by `npm run build`).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const dist = (p: string) => pathToFileURL(join(ROOT, 'dist', p)).href;
type Client = typeof import('../../src/cli/compiler-snapshot.js');
type Host = typeof import('../../src/cli/dsl-host.js');
type Json = typeof import('../../src/cli/compiled-module-json.js');
type Compiler = typeof import('../../src/dsl/compiler/compile.js');
type Diagnostics = typeof import('../../src/dsl/compiler/diagnostics.js');

const BAD = `import { bpf, type CStr, hashMap, tracepoint, type u64 } from 'tsbpf/dsl';
export const m = hashMap<CStr<16>, u64>({ maxEntries: 1024 });
export const p = tracepoint('syscalls/sys_enter_execve', (ctx) => {
  let comm!: CStr<16>;
  const x: string = 5;
  bpf.currentComm(comm);
  m.increment(comm, "a");
  return ctx.nope;
});
`;

describe('cli: the compiler start-up snapshot', function () {
  this.timeout(300000);
  let client: Client;
  let host: Host;
  let json: Json;
  let compiler: Compiler;
  let diagnostics: Diagnostics;
  let dir: string;
  let cache: string;
  let blob: string;
  let dsl: { dslRoot: string; dslAliases: string[] };

  const build = (into: string) => {
    mkdirSync(dirname(into), { recursive: true, mode: 0o700 });
    const r = spawnSync(process.execPath, [...client.SNAPSHOT_NODE_FLAGS, '--snapshot-blob', into, '--build-snapshot', client.SNAPSHOT_BUNDLE], { encoding: 'utf8', env: { ...process.env, TSBPF_SNAPSHOT_DSL: JSON.stringify(dsl) } });
    expect(r.status, r.stderr).to.equal(0);
    chmodSync(into, 0o600);
  };
  /** The snapshot's answer, and the warnings said. */
  const viaSnapshot = (entry: string) => {
    const warnings: string[] = [];
    const answer = client.compileInSnapshot({ entry, ...dsl }, cache, (m) => warnings.push(m));
    return { answer, warnings };
  };
  /** What the CLI's own process makes of the module, as the snapshot answers it. */
  const inProcess = (entry: string) => {
    const files: Record<string, string> = {};
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    const recording = { ...host.nodeHost, readFile: (p: string) => {
      const t = host.nodeHost.readFile(p);
      if (t !== undefined) files[p] = sha(t);
      return t;
    } };
    try {
      return { module: json.serializeModule(compiler.compile(host.nodeCompileOptions(entry, recording))), files };
    } catch (e) {
      if (e instanceof diagnostics.CompileError) return { diagnostics: e.diagnostics, files };
      throw e;
    }
  };

  before(async function () {
    if (!existsSync(join(ROOT, 'dist/cli/compiler-snapshot.cjs'))) {
      console.log('    (skipped: dist/ is not built; npm install or npm run build builds it)');
      this.skip();
    }
    client = (await import(dist('cli/compiler-snapshot.js'))) as Client;
    host = (await import(dist('cli/dsl-host.js'))) as Host;
    json = (await import(dist('cli/compiled-module-json.js'))) as Json;
    compiler = (await import(dist('dsl/compiler/compile.js'))) as Compiler;
    diagnostics = (await import(dist('dsl/compiler/diagnostics.js'))) as Diagnostics;
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-snap14-'));
    cache = join(dir, 'cache');
    mkdirSync(cache, { mode: 0o700 });
    const { dslRoot, dslAliases = [] } = host.nodeCompileOptions(join(dir, 'x.bpf.ts'));
    dsl = { dslRoot, dslAliases };
    const path = client.snapshotBlobPath(cache, dsl);
    if (path === undefined) {
      // The bundle's record (src/cli/bundle-record.ts) says src/ changed since the bundle was made: the CLI does not use it then.
      console.log('    (skipped: dist/cli/compiler-snapshot.cjs is older than src/; npm run build)');
      this.skip();
    }
    blob = path;
    build(blob);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('compiles every example byte for byte as the CLI process does, reading the same files', () => {
    // examples/tools holds the CO-RE modules (kernel structs that point at each other).
    const examples = ['examples', 'examples/tools'].flatMap((d) => readdirSync(join(ROOT, d)).filter((f) => f.endsWith('.bpf.ts')).map((f) => join(d, f)));
    expect(examples.length).to.be.greaterThan(15);
    for (const f of examples) {
      const entry = join(ROOT, f);
      const { answer, warnings } = viaSnapshot(entry);
      expect(warnings, f).to.deep.equal([]);
      expect(answer, f).to.not.equal(undefined);
      expect(answer, f).to.deep.equal(inProcess(entry));
    }
  });

  it('gives the same diagnostics as the CLI process', () => {
    const entry = join(dir, 'bad.bpf.ts');
    writeFileSync(entry, BAD);
    const { answer } = viaSnapshot(entry);
    const here = inProcess(entry);
    expect(here).to.have.property('diagnostics');
    expect(answer).to.deep.equal(here);
  });

  it('leaves a module naming another lib to the CLI (the bundle holds the libs of es2022 only)', () => {
    const entry = join(dir, 'dom.bpf.ts');
    writeFileSync(entry, `/// <reference lib="dom" />\n${readFileSync(join(ROOT, 'examples/xdp-proto-count.bpf.ts'), 'utf8')}`);
    expect(viaSnapshot(entry)).to.deep.equal({ answer: undefined, warnings: [] });
  });

  it('is not used when TSBPF_COMPILER_SNAPSHOT=0', () => {
    process.env.TSBPF_COMPILER_SNAPSHOT = '0';
    try {
      expect(viaSnapshot(join(ROOT, 'examples/xdp-proto-count.bpf.ts')).answer).to.equal(undefined);
    } finally {
      delete process.env.TSBPF_COMPILER_SNAPSHOT;
    }
  });

  it("works whatever the user's NODE_OPTIONS (V8 refuses a snapshot built with other flags)", () => {
    const before = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = '--max-semi-space-size=1';
    try {
      const { answer, warnings } = viaSnapshot(join(ROOT, 'examples/xdp-proto-count.bpf.ts'));
      expect(warnings).to.deep.equal([]);
      expect(answer).to.have.property('module');
    } finally {
      if (before === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = before;
    }
  });

  it('trusts only a blob the current user wrote and no one else can write', function () {
    const entry = join(ROOT, 'examples/xdp-proto-count.bpf.ts');
    chmodSync(blob, 0o666);
    let r = viaSnapshot(entry);
    expect(r.answer).to.equal(undefined);
    expect(r.warnings.join('\n')).to.match(/writable by group/);
    chmodSync(blob, 0o600);
    if (process.getuid?.() !== 0) return;
    chownSync(blob, 65534, 65534);
    r = viaSnapshot(entry);
    expect(r.answer).to.equal(undefined);
    expect(r.warnings.join('\n')).to.match(/owned by uid 65534/);
    chownSync(blob, 0, 0);
    expect(viaSnapshot(entry).answer).to.have.property('module');
  });

  it('falls back from a corrupt blob and removes it; a missing blob is built in the background; one failing twice is given up', async () => {
    const entry = join(ROOT, 'examples/xdp-proto-count.bpf.ts');
    const good = readFileSync(blob);
    writeFileSync(blob, good.subarray(0, good.length >> 1), { mode: 0o600 });
    let r = viaSnapshot(entry);
    expect(r.answer).to.equal(undefined);
    expect(r.warnings.join('\n')).to.match(/compiler snapshot failed/);
    expect(existsSync(blob), 'the corrupt blob is removed').to.equal(false);
    // The next compile finds none: it starts the build and compiles without it.
    r = viaSnapshot(entry);
    expect(r).to.deep.equal({ answer: undefined, warnings: [] });
    const deadline = Date.now() + 240000;
    while (!existsSync(blob) || existsSync(`${blob}.lock`)) {
      expect(Date.now(), 'the background build finished').to.be.below(deadline);
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(statSync(blob).mode & 0o777).to.equal(0o600);
    const name = blob.slice(dirname(blob).length + 1);
    expect(readdirSync(dirname(blob)).sort()).to.deep.equal([name, `${name}.broken`]);
    expect(viaSnapshot(entry).answer).to.deep.equal(inProcess(entry));
    // The rebuilt one fails too: no snapshot for this Node and package, and no more builds.
    writeFileSync(blob, 'not a snapshot', { mode: 0o600 });
    r = viaSnapshot(entry);
    expect(r.answer).to.equal(undefined);
    expect(r.warnings.join('\n')).to.match(/not using one again/);
    expect(viaSnapshot(entry)).to.deep.equal({ answer: undefined, warnings: [] });
    expect(readdirSync(dirname(blob)).sort()).to.deep.equal([`${name}.broken`, `${name}.failed`]);
    rmSync(`${blob}.broken`);
    rmSync(`${blob}.failed`);
    build(blob);
  });

  it('tsbpf build writes the same object with and without it', () => {
    const out = (name: string, env: NodeJS.ProcessEnv) => {
      const o = join(dir, name);
      const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'build', join(ROOT, 'examples/syscall-top.bpf.ts'), '-o', o, '--no-cache'], { encoding: 'utf8', env: { ...process.env, ...env } });
      expect(r.status, r.stderr).to.equal(0);
      return readFileSync(o);
    };
    // --no-cache: no build cache and so no snapshot; a cache dir of its own: the snapshot.
    const own = out('own.o', {});
    const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli/bin.js'), 'build', join(ROOT, 'examples/syscall-top.bpf.ts'), '-o', join(dir, 'snap.o')], { encoding: 'utf8', env: { ...process.env, TSBPF_CACHE_DIR: cache } });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(readFileSync(join(dir, 'snap.o')).equals(own)).to.equal(true);
  });
});
