/**
 * A cold `tsbpf build`/`run` spends seconds loading the TypeScript compiler
 * and compiling: on a terminal it shows a running indicator from the start
 * (erased before the real output), and in a pipe it writes none of it.
 * The terminal is a pseudo-terminal from script(1).
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI_BIN } from '../support/cli.js';
import { commandRuns } from '../support/tools.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const example = join(ROOT, 'examples/execve-count.bpf.ts');
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('cli: running indicator while the compiler loads and compiles', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-indicator-user-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('on a terminal: shown at once, turning, then erased before the result', async function () {
    if (!commandRuns('script', '--version')) this.skip(); // util-linux script(1) makes the terminal
    const command = [process.execPath, '--import', 'tsx', CLI_BIN, 'build', example, '-o', join(dir, 'tty.o'), '--no-cache'].map(quote).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, TSBPF_CACHE_DIR: join(dir, 'cache'), NO_COLOR: '1' } });
    const chunks: string[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d.toString()));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const out = chunks.join('');
    expect(status, out).to.equal(0);
    // The first thing on the terminal is the indicator, not the result.
    expect(chunks[0]).to.match(/^\r\x1b\[K[|/\\-] tsbpf build: loading the compiler… \d+\.\ds/);
    expect(out).to.match(/\r\x1b\[K[|/\\-] compiling .*execve-count\.bpf\.ts… \d+\.\ds/);
    // Erased (carriage return, clear to end of line) right before the result; NO_COLOR keeps it plain.
    expect(out).to.match(/\r\x1b\[Kwrote .*tty\.o \(\d+ bytes\)/);
    expect(out).to.not.contain('\x1b[2m');
  });

  it('in a pipe: no indicator at all', function () {
    const r = spawnSync(process.execPath, ['--import', 'tsx', CLI_BIN, 'build', example, '-o', join(dir, 'pipe.o'), '--no-cache'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, TSBPF_CACHE_DIR: join(dir, 'cache') },
    });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.match(/^wrote .*pipe\.o \(\d+ bytes\)/);
  });
});
