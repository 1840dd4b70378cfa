import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsbpfBinary } from '../support/cli.js';

const tsbpf = tsbpfBinary;

describe('cli: tsbpf asm / disasm', function () {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-cli-asm-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('assembles LLVM text to raw bytes and disassembles them back', () => {
    const src = join(dir, 'p.s');
    writeFileSync(src, 'r0 = 1\nif r0 == 1 goto out\nr0 = 2\nout:\nexit\n');
    const out = join(dir, 'p.bin');
    const a = tsbpf(['asm', src, '-o', out]);
    expect(a.status, a.stderr).to.equal(0);
    expect([...readFileSync(out)]).to.deep.equal([
      0xb7, 0, 0, 0, 1, 0, 0, 0, 0x15, 0, 1, 0, 1, 0, 0, 0, 0xb7, 0, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0,
    ]);
    const d = tsbpf(['disasm', out]);
    expect(d.status, d.stderr).to.equal(0);
    expect(d.stdout.toString()).to.equal('r0 = 1\nif r0 == 1 goto +1\nr0 = 2\nexit\n');
  });

  it('assembles ubpf syntax from stdin to stdout', () => {
    const a = tsbpf(['asm', '--syntax', 'ubpf', '-'], 'mov %r0, 7\nexit\n');
    expect(a.status, a.stderr).to.equal(0);
    expect([...a.stdout]).to.deep.equal([0xb7, 0, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('names file:line:col on bad text and the slot on bad bytes', () => {
    const src = join(dir, 'bad.s');
    writeFileSync(src, 'r0 = 1\n  r0 = *(u64 *)(r1 + 99999)\n');
    const a = tsbpf(['asm', src]);
    expect(a.status).to.equal(1);
    expect(a.stderr).to.include(`${src}:2:`);
    const raw = join(dir, 'bad.bin');
    writeFileSync(raw, new Uint8Array([0x95, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0]));
    const d = tsbpf(['disasm', raw]);
    expect(d.status).to.equal(1);
    expect(d.stderr).to.match(/slot 1/);
    const lenient = tsbpf(['disasm', '--lenient', raw]);
    expect(lenient.stdout.toString()).to.equal('exit\n<unknown>\n');
  });

  it('prints --help', () => {
    for (const cmd of ['asm', 'disasm']) {
      const h = tsbpf([cmd, '--help']);
      expect(h.status).to.equal(0);
      expect(h.stdout.toString()).to.match(new RegExp(`^usage: tsbpf ${cmd}`));
    }
  });

  it('disassembles the code sections of a clang-built ELF object', function () {
    const obj = fileURLToPath(new URL('../../bpf-tests/global_data.bpf.o', import.meta.url));
    if (!existsSync(obj) || !existsSync(fileURLToPath(new URL('../../src/elf/index.ts', import.meta.url)))) this.skip();
    const d = tsbpf(['disasm', obj]);
    expect(d.status, d.stderr).to.equal(0);
    const text = d.stdout.toString();
    expect(text).to.include('# section syscall');
    expect(text).to.include('use_globals:');
    expect(text).to.match(/r1 = 0 ll {2}# reloc custom_data/);
    expect(text.trimEnd().endsWith('exit')).to.equal(true);
  });
});
