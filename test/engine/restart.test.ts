/**
 * Crashes: the engine is killed with SIGKILL in the middle of a load and of
 * a replace (at each step of a change: after making the new objects, after
 * swapping them in, after committing), then started again. It must
 * re-adopt every committed module, leave the interface with a working
 * program, remove what the cut-short change left, and `module list` must
 * match what bpftool sees.
 */
import { expect } from 'chai';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VethNetns } from '../kernel/netns-fixture.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import type { ListResult } from '../../src/engine/protocol.js';
import { readState, referencedPins } from '../../src/engine/state.js';
import { bpftoolLinks, bpftoolPrograms, buildModule, counterModule, EngineProcess, UdpCounter, waitFor } from './fixture.js';

function pinsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...pinsUnder(p));
    else out.push(p);
  }
  return out;
}

describe('engine: SIGKILL mid-change, restart, re-adoption (kernel)', function () {
  this.timeout(300_000);
  let net: VethNetns;
  let engine: EngineProcess;
  let receiver: UdpCounter;
  const port = 40000 + Math.floor(Math.random() * 10000);
  const programs = [uniqueName('ka').slice(0, 14), uniqueName('kb').slice(0, 14)];
  let objects: string[];

  before(async function () {
    needKernel(this);
    net = VethNetns.orSkip(this);
    engine = new EngineProcess();
    await engine.start();
    objects = [
      buildModule(engine.dir, 'first', counterModule('xdp', programs[0]!, 'A')).object,
      buildModule(engine.dir, 'second', counterModule('xdp', programs[1]!, 'B')).object,
    ];
    receiver = await UdpCounter.bind(net.hostIp, port);
    await engine.call('load', { name: 'first', file: objects[0], iface: net.host, set: { port } });
  });

  after(async () => {
    receiver?.close();
    await engine?.destroy();
    net?.destroy();
  });

  /** The engine's modules agree with bpftool, nothing of ours is orphaned, and packets still flow through a counting program. */
  async function checkConsistent(expected: string[]): Promise<void> {
    const list = await engine.call<ListResult>('list');
    expect(list.modules.map((m) => m.name).sort()).to.deep.equal([...expected].sort());
    const ours = new Set(list.modules.flatMap((m) => m.programs.map((p) => p.id)));
    for (const c of list.chains) if (c.dispatcherId) ours.add(c.dispatcherId);
    // Every program named like ours is one the engine lists (no orphan from the killed engine). A program the
    // engine has let go (an unload, an old dispatcher's prog array) is freed by the kernel after an RCU grace period,
    // which a loaded host stretches: wait for that, then compare; an orphan never goes.
    const namedIds = (): number[] =>
      bpftoolPrograms().filter((p) => programs.includes(p.name ?? '') || (p.name === 'tsbpf_dispatch' && ours.has(p.id))).map((p) => p.id).sort();
    const ourIds = [...ours].sort();
    await waitFor(() => JSON.stringify(namedIds()) === JSON.stringify(ourIds), 20_000, 'programs the engine let go to be freed').catch(() => undefined);
    expect(namedIds()).to.deep.equal(ourIds);
    // The interface's XDP link is the one the engine lists, on a program it lists.
    const listedLinks = new Set([...list.modules.flatMap((m) => m.programs.map((p) => p.linkId)), ...list.chains.map((c) => c.linkId)]);
    const linkIds = (): number[] => bpftoolLinks().filter((l) => ours.has(l.prog_id)).map((l) => l.id).sort();
    const listedIds = [...listedLinks].filter((x) => x !== undefined).sort();
    await waitFor(() => JSON.stringify(linkIds()) === JSON.stringify(listedIds), 20_000, 'links the engine let go to be freed').catch(() => undefined);
    expect(linkIds()).to.deep.equal(listedIds);
    // Every pin under the root is one the state names (list ids are read through those pins).
    const pins = pinsUnder(engine.pinRoot);
    expect(new Set(pins)).to.deep.equal(referencedPins(readState(join(engine.stateDir, 'state.json'))));
    // Packets still pass and are counted by the module in front.
    const before = await counter(expected[0]!);
    const got = receiver.received;
    net.sendUdpFromNs(50, net.hostIp, port);
    await waitFor(() => receiver.received >= got + 50, 20_000, 'packets to pass');
    await waitFor(async () => (await counter(expected[0]!)) >= before + 50, 20_000, 'the counter');
    expect(await counter(expected[0]!)).to.equal(before + 50);
  }

  async function counter(name: string): Promise<number> {
    const r = await engine.call<{ contents: Array<{ name: string; entries: Array<{ value: number }> }> }>('show', { name });
    return Number(r.contents.find((c) => c.name === 'packets')!.entries[0]?.value ?? 0);
  }

  async function crashDuring(failpoint: string, request: () => Promise<unknown>): Promise<void> {
    await engine.kill('SIGTERM');
    await engine.start({ env: { TSBPF_ENGINE_FAILPOINT: failpoint } });
    let answered = false;
    await request().then(() => (answered = true), () => undefined);
    expect(answered, `the engine should have died at ${failpoint}`).to.equal(false);
    await engine.exited();
    expect(engine.proc!.signalCode).to.equal('SIGKILL');
    await engine.start();
  }

  for (const step of ['make', 'switch', 'commit']) {
    it(`load killed at ${step}: re-adopts, interface works, nothing orphaned`, async () => {
      const committed = step === 'commit';
      await crashDuring(`load:${step}`, () => engine.call('load', { name: 'second', file: objects[1], iface: net.host, set: { port } }));
      await checkConsistent(committed ? ['first', 'second'] : ['first']);
      if (committed) await engine.call('unload', { name: 'second' });
      await checkConsistent(['first']);
    });

    it(`replace killed at ${step}: the old or the new version runs, counter kept`, async () => {
      const before = await counter('first');
      const version = (await engine.call<ListResult>('list')).modules.find((m) => m.name === 'first')!.version;
      await crashDuring(`replace:${step}`, () => engine.call('replace', { name: 'first', file: objects[version % 2] }));
      const after = (await engine.call<ListResult>('list')).modules.find((m) => m.name === 'first')!;
      expect(after.version).to.equal(step === 'commit' ? version + 1 : version);
      expect(await counter('first')).to.equal(before);
      await checkConsistent(['first']);
    });
  }

  it('a chain survives a kill in the middle of a chain rebuild', async () => {
    await engine.call('load', { name: 'second', file: objects[1], iface: net.host, set: { port }, before: 'first' });
    await crashDuring('unload:switch', () => engine.call('unload', { name: 'second' }));
    await checkConsistent(['second', 'first']);
    await engine.call('unload', { name: 'second' });
    await checkConsistent(['first']);
  });
});
