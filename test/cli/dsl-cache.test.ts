/**
 * The build cache of `tsbpf build`/`run`: a cache hit must not load the
 * compiler (ts-morph + TypeScript are most of a cold start), so that a cached
 * `tsbpf run` starts fast. Each step runs in a fresh Node process, as a user's
 * command would.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';

const cacheModule = new URL('../../src/cli/dsl-cache.ts', import.meta.url).href;

const MODULE = `import { xdp, arrayMap, XdpAction, type u64 } from 'tsbpf/dsl';
export const seen = arrayMap<u64>({ maxEntries: 1 });
export const countAll = xdp(() => {
  seen.increment(0);
  return XdpAction.PASS;
});
`;

/** Calls compileCached in a new process; reports the result and whether ts-morph got loaded. */
function compileInChild(entry: string, cacheDir: string): { cached: boolean; programs: string[]; compilerLoaded: boolean } {
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
  return JSON.parse(r.stdout) as { cached: boolean; programs: string[]; compilerLoaded: boolean };
}

describe('cli: build cache', function () {
  this.timeout(60_000);
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
});
