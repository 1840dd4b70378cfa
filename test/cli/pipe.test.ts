import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_BIN } from '../support/cli.js';

describe('cli: output into a pipe that closes early (| head)', function () {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-cli-pipe-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stops quietly with status 0 instead of an EPIPE stack', async () => {
    const file = join(dir, 'many.bin');
    const exit = [0x95, 0, 0, 0, 0, 0, 0, 0];
    writeFileSync(file, new Uint8Array(Array.from({ length: 200000 }, () => exit).flat()));
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_BIN, 'disasm', file], { env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(stderr).to.equal('');
    expect(code).to.equal(0);
  });
});
