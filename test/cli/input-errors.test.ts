import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

describe('cli: run and build say in one line what a bad input is', function () {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-cli-run-input-user-'));
    writeFileSync(join(dir, 'garbage.o'), 'garbage\n');
    writeFileSync(join(dir, 'prog.c'), 'int x;\n');
    writeFileSync(join(dir, 'empty.bpf.ts'), '');
    writeFileSync(join(dir, 'binary.bpf.ts'), new Uint8Array([0x7f, 0x00, 0xff, 0xfe, 0x01]));
    writeFileSync(join(dir, 'notes.txt'), 'hello\n');
    mkdirSync(join(dir, 'folder.bpf.ts'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: Array<[string, string[], (d: string) => string]> = [
    ['a .o that is not ELF', ['run', 'garbage.o'], (d) => `error: ${d}/garbage.o is not an ELF object (it does not start with \\x7fELF)\n`],
    ['C source', ['run', 'prog.c'], (d) => `error: ${d}/prog.c is C source: build it with 'clang -target bpf -O2 -g -c ${d}/prog.c -o ${d}/prog.bpf.o', then 'tsbpf run ${d}/prog.bpf.o'\n`],
    ['an empty file', ['run', 'empty.bpf.ts'], (d) => `error: ${d}/empty.bpf.ts is empty: give a module file (.bpf.ts) or a BPF ELF object (.o)\n`],
    ['a directory', ['run', 'folder.bpf.ts'], (d) => `error: ${d}/folder.bpf.ts is a directory: give a module file (.bpf.ts) or a BPF ELF object (.o)\n`],
    ['binary bytes named .ts', ['run', 'binary.bpf.ts'], (d) => `error: ${d}/binary.bpf.ts is neither a TypeScript module nor a BPF ELF object (binary data)\n`],
    ['another kind of file', ['run', 'notes.txt'], (d) => `error: ${d}/notes.txt: give a TypeScript module (.bpf.ts) or a BPF ELF object (.o)\n`],
    ['a missing file', ['run', 'nope.bpf.ts'], (d) => `error: ${d}/nope.bpf.ts: no such file\n`],
    ['build of an ELF object', ['build', '../../bpf-tests/net.bpf.o'], () => ''],
    ['build of a directory', ['build', 'folder.bpf.ts'], (d) => `error: ${d}/folder.bpf.ts is a directory: give a module file (.bpf.ts)\n`],
  ];
  for (const [what, [verb, file], expected] of cases) {
    it(`${verb}: ${what}`, () => {
      const path = file!.startsWith('../') ? join(new URL('.', import.meta.url).pathname, file!) : join(dir, file!);
      const r = tsbpf(verb!, path);
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stdout).to.equal('');
      if (expected(dir)) expect(r.stderr).to.equal(expected(dir));
      else expect(r.stderr).to.equal(`error: ${path} is an ELF object, not a module: 'tsbpf build' compiles .bpf.ts modules (run it with 'tsbpf run ${path}', load it with 'tsbpf load ${path}')\n`);
    });
  }
});

describe('cli: build --emit asm|ir -o FILE', function () {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-cli-emit-user-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the text to FILE (the same text as on standard output) and says so', () => {
    const example = new URL('../../examples/execve-count.bpf.ts', import.meta.url).pathname;
    const out = join(dir, 'x.s');
    const r = tsbpf('build', example, '--emit', 'asm', '-o', out);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`wrote ${out} (eBPF text of 1 program)\n`);
    const shown = tsbpf('build', example, '--emit', 'asm');
    expect(readFileSync(out, 'utf8')).to.equal(shown.stdout).and.match(/^onExecve \(SEC\("tracepoint\/syscalls\/sys_enter_execve"\), \d+ instructions\):\n   0: /);
  });
});
