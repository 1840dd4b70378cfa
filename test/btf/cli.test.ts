import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = new URL('../../src/cli/bin.ts', import.meta.url).pathname;
const VMLINUX = '/sys/kernel/btf/vmlinux';
const OBJ = new URL('./fixtures/layouts.bpf.o', import.meta.url).pathname;

/** Runs the command in this process (fast), capturing what it writes. */
async function inProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../../src/cli/main.js');
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture = (sink: (s: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      sink(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture((s) => (stdout += s));
  process.stderr.write = capture((s) => (stderr += s));
  const noColor = process.env.NO_COLOR;
  process.env.NO_COLOR = '1';
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    if (noColor === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = noColor;
  }
}

/** Runs the real binary in a child process. */
async function tsbpf(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', BIN, ...args], { maxBuffer: 1 << 28, env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('btf: tsbpf btf dump', function () {

  it('dumps an ELF object\'s .BTF as raw text, JSON lines, C and TypeScript', async function () {
    const raw = await tsbpf('btf', 'dump', OBJ);
    expect(raw.code).to.equal(0);
    expect(raw.stdout).to.match(/^\[1\] /);
    expect(raw.stdout).to.include("STRUCT 'node' size=88");
    const json = await inProcess('btf', 'dump', OBJ, '--json');
    const first = JSON.parse(json.stdout.split('\n')[0]!);
    expect(first).to.have.property('id', 1);
    const c = await inProcess('btf', 'dump', OBJ, '--format', 'c', '--root', 'uses_all');
    expect(c.stdout).to.include('struct uses_all {');
    const t = await inProcess('btf', 'dump', OBJ, '--format', 'ts');
    expect(t.stdout).to.include("export interface node extends KernelType<'struct node'> {");
  });

  it('reads the kernel BTF with --kernel', async function () {
    if (!existsSync(VMLINUX)) this.skip();
    const r = await inProcess('btf', 'dump', '--kernel', '--format', 'c', '--root', 'xdp_md');
    expect(r.code).to.equal(0);
    expect(r.stdout).to.include('struct xdp_md {');
    const shallow = await inProcess('btf', 'dump', '--kernel', '--format', 'ts', '--root', 'task_struct');
    expect(shallow.stdout).to.match(/Ptr<unknown \/\* struct mm_struct \*\/>/);
    const deep = await inProcess('btf', 'dump', '--kernel', '--format', 'ts', '--root', 'task_struct', '--follow-pointers');
    expect(deep.stdout).to.include('export interface mm_struct extends KernelType<\'struct mm_struct\'>');
    const raw = await inProcess('btf', 'dump', '--kernel', '--root', 'xdp_md');
    expect(raw.stdout).to.match(/^\[\d+\] STRUCT 'xdp_md' size=24 vlen=6\n\t'data' type_id=\d+ bits_offset=0\n/);
  });

  it('reads split BTF on top of --base, as bpftool -B does', async function () {
    if (!existsSync(VMLINUX)) this.skip();
    const { BtfBuilder, parseBtf } = await import('../../src/btf/index.js');
    const base = parseBtf(readFileSync(VMLINUX));
    const b = new BtfBuilder({ base });
    b.struct('tsbpf_cli_split', 8, [{ name: 'task', type: b.ptr(base.findByName('task_struct', 'struct')!), bitOffset: 0, bitfieldSize: 0 }]);
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-split-'));
    try {
      writeFileSync(join(dir, 'mod.btf'), b.encode());
      const r = await inProcess('btf', 'dump', join(dir, 'mod.btf'), '--base', VMLINUX);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.equal(execFileSync('bpftool', ['btf', 'dump', 'file', join(dir, 'mod.btf'), '-B', VMLINUX, 'format', 'raw']).toString());
      const c = await inProcess('btf', 'dump', join(dir, 'mod.btf'), '--base', VMLINUX, '--format', 'c', '--root', 'tsbpf_cli_split');
      expect(c.stdout).to.include('struct task_struct *task;');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports bad input and usage errors without a stack', async function () {
    const bad = await tsbpf('btf', 'dump', new URL('./fixtures/core_kinds.bpf.c', import.meta.url).pathname);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.match(/error: .*\.BTF\+0x0: bad magic/);
    expect(bad.stderr).not.to.include('    at ');
    expect((await inProcess('btf', 'dump', OBJ, '--format', 'yaml')).code).to.equal(2);
    expect((await inProcess('btf', 'dump', OBJ, '--root', 'no_such_type')).stderr).to.include("no type named 'no_such_type'");
  });
});
