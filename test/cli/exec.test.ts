import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { encode } from '../../src/asm/codec.js';
import { parseUbpf } from '../../src/asm/ubpf.js';
import { run } from '../../src/cli/commands/exec.js';
import { main } from '../../src/cli/main.js';
import { tsbpf, tsbpfBinary } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';

// Small programs in the bpf_conformance file format (written here, so the suite needs nothing beside the checkout).
const conformance = fileURLToPath(new URL('./fixtures/exec/', import.meta.url));
const repo = fileURLToPath(new URL('../../', import.meta.url));

/** Runs a CLI entry point with stdout/stderr captured. */
async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await fn();
    return { code, out, err };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

const exec = (...args: string[]) => capture(() => main(['exec', ...args]));

/** Calls run() directly (main's own module instance of CliError may differ under the test loader) and returns a usage error's message. */
async function usage(...args: string[]): Promise<string> {
  const e = await run(args).then(
    () => undefined,
    (err: unknown) => err as { exitCode?: number; message: string },
  );
  expect(e, args.join(' ')).to.not.equal(undefined);
  expect(e!.exitCode, e!.message).to.equal(2);
  return e!.message;
}

describe('tsbpf exec', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-exec-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a conformance .data file and prints r0 as 0x + 16 hex digits', async () => {
    const r = await exec(join(conformance, 'add.data'));
    expect(r).to.deep.include({ code: 0, out: '0x0000000000000003\n' });
  });

  it('uses the file\'s -- mem and checks -- result with --check', async () => {
    const r = await exec(join(conformance, 'mem-check.data'), '--check');
    expect(r).to.deep.include({ code: 0, out: '0x0000000000000001\n' });
  });

  it('--mem overrides the input memory (hex digits, spaces allowed)', async () => {
    const file = join(dir, 'mem.asm');
    writeFileSync(file, 'ldxh %r0, [%r1+1]\nadd %r0, %r2\nexit\n');
    const r = await exec(file, '--mem', '00 3412 ff');
    expect(r).to.deep.include({ code: 0, out: `0x${(0x1234 + 4).toString(16).padStart(16, '0')}\n` });
  });

  it('assembles LLVM-syntax text (chosen when the text has no %rN registers)', async () => {
    const file = join(dir, 'prog.s');
    writeFileSync(file, 'r0 = 5\nr1 = 7\nr0 += r1\nexit\n');
    expect(await exec(file)).to.deep.include({ code: 0, out: '0x000000000000000c\n' });
    const bad = join(dir, 'bad.s');
    writeFileSync(bad, 'r0 = 5\nr0 +== 1\nexit\n');
    const r = await exec(bad);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain(`${bad}:2:`);
  });

  it('runs raw bytes (.bin) and prints --json', async () => {
    const file = join(dir, 'prog.bin');
    writeFileSync(file, encode(parseUbpf('lddw %r0, 0xfedcba9876543210\nexit')));
    const r = await exec(file, '--json');
    expect(r.code).to.equal(0);
    expect(JSON.parse(r.out)).to.deep.include({ engine: 'interp', r0: '0xfedcba9876543210', instructions: 2 });
  });

  it('runs the -- raw section of a .data file', async () => {
    const r = await exec(join(conformance, 'lddw-raw.data'), '--check');
    expect(r).to.deep.include({ code: 0, out: '0x1122334455667788\n' });
  });

  it('--check fails with exit status 1 on a wrong result', async () => {
    const file = join(dir, 'wrong.data');
    writeFileSync(file, '-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n');
    const r = await exec(file, '--check');
    expect(r.code).to.equal(1);
    expect(r.err).to.contain('expected 0x0000000000000002');
  });

  it('names file:line:col for assembler errors', async () => {
    const file = join(dir, 'bad.data');
    writeFileSync(file, '# comment\n-- asm\nmov %r0, 1\nmov %r11, 2\nexit\n-- result\n0x1\n');
    const r = await exec(file);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain(`${file}:4:5`).and.contain('register');
  });

  it('names the file and pc for runtime errors', async () => {
    const file = join(dir, 'oob.asm');
    writeFileSync(file, 'mov %r1, 0\nldxw %r0, [%r1+0]\nexit\n');
    const r = await exec(file);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain(`${file}: pc 1:`).and.contain('out of bounds');
  });

  it('stops a runaway program at the --budget', async () => {
    const file = join(dir, 'loop.asm');
    writeFileSync(file, 'loop:\nja loop\n');
    const r = await exec(file, '--syntax', 'ubpf', '--budget', '1000');
    expect(r.code).to.equal(1);
    expect(r.err).to.contain('budget of 1000');
  });

  it('rejects bad options with usage errors (exit status 2)', async () => {
    expect(await usage(join(conformance, 'add.data'), '--engine', 'jit')).to.contain('--engine');
    expect(await usage(join(conformance, 'add.data'), '--syntax', 'att')).to.contain('--syntax');
    expect(await usage(join(conformance, 'add.data'), '--mem', 'zz')).to.contain('--mem');
    expect(await usage(join(conformance, 'add.data'), '--budget', '-5')).to.contain('--budget');
    expect(await usage(join(conformance, 'add.data'), '--budget=0')).to.contain('--budget');
    expect(await usage(join(conformance, 'add.data'), '--frobnicate')).to.contain('frobnicate');
    expect(await usage()).to.contain('expected one input file');
    const missing = await exec(join(dir, 'nope.data'));
    expect(missing.code).to.equal(1);
    expect(missing.err).to.contain('no such file');
  });

  describe('ELF objects', () => {
    const net = join(repo, 'bpf-tests/net.bpf.o');
    const udp = '000000000000 000000000000 0800 45000000 00000000 0011 0000 00000000 00000000';

    it('runs one program with --packet as its xdp or skb context', async () => {
      expect(await exec(net, '--prog', 'xdp_count', '--packet', udp)).to.deep.include({ code: 0, out: '0x0000000000000001\n' });
      const tc = await exec(net, '--prog', 'tc_drop_udp', '--packet', udp, '--json');
      expect(JSON.parse(tc.out)).to.deep.include({ program: 'tc_drop_udp', r0: '0x0000000000000002' });
      expect(await exec(net, '--prog', 'sock_len', '--packet', '00'.repeat(42))).to.deep.include({ code: 0, out: `0x${'2a'.padStart(16, '0')}\n` });
    });

    it('--maps shows the maps after the run, as text or JSON', async () => {
      const r = await exec(net, '--prog', 'xdp_count', '--packet', udp, '--maps');
      expect(r.code).to.equal(0);
      expect(r.out).to.equal('0x0000000000000001\nmap by_proto (array):\n  11 00 00 00 => 01 00 00 00 00 00 00 00\n');
      const all = await exec(join(repo, 'bpf-tests/maps.bpf.o'), '--prog', 'fill_maps', '--packet', udp, '--maps', '--json');
      const maps = JSON.parse(all.out).maps as { name: string; items?: string[] }[];
      expect(maps.find((m) => m.name === 'queue')!.items).to.deep.equal(['05 00 00 00', '06 00 00 00']);
      expect(maps.find((m) => m.name === 'events')!.items).to.deep.equal(['cd ab 00 00']);
      expect(await usage(join(conformance, 'add.data'), '--maps')).to.contain('ELF objects only');
    });

    it('defaults to the first program and runs bpf-to-bpf calls', async () => {
      expect(await exec(join(repo, 'bpf-tests/subprogs.bpf.o'))).to.deep.include({ code: 0, out: '0x0000000000000019\n' });
    });

    it('names the programs when --prog is wrong, and rejects misplaced options', async () => {
      const r = await exec(net, '--prog', 'nope');
      expect(r.code).to.equal(1);
      expect(r.err).to.contain('xdp_count, xdp_frags_pass');
      expect(await usage(join(repo, 'bpf-tests/subprogs.bpf.o'), '--prog', 'first', '--packet', '00')).to.contain('takes no packet');
      expect(await usage(net, '--engine', 'kernel')).to.contain('tsbpf load');
      expect(await usage(join(conformance, 'add.data'), '--prog', 'x')).to.contain('ELF objects only');
      expect(await usage(net, '--packet', '00', '--ctx', '00')).to.contain('at most one');
    });

    it('reports a truncated object with file and offset', async () => {
      const file = join(dir, 'trunc.o');
      writeFileSync(file, readFileSync(net).subarray(0, 100));
      const r = await exec(file);
      expect(r.code).to.equal(1);
      expect(r.err).to.contain(`${file}: `).and.contain('offset');
    });
  });

  it('prints --help', async () => {
    const r = await exec('--help');
    expect(r.code).to.equal(0);
    expect(r.out).to.contain('usage: tsbpf exec IN').and.contain('--engine interp|kernel');
  });

  it('run() can be called directly', async () => {
    const r = await capture(() => run([join(conformance, 'mul32-imm.data')]));
    expect(r.code).to.equal(0);
    expect(r.out).to.match(/^0x[0-9a-f]{16}\n$/);
  });

  it('reads the program from standard input with -', function () {
    const r = tsbpfBinary(['exec', '-', '--mem', '0a0b'], 'ldxh %r0, [%r1]\nexit\n');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.toString()).to.equal('0x0000000000000b0a\n');
  });

  it('works as a real process through bin.ts', function () {
    const r = tsbpf('exec', join(conformance, 'be16.data'));
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('0x0000000000001122\n');
  });

  it('--engine kernel runs in the kernel', async function () {
    needKernel(this);
    if (!existsSync(join(repo, 'src/cli/exec-kernel.ts'))) this.skip(); // the kernel runner (src/cli/exec-kernel.ts) is not in this tree yet
    const r = await exec(join(conformance, 'add.data'), '--engine', 'kernel');
    expect(r).to.deep.include({ code: 0, out: '0x0000000000000003\n' });
  });
});
