/**
 * One-liners (`tsbpf run -e SOURCE`) and modules on standard input
 * (`tsbpf run -`): the module language is in scope, top-level consts are
 * exported, diagnostics point at the user's own line and column, and the
 * program does what it says in the kernel (it counts the test's marked
 * getpgid calls exactly).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { oneLinerModule } from '../../src/cli/run-eval.js';
import { CLI_BIN, spawnRun, tsbpf, untilAttached } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';
import { untilOutput } from '../support/wait.js';
import { MARK, arch, markedGetpgid } from '../kernel/marked-calls.js';

const CALLS = 5;
const counter = `const n = global<u64>(0); const p = tracepoint('syscalls/sys_enter_getpgid', (ctx) => { if (ctx.pid === ${MARK}) n.set(n.get() + 1); return 0; });`;

describe('tsbpf run -e and run -', function () {
  let cache: string;
  before(() => {
    cache = mkdtempSync(join(tmpdir(), 'tsbpf-run-eval-user-'));
  });
  after(() => rmSync(cache, { recursive: true, force: true }));

  it('the module text: consts exported at the top level only, the DSL imported after the user lines', () => {
    const text = oneLinerModule("const m = hashMap<u32, u64>({ maxEntries: 4 });\nconst p = xdp(() => { const x = 1; return XdpAction.PASS; });");
    const lines = text.split('\n');
    expect(lines[0]).to.equal('export const m = hashMap<u32, u64>({ maxEntries: 4 });');
    expect(lines[1]).to.equal('export const p = xdp(() => { const x = 1; return XdpAction.PASS; });');
    const dsl = /^import \{([^}]*)\} from '.*\/dsl\/index\.js';$/m.exec(text)![1]!.split(',').map((s) => s.trim());
    expect(dsl).to.include.members(['hashMap', 'xdp', 'XdpAction', 'type u64', 'type u32', 'bpf']);
    expect(text).to.match(/import \{[^}]*\bEthHdr\b[^}]*\} from '.*\/dsl\/net\.js';/);
    // A name the user declares is not imported over it.
    expect(oneLinerModule('const bpf = 1;')).to.not.match(/[{,] bpf[,} ]/);
    // A module that imports tsbpf/dsl itself keeps its own imports and exports.
    const own = oneLinerModule("import { xdp } from 'tsbpf/dsl';\nexport const p = xdp(() => 2);");
    expect(own).to.match(/^import \{ xdp \} from '.*\/dsl\/index\.js';\nexport const p = xdp\(\(\) => 2\);$/);
  });

  it('a diagnostic names the user line and column', () => {
    const r = tsbpf('run', '-e', 'const p = tracepoint(\'syscalls/sys_enter_getpgid\', () => {\n  return nope;\n});');
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/one-liner\.bpf\.ts:2:10: TS2304: Cannot find name 'nope'/);
  });

  it('an empty -e, and -e with a file, are usage errors', () => {
    expect(tsbpf('run', '-e', '  ')).to.deep.include({ status: 2, stderr: 'error: -e: the source is empty\n' });
    expect(tsbpf('run', '-e', 'x', 'm.bpf.ts')).to.deep.include({ status: 2, stderr: 'error: give -e SOURCE or a file, not both\n' });
  });

  describe('in the kernel', () => {
    before(function () {
      needKernel(this);
      if (!arch) this.skip();
    });

    it('-e counts exactly the marked calls and prints the global', async () => {
      const run = spawnRun(['-e', counter, '--json'], cache);
      await untilAttached(run);
      for (let i = 0; i < CALLS; i++) markedGetpgid();
      run.child.kill('SIGTERM');
      expect(await run.exited, run.stderr).to.equal(0);
      const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).to.deep.include({ global: 'n', value: CALLS });
    });

    it('- reads a module from standard input', async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', CLI_BIN, 'run', '-', '--json'], { env: { ...process.env, NO_COLOR: '1', TSBPF_CACHE_DIR: cache } });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.stdin.end(`import { tracepoint, global, type u64 } from 'tsbpf/dsl';\nexport ${counter.replace('const p', 'export const p')}\n`);
      await untilOutput(child, () => out, '"attached"');
      for (let i = 0; i < CALLS; i++) markedGetpgid();
      child.kill('SIGTERM');
      const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(status, err).to.equal(0);
      expect(out.trim().split('\n').map((l) => JSON.parse(l))).to.deep.include({ global: 'n', value: CALLS });
    });
  });
});
