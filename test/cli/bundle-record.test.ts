/**
 * The record of a bundle's files (src/cli/bundle-record.ts): a bundle is
 * current while every recorded file has its size and is not newer than the
 * record; anything rebuilt or edited since makes it stale. And bin.js runs
 * the CLI from its bundle only while it is current (dist/, after npm run build).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { currentBundle, writeBundleRecord } from '../../src/cli/bundle-record.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

describe('cli: bundle records', () => {
  let dir: string;
  let bundle: string;
  let input: string;
  const past = new Date(Date.now() - 60_000);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-bundle-record-'));
    mkdirSync(join(dir, 'dist/cli'), { recursive: true });
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'node_modules/dep'), { recursive: true });
    bundle = join(dir, 'dist/cli/b.js');
    input = join(dir, 'src/a.ts');
    writeFileSync(input, 'export const a = 1;\n');
    writeFileSync(join(dir, 'node_modules/dep/index.js'), 'module.exports = 1;\n');
    writeFileSync(bundle, 'const a = 1;\n');
    for (const f of [input, bundle]) utimesSync(f, past, past);
    writeBundleRecord(bundle, [input, bundle, join(dir, 'node_modules/dep/index.js')], 'ab'.repeat(32));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is current as built, with the sha256 it was given; node_modules is not recorded', () => {
    const r = currentBundle(bundle);
    expect(r?.sha256).to.equal('ab'.repeat(32));
    expect(Object.keys(r!.files).sort()).to.deep.equal(['../../src/a.ts', 'b.js']);
  });

  it('is stale once an input is newer than the record (rebuilt or edited, same size)', () => {
    const later = new Date(Date.now() + 5_000);
    utimesSync(input, later, later);
    expect(currentBundle(bundle)).to.equal(undefined);
  });

  it('is stale once an input changes size, even with an old time', () => {
    writeFileSync(input, 'export const a = 12;\n');
    utimesSync(input, past, past);
    expect(currentBundle(bundle)).to.equal(undefined);
  });

  it('is stale once a recorded file is gone, or the bundle itself changed', () => {
    rmSync(input);
    expect(currentBundle(bundle)).to.equal(undefined);
    writeFileSync(input, 'export const a = 1;\n');
    utimesSync(input, past, past);
    expect(currentBundle(bundle)).to.not.equal(undefined);
    writeFileSync(bundle, 'const a = 2; // edited\n');
    expect(currentBundle(bundle)).to.equal(undefined);
  });

  it('a bundle without a record, or with one that is not JSON, is not current', () => {
    writeFileSync(`${bundle}.inputs.json`, '{"sha256": "x", "fil');
    expect(currentBundle(bundle)).to.equal(undefined);
    rmSync(`${bundle}.inputs.json`);
    expect(currentBundle(bundle)).to.equal(undefined);
  });
});

describe('cli: bin.js runs the CLI from its bundle', function () {
  this.timeout(60000);
  const bin = join(ROOT, 'dist/cli/bin.js');
  /** The files of dist/ that `node dist/cli/bin.js ARGS` loads, relative to dist/cli. */
  const loaded = (args: string[], env: Record<string, string> = {}) => {
    const hook = `data:text/javascript,${encodeURIComponent(`export async function load(url, context, next) { if (url.startsWith('file:')) process._rawDebug('LOADED ' + url); return next(url, context); }`)}`;
    const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(hook)});`)}`;
    const r = spawnSync(process.execPath, ['--import', register, bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
    expect(r.status, r.stderr).to.equal(0);
    const cli = `file://${join(ROOT, 'dist/cli')}/`;
    return { stdout: r.stdout, files: [...r.stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]!.startsWith(cli) ? m[1]!.slice(cli.length) : m[1]!) };
  };

  before(function () {
    if (!existsSync(join(ROOT, 'dist/cli/tsbpf-cli.js'))) {
      console.log('    (skipped: dist/ is not built; npm install or npm run build builds it)');
      this.skip();
    }
    if (!currentBundle(join(ROOT, 'dist/cli/tsbpf-cli.js')) || !currentBundle(join(ROOT, 'dist/cli/tsbpf-cli-asm.js'))) {
      console.log('    (skipped: dist/ is older than its sources; npm run build)');
      this.skip();
    }
  });

  it('--version and --help load the bundle without a command, and no package (no koffi)', () => {
    for (const args of [['--version'], ['--help']]) {
      const { files } = loaded(args);
      expect(files, args.join(' ')).to.deep.equal(['bin.js', 'bundle-record.js', 'tsbpf-cli.js']);
    }
  });

  it("a command loads its own bundle's files only", () => {
    const { files } = loaded(['asm', '--help']);
    expect(files.length).to.be.lessThan(8);
    expect(files.filter((f) => !/^(bin|bundle-record|tsbpf-cli-asm(-[A-Z0-9]+)?)\.js$/.test(f)), 'outside asm\'s bundle').to.deep.equal([]);
  });

  it('TSBPF_CLI_BUNDLE=0 and TSBPF_DEBUG=1 run dist/ module by module, with the same answer', () => {
    const bundled = loaded(['asm', '--help']);
    for (const env of [{ TSBPF_CLI_BUNDLE: '0' }, { TSBPF_DEBUG: '1' }] as Array<Record<string, string>>) {
      const { stdout, files } = loaded(['asm', '--help'], env);
      expect(files).to.include('main.js');
      expect(files.filter((f) => f.startsWith('tsbpf-cli'))).to.deep.equal([]);
      expect(stdout).to.equal(bundled.stdout);
    }
  });
});
