import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tsbpf, tsbpfBinary } from '../support/cli.js';

describe('cli: bad input files name themselves', function () {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-cli-input-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('disasm of bytes that are not whole slots names the file and the slot', () => {
    const file = join(dir, 'odd.bin');
    writeFileSync(file, new Uint8Array(300));
    const r = tsbpf('disasm', file);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.equal(`error: ${file}: slot 37: program is 300 bytes, not a multiple of 8\n`);
    const json = tsbpf('disasm', file, '--json');
    expect(json.stderr).to.equal(r.stderr);
  });

  it('exec of a .bpf.ts module says to build it first', () => {
    const file = join(dir, 'm.bpf.ts');
    writeFileSync(file, "import { xdp } from 'tsbpf/dsl';\n");
    const r = tsbpf('exec', file);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include(`${file} is a TypeScript module: compile it with 'tsbpf build ${file}'`);
  });
});

describe('cli: asm --json and -o', function () {

  it('--json without -o prints the bytes as hex in one JSON line', () => {
    const r = tsbpfBinary(['asm', '--json', '-'], 'r0 = 1\nexit\n');
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout.toString())).to.deep.equal({ instructions: 2, bytes: 16, hex: 'b7 00 00 00 01 00 00 00 95 00 00 00 00 00 00 00' });
  });

  it('an output path it cannot write is named', () => {
    const r = tsbpfBinary(['asm', '-', '-o', '/nonexistent-dir/x.bin'], 'exit\n');
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^error: cannot write \/nonexistent-dir\/x.bin: ENOENT/);
  });
});
