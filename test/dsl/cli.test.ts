/**
 * `tsbpf build` and `tsbpf run` as a user runs them (a child process).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { spawnRun, untilAttached } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Runs the CLI in this process, capturing its output: a few times faster
 * than test/support/cli.ts's child process, and with the environment
 * (a private TSBPF_CACHE_DIR) the cache test needs.
 */
async function tsbpf(args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  const saved = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr), env: { ...process.env }, cwd: process.cwd() };
  let stdout = '';
  let stderr = '';
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  Object.assign(process.env, { NO_COLOR: '1', ...env });
  process.chdir(ROOT);
  try {
    const status = await main(args);
    return { status, stdout, stderr };
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    for (const k of Object.keys(env)) if (!(k in saved.env)) delete process.env[k];
    process.chdir(saved.cwd);
  }
}

describe('dsl CLI: tsbpf build / run', function () {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-dsl-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('builds an example into an ELF object, and prints asm and IR', async () => {
    const out = join(dir, 'x.o');
    const r = await tsbpf(['build', 'examples/xdp-proto-count.bpf.ts', '-o', out], { TSBPF_CACHE_DIR: join(dir, 'cache') });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/wrote .*x\.o .*1 program, 1 map/);
    expect([...readFileSync(out).subarray(0, 4)]).to.deep.equal([0x7f, 0x45, 0x4c, 0x46]);
    const asm = await tsbpf(['build', 'examples/xdp-proto-count.bpf.ts', '--emit', 'asm'], { TSBPF_CACHE_DIR: join(dir, 'cache') });
    expect(asm.status).to.equal(0);
    expect(asm.stdout).to.match(/countProtocols \(SEC\("xdp"\), \d+ instructions\)/);
    expect(asm.stdout).to.include('call 1');
    const ir = await tsbpf(['build', 'examples/xdp-proto-count.bpf.ts', '--emit', 'ir', '--json'], { TSBPF_CACHE_DIR: join(dir, 'cache') });
    const line = JSON.parse(ir.stdout.trim().split('\n')[0]!) as { program: string; ir: string[] };
    expect(line.program).to.equal('countProtocols');
    expect(line.ir.join('\n')).to.match(/call 1\(/);
    // The later builds came from the cache.
    expect(readdirSync(join(dir, 'cache')).filter((f) => f.endsWith('.json'))).to.have.length(1);
  });

  it('reports every diagnostic with a code frame and exits 1', async () => {
    const bad = join(dir, 'bad.bpf.ts');
    writeFileSync(bad, `import { xdp } from '${join(ROOT, 'src/dsl/index.js')}';\nexport const p = xdp((ctx) => {\n  const f = 2.5;\n  const s = [1];\n  return 2;\n});\n`);
    const r = await tsbpf(['build', bad, '--no-cache']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(`${bad}:3:13: TSBPF_FLOAT`);
    expect(r.stderr).to.include(`${bad}:4:13: TSBPF_HEAP`);
    expect(r.stderr).to.include('3 |   const f = 2.5;');
    expect(r.stderr).to.include('2 errors');
  });

  it('runs a tracepoint module, prints events and maps, exits 0 after --duration', async function () {
    needKernel(this);
    const run = spawnRun(['examples/execve-count.bpf.ts', '--duration', '3', '--json'], join(dir, 'cache2'));
    // Exec /bin/true over and over until the run ends, so that however late it
    // attaches and however slowly this machine runs, execs fall inside its 3 seconds.
    let running = true;
    const execs = (async () => {
      while (running) {
        await new Promise((resolve) => execFile('/bin/true', resolve));
        await new Promise((resolve) => setTimeout(resolve, 100)); // leave the CPU to the run starting up
      }
    })();
    const code = await run.exited.finally(() => (running = false));
    await execs;
    expect(code, run.stderr).to.equal(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).to.deep.equal({ attached: 'onExecve', where: 'tracepoint syscalls/sys_enter_execve' });
    const events = lines.filter((l) => l.event === 'execs');
    expect(events.some((e) => (e.value as { filename: string }).filename === '/bin/true')).to.equal(true);
    const entries = lines.filter((l) => l.map === 'execsByName');
    expect(entries.length).to.be.greaterThan(0);
    expect(entries.every((e) => typeof e.key === 'string' && typeof e.value === 'number')).to.equal(true);
    // The compiler's ring buffer drop count is reported as lost events, never printed as one of the module's globals.
    expect(lines.filter((l) => typeof l.global === 'string' && l.global.startsWith('__tsbpf_')), run.stdout).to.deep.equal([]);
  });

  it('without --duration it runs until SIGTERM, then prints its maps and exits 0 (no ring buffer keeps it alive)', async function () {
    needKernel(this);
    const mod = join(dir, 'until-signal.bpf.ts');
    writeFileSync(mod, `import { hashMap, tracepoint, type u32, type u64 } from '${join(ROOT, 'src/dsl/index.js')}';\nexport const hits = hashMap<u32, u64>({ maxEntries: 4 });\nexport const onGetppid = tracepoint('syscalls/sys_enter_getppid', () => {\n  hits.increment(0);\n  return 0;\n});\n`);
    const run = spawnRun([mod, '--json'], join(dir, 'cache3'));
    await untilAttached(run);
    await new Promise((r) => setTimeout(r, 1000)); // still running a second later
    expect(run.child.exitCode, run.stderr).to.equal(null);
    for (let i = 0; i < 5; i++) void process.ppid; // getppid(2), counted by the module
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr).to.equal(0);
    expect(run.stdout).to.include('{"map":"hits","key":0,"value":');
  });

  it('shows the TypeScript line when the kernel rejects a program', async function () {
    needKernel(this);
    const mod = join(dir, 'reject.bpf.ts');
    writeFileSync(mod, `import { tracepoint, bpf } from '${join(ROOT, 'src/dsl/index.js')}';\nexport const p = tracepoint('syscalls/sys_enter_getppid', () => {\n  return bpf.unsafeLoad(64, 4) > 0 ? 1 : 0;\n});\n`);
    const r = await tsbpf(['run', mod, '--duration', '1', '--no-cache']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(`${mod}:3:10`);
    expect(r.stderr).to.include('3 |   return bpf.unsafeLoad(64, 4) > 0 ? 1 : 0;');
    expect(existsSync(mod)).to.equal(true);
  });

  it('an attach failure names the program declaration in the module', async function () {
    needKernel(this);
    const mod = join(dir, 'no-such-tp.bpf.ts');
    writeFileSync(mod, `import { tracepoint } from '${join(ROOT, 'src/dsl/index.js')}';\nexport const onNothing = tracepoint('syscalls/sys_enter_nonexistent', () => 0);\n`);
    const r = await tsbpf(['run', mod, '--duration', '1', '--no-cache']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(`${mod}:2:14: cannot attach onNothing:`);
    expect(r.stderr).to.include("no tracepoint 'syscalls/sys_enter_nonexistent'");
  });
});
