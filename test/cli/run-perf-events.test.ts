/**
 * `tsbpf run` prints events a module sends through a perf event array
 * (bpf_perf_event_output), as it prints ring-buffer events: the test makes
 * marked getpgid calls of its own after attach and waits for each event.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnRun, until } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';
import { libcGetpgid } from '../kernel/marked-calls.js';

const MODULE = `
import { tracepoint, perfEventArray, rodata, bpf, u32, type CStr } from 'tsbpf/dsl';
export interface Call { pid: u32; mark: u32; comm: CStr<16> }
export const mark = rodata<u32>(0);
export const calls = perfEventArray<Call>();
export const onGetpgid = tracepoint('syscalls/sys_enter_getpgid', (ctx) => {
  if (u32(ctx.pid) !== mark.get()) return 0;
  let c!: Call;
  c.pid = bpf.pid();
  c.mark = mark.get();
  bpf.currentComm(c.comm);
  calls.output(ctx, c);
  return 0;
});
`;

describe('tsbpf run: perf event arrays', function () {
  this.timeout(240000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-perf-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints each event output through a perf event array', async function () {
    needKernel(this);
    const mark = 50000 + (process.pid % 10000);
    const file = join(dir, 'perf.bpf.ts');
    writeFileSync(file, MODULE);
    const run = spawnRun([file, '--set', `mark=${mark}`, '--json'], join(dir, 'cache'));
    try {
      expect(await until(run, 960, (r) => r.stdout.includes('"attached"')), run.stderr).to.equal(true);
      for (let i = 0; i < 3; i++) {
        const want = i + 1;
        const seen = await until(run, 240, (r) => {
          if (r.stdout.split('\n').filter((l) => l.includes('"event"')).length >= want) return true;
          libcGetpgid(mark);
          return false;
        });
        expect(seen, run.stdout + run.stderr).to.equal(true);
      }
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited, run.stderr).to.equal(0);
    const events = run.stdout.split('\n').filter((l) => l.includes('"event"')).map((l) => JSON.parse(l) as { event: string; value: { pid: number; mark: number; comm: string } });
    expect(events.length).to.be.at.least(3);
    for (const e of events) {
      expect(e.event).to.equal('calls');
      expect(e.value.pid).to.equal(process.pid);
      expect(e.value.mark).to.equal(mark);
    }
  });
});
