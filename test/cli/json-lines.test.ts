/**
 * `--json` on every command that takes it: standard output is JSON lines,
 * each one an object (never a bare value, an array, a blank or text), with
 * or without a kernel, on success and on a failure (where the error goes to
 * standard error). The commands run in one process (fixtures/json/driver.ts).
 * Not here: `engine --json` and `module --json` (a running engine: see
 * test/engine), `run --json` of a module's events (test/cli/run-*.test.ts).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachRawTracepoint, BpfMap, loadObjectFile, Program } from '../../src/kernel/index.js';
import { needKernel } from '../support/kernel.js';
import { countAll } from '../kernel/link-programs.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DRIVER = fileURLToPath(new URL('./fixtures/json/driver.ts', import.meta.url));
const OBJECT = join(ROOT, 'bpf-tests/run_object.bpf.o');

interface Result { argv: string[]; status: number; stdout: string }

/** Runs the commands in one child process; its stderr is kept for failures. */
function runAll(cases: string[][]): { results: Result[]; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', DRIVER, JSON.stringify(cases)], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'inherit', 'pipe', 'pipe'], maxBuffer: 256 << 20,
  });
  const out = r.output[3] as string | null;
  expect(out, r.stderr).to.be.a('string').and.not.equal('');
  return { results: JSON.parse(out!) as Result[], stderr: r.stderr };
}

/** Every line of `stdout` is one JSON object. */
function expectJsonLines(r: Result, stderr: string): void {
  const what = `tsbpf ${r.argv.join(' ')}`;
  expect(r.stdout === '' || r.stdout.endsWith('\n'), `${what}: output ends with a newline`).to.equal(true);
  for (const line of r.stdout.split('\n').slice(0, -1)) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      expect.fail(`${what}: a line that is not JSON: ${line.slice(0, 200)}\n${stderr.slice(-2000)}`);
    }
    expect(value !== null && typeof value === 'object' && !Array.isArray(value), `${what}: a line that is not an object: ${line.slice(0, 200)}`).to.equal(true);
  }
}

describe('cli: --json is one JSON object per line, for every command', function () {
  this.timeout(300000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-json-user2-'));
    writeFileSync(join(dir, 'add.s'), 'r0 = 1\nr0 += 2\nexit\n');
    writeFileSync(join(dir, 'm.bpf.ts'), `import { tracepoint, hashMap, log2Hist, global, type u32, type u64 } from '${join(ROOT, 'src/dsl/index.js')}';
export const counts = hashMap<u32, u64>({ maxEntries: 8 });
export const sizes = log2Hist();
export const seen = global<u64>(0);
// Every system call: the run's own event loop makes some, so the maps have something to print.
export const p = tracepoint('raw_syscalls/sys_enter', () => {
  counts.increment(1);
  sizes.record(5);
  seen.set(1);
  return 0;
});
`);
    writeFileSync(join(dir, 'bad.bpf.ts'), `import { tracepoint } from '${join(ROOT, 'src/dsl/index.js')}';\nexport const p = tracepoint('syscalls/sys_enter_getppid', () => { return undefinedName; });\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('without a kernel: asm, disasm, btf dump, build (and its diagnostics), exec', function () {
    const cases = [
      ['asm', join(dir, 'add.s'), '--json'],
      ['asm', join(dir, 'add.s'), '-o', join(dir, 'add.bin'), '--json'],
      ['disasm', OBJECT, '--json'],
      ['btf', 'dump', OBJECT, '--format', 'raw', '--json'],
      ['build', join(dir, 'm.bpf.ts'), '-o', join(dir, 'm.o'), '--no-cache', '--json'],
      ['build', join(dir, 'm.bpf.ts'), '--emit', 'asm', '--no-cache', '--json'],
      ['build', join(dir, 'bad.bpf.ts'), '--no-cache', '--json'],
      ['exec', join(dir, 'add.s'), '--json'],
      ['exec', join(dir, 'missing.s'), '--json'],
    ];
    const { results, stderr } = runAll(cases);
    for (const r of results) expectJsonLines(r, stderr);
    const status = (i: number): number => results[i]!.status;
    expect([status(0), status(1), status(2), status(3), status(4), status(5), status(7)], stderr).to.deep.equal([0, 0, 0, 0, 0, 0, 0]);
    expect(status(6)).to.equal(1);
    expect(results[6]!.stdout, 'a compile error is a diagnostic object').to.match(/"diagnostic"/);
    expect(status(8)).to.not.equal(0);
  });

  it('with a kernel: feature, map, prog, link, net, load, probes, run', function () {
    needKernel(this);
    using collection = loadObjectFile(OBJECT);
    const byThread = collection.map('by_thread');
    const key = new Uint8Array(12);
    new DataView(key.buffer).setUint32(0, 7, true);
    key.set(new TextEncoder().encode('abc'), 4);
    byThread.update(key, new Uint8Array(8).fill(1));
    using counter = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1, name: 'user2_json' });
    using xdp = Program.load({ type: 'XDP', instructions: countAll(counter.fd, 2), name: 'user2_json' });
    using tp = Program.load({ type: 'RAW_TRACEPOINT', instructions: countAll(counter.fd), name: 'user2_jtp' });
    using link = attachRawTracepoint(tp, 'sys_enter');
    const packet = join(dir, 'packet');
    writeFileSync(packet, new Uint8Array(64));
    const mapId = String(byThread.info().id);
    const cases = [
      ['feature', '--json'],
      ['map', 'list', '--json'],
      ['map', 'dump', 'id', mapId, '--json'],
      ['map', 'dump', 'id', String(counter.info().id), '--json'],
      ['map', 'lookup', 'id', mapId, 'key', '{"tid": 7, "tag": "abc"}', '--json'],
      ['map', 'lookup', 'id', mapId, 'key', '{"tid": 8, "tag": "abc"}', '--json'], // not found
      ['prog', 'list', '--json'],
      ['prog', 'show', String(xdp.info().id), '--json'],
      ['prog', 'dump', 'xlated', 'id', String(xdp.info().id), '--json'],
      ['prog', 'dump', 'jited', 'id', String(xdp.info().id), '--json'],
      ['prog', 'run', 'id', String(xdp.info().id), 'data_in', packet, 'data_out', join(dir, 'out'), '--json'],
      ['link', 'list', '--json'],
      ['link', 'show', String(link.info().id), '--json'],
      ['net', 'show', '--json'],
      ['load', OBJECT, '--json'],
      ['probes', 'tracepoint:syscalls:sys_enter_getpgid', '-v', '--json'],
      ['run', join(dir, 'm.bpf.ts'), '--duration', '1', '--no-cache', '--json'],
      ['run', OBJECT, '--duration', '1', '--json'],
    ];
    const { results, stderr } = runAll(cases);
    for (const r of results) expectJsonLines(r, stderr);
    results.forEach((r, i) => expect(r.status, `tsbpf ${r.argv.join(' ')}\n${stderr.slice(-6000)}`).to.equal(i === 5 ? 1 : 0));
    expect(results[5]!.stdout, 'a key not found prints nothing on stdout').to.equal('');
    // Something was printed where there is something to print.
    for (const i of [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17]) expect(results[i]!.stdout, `tsbpf ${results[i]!.argv.join(' ')}`).to.not.equal('');
    for (const kind of ['"attached":"p"', '"map":"counts"', '"histogram":"sizes"', '"global":"seen"']) expect(results[16]!.stdout).to.include(kind);
  });
});
