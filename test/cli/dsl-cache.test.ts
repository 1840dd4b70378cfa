/**
 * The build cache of `tsbpf build`/`run`: a cache hit must not load the
 * compiler (ts-morph + TypeScript are most of a cold start), so that a cached
 * `tsbpf run` starts fast. Each step runs in a fresh Node process, as a user's
 * command would.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { needKernel } from '../support/kernel.js';

const cacheModule = new URL('../../src/cli/dsl-cache.ts', import.meta.url).href;

const MODULE = `import { xdp, arrayMap, XdpAction, type u64 } from 'tsbpf/dsl';
export const seen = arrayMap<u64>({ maxEntries: 1 });
export const countAll = xdp(() => {
  seen.increment(0);
  return XdpAction.PASS;
});
`;

/** Calls compileCached in a new process; reports the result and whether ts-morph got loaded. */
interface ChildResult {
  cached: boolean;
  programs: string[];
  compilerLoaded: boolean;
  stderr?: string;
}

function compileInChild(entry: string, cacheDir: string, withStderr = false): ChildResult {
  const script = `
    import { createRequire } from 'node:module';
    const { compileCached } = await import(${JSON.stringify(cacheModule)});
    const c = await compileCached(${JSON.stringify(entry)});
    const compilerLoaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/ts-morph/'));
    process.stdout.write(JSON.stringify({ cached: c.cached, programs: c.module.programs.map((p) => p.name), compilerLoaded }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, TSBPF_CACHE_DIR: cacheDir },
  });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  const result = JSON.parse(r.stdout) as ChildResult;
  return withStderr ? { ...result, stderr: r.stderr } : result;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Rewrites the one entry in `cache` as another user would plant it: a module whose programs are renamed, hash made to match. */
function plant(cache: string, opts: { hashMatches: boolean }): string {
  const [name] = readdirSync(cache).filter((f) => f.endsWith('.json'));
  const file = join(cache, name!);
  const stored = JSON.parse(readFileSync(file, 'utf8')) as { files: unknown; module: string; moduleHash?: string };
  const module = stored.module.replaceAll('countAll', 'planted');
  writeFileSync(file, JSON.stringify({ ...stored, module, moduleHash: opts.hashMatches ? sha(module) : stored.moduleHash }));
  return file;
}

describe('cli: build cache', function () {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-dsl-cache-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a cache hit returns the same module without loading ts-morph', () => {
    const entry = join(dir, 'count.bpf.ts');
    writeFileSync(entry, MODULE);
    const cache = join(dir, 'cache');

    const first = compileInChild(entry, cache);
    expect(first).to.deep.equal({ cached: false, programs: ['countAll'], compilerLoaded: true });

    const second = compileInChild(entry, cache);
    expect(second).to.deep.equal({ cached: true, programs: ['countAll'], compilerLoaded: false });

    // A changed module misses the cache and compiles again.
    writeFileSync(entry, MODULE.replace('countAll', 'countEvery'));
    const third = compileInChild(entry, cache);
    expect(third).to.deep.equal({ cached: false, programs: ['countEvery'], compilerLoaded: true });
  });

  describe('trusts only what the current user wrote (issue 13 item 3)', () => {
    let entry: string;
    let cache: string;
    beforeEach(() => {
      const sub = mkdtempSync(join(dir, 'trust-'));
      entry = join(sub, 'count.bpf.ts');
      writeFileSync(entry, MODULE);
      cache = join(sub, 'cache');
      expect(compileInChild(entry, cache).cached).to.equal(false);
    });

    it('creates the cache directory 0700 and its entries 0600', () => {
      expect(statSync(cache).mode & 0o777).to.equal(0o700);
      for (const f of readdirSync(cache)) expect(statSync(join(cache, f)).mode & 0o777).to.equal(0o600);
    });

    it('refuses an entry planted by another uid, says so, and rebuilds it', function () {
      needKernel(this); // chown needs root
      const file = plant(cache, { hashMatches: true });
      chownSync(file, 65534, 65534);
      const r = compileInChild(entry, cache, true);
      expect(r.programs).to.deep.equal(['countAll']);
      expect(r.cached).to.equal(false);
      expect(r.stderr).to.match(/ignoring cache entry .* is owned by uid 65534, not by the current user \(uid 0\); rebuilding/);
      expect(statSync(file).uid).to.equal(0);
      expect(compileInChild(entry, cache)).to.include({ cached: true });
    });

    it('refuses an entry writable by group or others', () => {
      const file = plant(cache, { hashMatches: true });
      chmodSync(file, 0o666);
      const r = compileInChild(entry, cache, true);
      expect(r).to.include({ cached: false });
      expect(r.programs).to.deep.equal(['countAll']);
      expect(r.stderr).to.match(/is writable by group \(mode 0666\); rebuilding/);
    });

    it('refuses an entry whose content does not match its hash', () => {
      plant(cache, { hashMatches: false });
      const r = compileInChild(entry, cache, true);
      expect(r).to.include({ cached: false });
      expect(r.programs).to.deep.equal(['countAll']);
      expect(r.stderr).to.match(/does not match its hash; rebuilding/);
    });

    it('does not use a cache directory owned by another uid', function () {
      needKernel(this); // chown needs root
      const other = join(dirname(cache), 'other');
      mkdirSync(other, { mode: 0o755 });
      chownSync(other, 65534, 65534);
      const r = compileInChild(entry, other, true);
      expect(r).to.include({ cached: false });
      expect(r.stderr).to.match(/not using the build cache: cache directory .* is owned by uid 65534/);
      expect(readdirSync(other)).to.deep.equal([]);
    });
  });
});
