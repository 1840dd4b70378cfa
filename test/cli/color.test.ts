/**
 * Colour only where it can be seen: on a terminal, decided per stream
 * (standard error redirected to a file stays plain even when standard
 * output is a terminal), off with NO_COLOR, forced with FORCE_COLOR.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errColor, red, useColor } from '../../src/cli/output.js';
import { CLI_BIN } from '../support/cli.js';
import { commandRuns } from '../support/tools.js';

/** Runs `fn` with these environment variables (undefined removes one). */
function withEnv<T>(env: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

describe('cli: colour', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };

  it('on a terminal only, NO_COLOR turns it off, FORCE_COLOR forces it (and wins, as in Node)', () => {
    const cases: Array<[Record<string, string | undefined>, { isTTY: boolean }, boolean]> = [
      [{ NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: 'xterm' }, tty, true],
      [{ NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: 'xterm' }, pipe, false],
      [{ NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: 'dumb' }, tty, false],
      [{ NO_COLOR: '1', FORCE_COLOR: undefined, TERM: 'xterm' }, tty, false],
      [{ NO_COLOR: '', FORCE_COLOR: undefined, TERM: 'xterm' }, tty, true], // no-color.org: an empty NO_COLOR does not count
      [{ NO_COLOR: undefined, FORCE_COLOR: '1', TERM: 'xterm' }, pipe, true],
      [{ NO_COLOR: undefined, FORCE_COLOR: '0', TERM: 'xterm' }, tty, false],
      [{ NO_COLOR: undefined, FORCE_COLOR: 'false', TERM: 'xterm' }, tty, false],
      [{ NO_COLOR: '1', FORCE_COLOR: '1', TERM: 'xterm' }, pipe, true],
    ];
    for (const [env, stream, expected] of cases) expect(withEnv(env, () => useColor(stream)), JSON.stringify([env, stream])).to.equal(expected);
  });

  it('text for standard error is decided by standard error', () => {
    const out = process.stdout.isTTY;
    const err = process.stderr.isTTY;
    try {
      withEnv({ NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: 'xterm' }, () => {
        (process.stdout as { isTTY?: boolean }).isTTY = true;
        (process.stderr as { isTTY?: boolean }).isTTY = false;
        expect(red('x')).to.equal('\x1b[31mx\x1b[0m');
        expect(errColor.red('x')).to.equal('x');
      });
    } finally {
      (process.stdout as { isTTY?: boolean }).isTTY = out;
      (process.stderr as { isTTY?: boolean }).isTTY = err;
    }
  });

  describe('through the command', () => {
    let dir = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'tsbpf-color-user-'));
      writeFileSync(join(dir, 'bad.bpf.ts'), "import { xdp } from 'tsbpf/dsl';\nexport const p = xdp((ctx) => undefinedName);\n");
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const build = (env: Record<string, string>) =>
      spawnSync(process.execPath, ['--import', 'tsx', CLI_BIN, 'build', join(dir, 'bad.bpf.ts'), '--no-cache'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', ...env, TSBPF_CACHE_DIR: join(dir, 'cache') } });

    it('diagnostics in a pipe are plain; FORCE_COLOR=1 colours them', () => {
      const plain = build({});
      expect(plain.status).to.equal(1);
      expect(plain.stderr).to.match(/^error .*bad\.bpf\.ts:2:/).and.not.contain('\x1b[');
      expect(build({ FORCE_COLOR: '1' }).stderr).to.match(/^\x1b\[31merror\x1b\[0m /);
    });

    it('on a terminal with standard error redirected to a file, the file is plain', function () {
      if (!commandRuns('script', '--version')) this.skip();
      const log = join(dir, 'err.log');
      const command = `'${process.execPath}' --import tsx '${CLI_BIN}' build '${join(dir, 'bad.bpf.ts')}' --no-cache 2>'${log}'`;
      const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', TERM: 'xterm', TSBPF_CACHE_DIR: join(dir, 'cache') } });
      expect(r.status).to.equal(1);
      const err = readFileSync(log, 'utf8');
      expect(err).to.match(/^error .*bad\.bpf\.ts:2:/);
      expect(err).to.not.contain('\x1b');
    });
  });
});
