/**
 * The README's set-up and test commands, checked the way a new user meets
 * them: every command in those blocks exists (a script here, an npm script,
 * a program on PATH); scripts/as-root runs a command directly as root with
 * no sudo anywhere, and through sudo (keeping PATH) as another user;
 * scripts/install-tools asks apt-get for exactly the missing packages, in
 * both ways; `npm run test:kernel` reaches mocha with
 * TSBPF_REQUIRE_KERNEL=1. sudo, dpkg and apt-get are stand-ins on PATH that
 * record how they were called, so nothing is installed.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NOBODY } from '../support/unprivileged.js';
import { currentBundle } from '../../src/cli/bundle-record.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; license?: string; repository?: { url?: string } };
const isRoot = process.getuid?.() === 0;

/** The command lines of the first ```sh block after `heading`, without comments. */
function shBlock(heading: string): string[] {
  const at = readme.indexOf(`\n${heading}\n`);
  expect(at, `README has a '${heading}' section`).to.be.greaterThan(-1);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
  return block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l && !l.startsWith('#'));
}

/** Whether `name` is a program on PATH. */
const onPath = (name: string): boolean => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;

/** A folder with executable stand-ins: each writes its name and arguments, one per line, to $CALLS. */
function standIns(dir: string, names: string[], body: Record<string, string> = {}): void {
  mkdirSync(dir, { recursive: true });
  for (const n of names) {
    writeFileSync(join(dir, n), `#!/bin/sh\nprintf '%s' "${n}" >>"$CALLS"; for a in "$@"; do printf ' %s' "$a" >>"$CALLS"; done; echo >>"$CALLS"\n${body[n] ?? ''}\n`);
    chmodSync(join(dir, n), 0o755);
  }
}

describe('README set-up and test commands', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'tsbpf-readme-user-'));
    chmodSync(tmp, 0o755); // the nobody runs below read the copies in here
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('every set-up and test command exists: a script here, an npm script or a program on PATH', () => {
    const lines = [...shBlock('## Set up (fresh Debian/Ubuntu machine, Node ≥ 20)'), ...shBlock('## Run the tests')];
    expect(lines.length).to.be.greaterThan(3);
    for (const line of lines) {
      const [cmd, sub, script] = line.split(/\s+/);
      if (cmd === 'git' || cmd === 'cd') continue; // the clone itself
      if (cmd!.startsWith('scripts/')) {
        expect(existsSync(join(ROOT, cmd!)), line).to.equal(true);
        expect(spawnSync('test', ['-x', join(ROOT, cmd!)]).status, `${cmd} is executable`).to.equal(0);
      } else if (cmd === 'npm' && sub === 'run') {
        expect(pkg.scripts, line).to.have.property(script!);
      } else if (cmd === 'npm') {
        expect(['install', 'test'], line).to.include(sub);
      } else {
        expect(onPath(cmd!), `${line}: ${cmd} is on PATH`).to.equal(true);
      }
    }
  });

  it('has a LICENSE matching package.json, and names no repository it does not come from', () => {
    expect(pkg.license).to.equal('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).to.match(/^MIT License\n/);
    // The project has no public remote yet: a repository URL must be the one this checkout was cloned from.
    if (pkg.repository !== undefined) {
      const origin = spawnSync('git', ['-C', ROOT, 'remote', 'get-url', 'origin'], { encoding: 'utf8' });
      expect(origin.status, 'package.json names a repository but this checkout has no origin remote').to.equal(0);
      expect(pkg.repository.url?.replace(/^git\+/, '')).to.equal(origin.stdout.trim().replace(/^git\+/, ''));
    }
    expect(readme).to.not.match(/github\.com\/tsbpf\/tsbpf/);
  });

  describe('as root, with no sudo anywhere', function () {
    before(function () {
      if (!isRoot) this.skip(); // needs root to be root; the sudo path is below
    });

    it('scripts/as-root runs the command directly', () => {
      const r = spawnSync(join(ROOT, 'scripts/as-root'), ['id', '-u'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('0\n');
    });

    it('scripts/install-tools runs apt-get update and install of the missing packages only', () => {
      const bin = join(tmp, 'root-bin');
      const calls = join(tmp, 'root-calls');
      // dpkg says clang and bpftrace are missing; everything else is installed.
      standIns(bin, ['apt-get', 'dpkg'], { dpkg: 'case "$2" in clang|bpftrace) exit 1;; esac; exit 0' });
      const r = spawnSync(join(ROOT, 'scripts/install-tools'), [], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, CALLS: calls } });
      expect(r.status, r.stderr).to.equal(0);
      const apt = readFileSync(calls, 'utf8').split('\n').filter((l) => l.startsWith('apt-get'));
      expect(apt).to.deep.equal(['apt-get update -qq', 'apt-get install -y -qq clang bpftrace']);
    });

    it('npm run test:kernel reaches mocha with TSBPF_REQUIRE_KERNEL=1', () => {
      const r = spawnSync('npm', ['run', '--silent', 'test:kernel', '--', '--version'], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout.trim()).to.match(/^\d+\.\d+\.\d+$/);
      expect(pkg.scripts['test:kernel']).to.match(/^scripts\/as-root env TSBPF_REQUIRE_KERNEL=1 mocha /);
    });

    it('every package install-tools names is one apt knows', function () {
      if (!onPath('apt-cache')) this.skip();
      const text = readFileSync(join(ROOT, 'scripts/install-tools'), 'utf8');
      const names = [...text.matchAll(/pkgs="(?:\$pkgs )?([^"]+)"/g)].flatMap((m) => m[1]!.split(/\s+/));
      expect(names).to.include.members(['llvm', 'clang', 'bpftool', 'bpftrace', 'qemu-system-x86']);
      const r = spawnSync('apt-cache', ['show', '--no-all-versions', ...names], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const found = [...r.stdout.matchAll(/^Package: (\S+)$/gm)].map((m) => m[1]);
      expect(found).to.include.members(names);
    });
  });

  describe('as a user with sudo', function () {
    // A copy of scripts/ in a folder nobody may enter (the checkout may sit in a 0700 one).
    let scripts: string;
    let bin: string;
    let calls: string;
    before(function () {
      if (!isRoot) this.skip(); // becoming nobody needs root
      scripts = join(tmp, 'scripts');
      mkdirSync(scripts);
      for (const f of ['as-root', 'install-tools']) copyFileSync(join(ROOT, 'scripts', f), join(scripts, f));
      chmodSync(join(scripts, 'as-root'), 0o755);
      chmodSync(join(scripts, 'install-tools'), 0o755);
      bin = join(tmp, 'user-bin');
      calls = join(tmp, 'user-calls');
      writeFileSync(calls, '');
      chmodSync(calls, 0o666);
      // sudo records its arguments and says it would run them; apt-get and dpkg as above.
      standIns(bin, ['sudo', 'apt-get', 'dpkg'], { dpkg: 'case "$2" in clang) exit 1;; esac; exit 0' });
    });

    /** Runs `command` as nobody through setpriv, PATH starting with the stand-ins. */
    const asNobody = (command: string[], withSudo = true) =>
      spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...command], {
        encoding: 'utf8',
        cwd: tmp,
        env: { PATH: `${withSudo ? bin : join(tmp, 'no-sudo')}:/usr/bin:/bin`, CALLS: calls, HOME: tmp },
      });

    it('scripts/as-root goes through sudo, keeping PATH', () => {
      writeFileSync(calls, '');
      const r = asNobody([join(scripts, 'as-root'), 'id', '-u']);
      expect(r.status, r.stderr).to.equal(0);
      expect(readFileSync(calls, 'utf8')).to.equal(`sudo env PATH=${bin}:/usr/bin:/bin id -u\n`);
    });

    it('scripts/as-root without sudo says what to do, in one line', () => {
      const r = asNobody([join(scripts, 'as-root'), 'apt-get', 'update'], false);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.equal("scripts/as-root: 'apt-get' needs root: run this as root, or install sudo\n");
    });

    it('scripts/install-tools runs apt-get through sudo', () => {
      writeFileSync(calls, '');
      const r = asNobody([join(scripts, 'install-tools')]);
      expect(r.status, r.stderr).to.equal(0);
      const path = `PATH=${bin}:/usr/bin:/bin`;
      expect(readFileSync(calls, 'utf8').split('\n').filter((l) => l.startsWith('sudo'))).to.deep.equal([
        `sudo env ${path} env DEBIAN_FRONTEND=noninteractive apt-get update -qq`,
        `sudo env ${path} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang`,
      ]);
    });
  });
});

/**
 * No container runtime or debootstrap here (the machine allows neither), so
 * the README path runs in the next best thing: a fresh clone of this
 * checkout's HEAD, with nothing beside it. Its set-up block's `npm install`
 * (which builds dist/), the `tsbpf` command, `npm test` loading every test
 * file, and the README's one-file command.
 */
describe('README set-up and test commands in a fresh clone', function () {
  this.timeout(900000);
  let clone: string;
  // Nothing beside the clone: not CI's TSBPF_CONFORMANCE_DIR either (suites needing it skip, saying where to get it).
  const { TSBPF_CONFORMANCE_DIR: _, ...env } = process.env;
  const inClone = (command: string, args: string[]) =>
    spawnSync(command, args, { cwd: clone, encoding: 'utf8', env: { ...env, NO_COLOR: '1' }, maxBuffer: 64 << 20 });

  before(function () {
    if (spawnSync('git', ['-C', ROOT, 'rev-parse', '--git-dir'], { stdio: 'ignore' }).status !== 0 || !onPath('npm')) this.skip(); // not a checkout (a dev-VM image), or no npm
    clone = join(mkdtempSync(join(tmpdir(), 'tsbpf-clone-user2-')), 'tsbpf');
    const r = spawnSync('git', ['clone', '-q', ROOT, clone], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
  });
  after(() => clone && rmSync(join(clone, '..'), { recursive: true, force: true }));

  it("the set-up block's npm install installs and builds dist/; the tsbpf command runs", () => {
    const install = shBlock('## Set up (fresh Debian/Ubuntu machine, Node ≥ 20)').find((l) => /^npm install\b/.test(l));
    expect(install, 'the set-up block has npm install').to.be.a('string');
    // The README's command, taking packages from npm's cache when it has them.
    const r = inClone('npm', [...install!.split(/\s+/).slice(1), '--prefer-offline', '--no-audit', '--no-fund']);
    expect(r.status, r.stderr).to.equal(0);
    expect(existsSync(join(clone, 'dist/index.js')), 'prepare built dist/').to.equal(true);
    expect(existsSync(join(clone, 'dist/cli/compiler-snapshot.cjs')), 'prepare bundled the compiler snapshot\'s script').to.equal(true);
    // Both bundles current (src/cli/bundle-record.ts), or bin.js and a cache miss would not use them.
    for (const bundle of ['tsbpf-cli.js', 'tsbpf-cli-run.js', 'compiler-snapshot.cjs']) expect(currentBundle(join(clone, 'dist/cli', bundle)), `prepare recorded dist/cli/${bundle} as current`).to.not.equal(undefined);
    const version = inClone('npx', ['tsbpf', '--version']);
    expect(version.status, version.stderr).to.equal(0);
    expect(version.stdout).to.equal(`tsbpf ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });

  it('npm test finds and loads every test file (mocha --dry-run)', () => {
    const r = inClone('npm', ['test', '--', '--dry-run']);
    expect(r.status, r.stdout.slice(-3000) + r.stderr).to.equal(0);
    expect(Number(/(\d+) passing/.exec(r.stdout)?.[1])).to.be.greaterThan(1000);
  });

  it("the README's one-file command runs: npx mocha test/kernel/maps.test.ts", () => {
    expect(readme).to.include('npx mocha test/kernel/maps.test.ts');
    const r = inClone('npx', ['mocha', 'test/kernel/maps.test.ts']);
    expect(r.status, r.stdout.slice(-3000) + r.stderr).to.equal(0);
    expect(r.stdout).to.match(isRoot ? /\d+ passing/ : /\d+ pending/);
  });
});
