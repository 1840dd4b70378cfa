/**
 * loadModule against the kernel: a module imported as any TypeScript module
 * gives typed handles on its maps (struct values decoded, per-CPU summed or
 * split), its events (`for await`), its histogram, its programs (detach and
 * attach again change what is counted) and its globals; maps carry BTF so
 * bpftool prints them structured.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { loadModule, sourceOf } from '../../src/index.js';
import { possibleCpuCount } from '../../src/kernel/cpus.js';
import { markedGetpgid, MARK } from '../kernel/marked-calls.js';
import { needKernel } from '../support/kernel.js';
import * as marked from './fixtures/marked.bpf.js';
import * as ports from './fixtures/ports.bpf.js';

describe('loadModule: typed handles on a module', function () {

  it('finds the module source from the module object itself', function () {
    expect(sourceOf(marked)).to.match(/test\/module\/fixtures\/marked\.bpf\.ts$/);
    expect(() => sourceOf({ x: 1 })).to.throw(/no maps or programs made by tsbpf\/dsl/);
  });

  it('sets rodata arrays and structs at load, and reads them back', async function () {
    needKernel(this);
    await using live = await loadModule(ports, { attach: false, set: { ports: [53, 5353], limits: { maxLen: 9000 } } });
    expect(live.globals.ports).to.deep.equal([53, 5353, 0, 0]);
    expect(live.globals.limits).to.deep.equal({ maxLen: 9000, minLen: 0 });
    await using defaults = await loadModule(ports, { attach: false });
    expect(defaults.globals.ports).to.deep.equal([80, 0, 0, 0]);
    expect(defaults.globals.limits).to.deep.equal({ maxLen: 1500, minLen: 0 });
  });

  it('reads struct-valued maps, per-CPU values, events, a histogram and globals; detach stops counting', async function () {
    needKernel(this);
    const tid = process.pid; // marked calls come from the main thread, whose tid is the pid
    await using live = await loadModule(marked, { set: { mark: MARK } });
    expect(live.programs.onGetpgid.attachedTo).to.equal('tracepoint syscalls/sys_enter_getpgid');
    for (let i = 0; i < 3; i++) markedGetpgid();

    const events: Array<{ tid: number; arg: number; comm: string }> = [];
    for await (const e of live.events.calls) {
      events.push(e);
      if (events.length === 3) break;
    }
    expect(events.map((e) => e.arg)).to.deep.equal([MARK, MARK, MARK]);
    expect(events[0]!.tid).to.equal(tid);
    expect(events[0]!.comm).to.be.a('string').and.not.equal('');

    const mine = live.maps.byThread.get(tid);
    expect(mine).to.deep.equal({ count: 3, lastArg: MARK, comm: events[0]!.comm });
    expect([...live.maps.byThread]).to.deep.equal([[tid, mine]]);
    expect(live.maps.total.get(0)).to.equal(3);
    const perCpu = live.maps.total.getPerCpu(0)!;
    expect(perCpu).to.have.length(possibleCpuCount());
    expect(perCpu.reduce((a, b) => a + b, 0)).to.equal(3);

    expect(live.globals.seen).to.equal(3);
    expect(live.globals.mark).to.equal(MARK);
    expect(() => {
      live.globals.mark = 1;
    }).to.throw(/rodata/);
    live.globals.seen = 100;
    expect(live.globals.seen).to.equal(100);

    const [hist] = live.histograms.argBits.read();
    const low = MARK & 0xffff;
    const index = low === 0 ? 1 : 2 + Math.floor(Math.log2(low));
    expect(hist!.buckets.filter((b) => b.count > 0)).to.deep.equal([{ ...hist!.buckets.find((b) => b.index === index)!, count: 3 }]);
    expect(live.histograms.argBits.format()).to.match(/^@argBits: \n\[\S+, \S+\)\s+3 \|@{52}\|\n\n$/);

    // Detached, the program counts nothing; attached again, it counts.
    live.programs.onGetpgid.detach();
    expect(live.programs.onGetpgid.attachedTo).to.equal(undefined);
    markedGetpgid();
    expect(live.maps.byThread.get(tid)!.count).to.equal(3);
    live.programs.onGetpgid.attach();
    markedGetpgid();
    expect(live.maps.byThread.get(tid)!.count).to.equal(4);

    // Writes from user space, typed the same way.
    live.maps.byThread.set(7, { count: 9, lastArg: 1, comm: 'seven' });
    expect(live.maps.byThread.get(7)).to.deep.equal({ count: 9, lastArg: 1, comm: 'seven' });
    expect(() => live.maps.byThread.set(8, { count: 1, lastArg: 1, comm: 'a name longer than sixteen' })).to.throw(/CStr<16> holds 16/);
    expect(live.maps.byThread.delete(7)).to.equal(true);
    expect(live.maps.byThread.has(7)).to.equal(false);

    // BTF on the map: bpftool prints the struct by field.
    const id = live.maps.byThread.raw.info().id;
    const dump = JSON.parse(spawnSync('bpftool', ['-j', 'map', 'dump', 'id', String(id)], { encoding: 'utf8' }).stdout) as Array<{ formatted: { key: number; value: Record<string, unknown> } }>;
    expect(dump[0]!.formatted.key).to.equal(tid);
    expect(dump[0]!.formatted.value).to.include({ count: 4, lastArg: MARK, comm: events[0]!.comm });
  });
});
