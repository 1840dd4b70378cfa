/**
 * `tsbpf run x.o` of a clang-built object (bpf-tests/run_object.bpf.c):
 * loaded with libbpf's conventions, attached by its SEC() name, its
 * ring-buffer records printed, and at exit its maps decoded through BTF and
 * its globals, as for a .bpf.ts module. The program counts the test's own
 * marked getpgid calls, so every count is exact by construction.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnRun, untilAttached } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';
import { untilOutput, waitFor } from '../support/wait.js';
import { MARK, arch, markedGetpgid } from '../kernel/marked-calls.js';

const OBJECT = fileURLToPath(new URL('../../bpf-tests/run_object.bpf.o', import.meta.url));
const CALLS = 7;

describe('tsbpf run of a clang-built object', function () {
  let cache: string;
  before(function () {
    needKernel(this);
    if (!arch) this.skip(); // marked calls know x86-64 and arm64
    cache = mkdtempSync(join(tmpdir(), 'tsbpf-run-object-user-'));
  });
  after(() => cache && rmSync(cache, { recursive: true, force: true }));

  it('attaches by section name, prints each event, then the maps by BTF and the globals', async () => {
    const run = spawnRun([OBJECT, '--json', '--set', `mark=${MARK}`, '--set', `tid=${process.pid}`], cache);
    await untilAttached(run);
    for (let i = 0; i < CALLS; i++) markedGetpgid();
    // Every event is printed while running: the ring is read as records arrive.
    await waitFor(() => run.stdout.split('"event"').length > CALLS, `${CALLS} events`);
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr).to.equal(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).to.deep.equal({ attached: 'on_getpgid', where: 'tracepoint syscalls/sys_enter_getpgid' });
    expect(lines.filter((l) => 'event' in l)).to.deep.equal(Array.from({ length: CALLS }, () => ({ event: 'events', value: 'cd ab 00 00' })));
    expect(lines.filter((l) => 'map' in l)).to.deep.equal([
      { map: 'by_thread', key: { tid: process.pid, tag: 'marked' }, value: String(CALLS) },
      { map: 'per_cpu', key: 0, value: String(CALLS) },
    ]);
    expect(lines.filter((l) => 'global' in l)).to.deep.equal([
      { global: 'mark', value: String(MARK) },
      { global: 'tid', value: process.pid },
      { global: 'calls', value: String(CALLS) },
    ]);
  });

  it('prints the same as text: maps as key → value, globals as @name: value', async () => {
    const run = spawnRun([OBJECT, '--set', `mark=${MARK}`, '--set', `tid=${process.pid}`], cache);
    await untilOutput(run.child, () => run.stderr, 'running');
    for (let i = 0; i < CALLS; i++) markedGetpgid();
    run.child.kill('SIGTERM');
    expect(await run.exited, run.stderr).to.equal(0);
    expect(run.stderr).to.contain('attached on_getpgid to tracepoint syscalls/sys_enter_getpgid');
    expect(run.stdout).to.contain(`by_thread (hash, 1 non-zero entry)\n  { tid: ${process.pid}, tag: "marked" } → ${CALLS}\n`);
    expect(run.stdout).to.contain(`per_cpu (percpu_array, 1 non-zero entry)\n  0 → ${CALLS}\n`);
    expect(run.stdout).to.contain(`@mark: ${MARK}\n@tid: ${process.pid}\n@calls: ${CALLS}\n`);
  });
});
