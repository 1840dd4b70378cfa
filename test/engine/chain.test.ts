/**
 * Chains: three XDP modules (a tail-call dispatcher) and three tcx modules
 * (the kernel's multi-program order) on one interface, added, reordered,
 * replaced with a dropping version and removed while background traffic
 * flows. Each step is checked with a burst to another port: every module's
 * own counter says whether it ran, and the receiver whether the packet
 * passed, so a drop in the first module must stop the others.
 */
import { expect } from 'chai';
import { VethNetns } from '../kernel/netns-fixture.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import type { ListResult, LoadResult } from '../../src/engine/protocol.js';
import { buildModule, EngineProcess, stageModule, UdpCounter, UdpStream, waitFor } from './fixture.js';

const BURST = 200;

describe('engine: chains of three XDP and three tcx modules (kernel)', function () {
  this.timeout(300_000);
  let net: VethNetns;
  let engine: EngineProcess;
  let receiver: UdpCounter;
  let background: UdpStream;
  const burstPort = 30000 + Math.floor(Math.random() * 10000);
  const backgroundPort = burstPort + 1;

  before(async function () {
    needKernel(this);
    net = VethNetns.orSkip(this);
    engine = new EngineProcess();
    await engine.start();
    receiver = await UdpCounter.bind(net.hostIp, burstPort);
    background = new UdpStream(net.ns, net.hostIp, backgroundPort, 500);
  });

  after(async () => {
    background?.proc.kill();
    receiver?.close();
    await engine?.destroy();
    net?.destroy();
  });

  /** How many burst-port packets each module has seen. */
  async function seen(names: string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const n of names) {
      const r = await engine.call<{ contents: Array<{ name: string; entries: Array<{ key: number; value: number }> }> }>('show', { name: n });
      out[n] = Number(r.contents.find((c) => c.name === 'seen')!.entries.find((e) => Number(e.key) === burstPort)?.value ?? 0);
    }
    return out;
  }

  /** Sends a burst and checks which modules saw it and whether it arrived. */
  async function burst(all: string[], ran: string[], passes: boolean): Promise<void> {
    const before = await seen(all);
    const got = receiver.received;
    net.sendUdpFromNs(BURST, net.hostIp, burstPort);
    if (passes) await waitFor(() => receiver.received >= got + BURST, 20_000, 'the burst to arrive');
    // Counters are updated before the verdict: once the last module that runs has them all, the others have too.
    await waitFor(async () => {
      const now = await seen(ran.length ? ran : all);
      return (ran.length ? ran : all).every((n) => now[n]! - before[n]! >= (ran.includes(n) ? BURST : 0));
    }, 20_000, 'module counters');
    const after = await seen(all);
    for (const n of all) expect(after[n]! - before[n]!, `packets seen by ${n}`).to.equal(ran.includes(n) ? BURST : 0);
    expect(receiver.received - got, 'datagrams that passed').to.equal(passes ? BURST : 0);
  }

  for (const kind of ['xdp', 'tc'] as const) {
    it(`${kind}: adds, reorders, replaces with a drop and removes modules while traffic flows`, async () => {
      const names = ['a', 'b', 'c'].map((x) => `${kind}-${x}`);
      const objects = names.map((n) => buildModule(engine.dir, n, stageModule(kind, uniqueName(`s${kind}`).slice(0, 14))).object);
      const [a, b, c] = names as [string, string, string];
      const drop = kind === 'xdp' ? 1 : 2; // XDP_DROP, TC_ACT_SHOT
      await engine.call<LoadResult>('load', { name: a, file: objects[0], iface: net.host });
      await engine.call<LoadResult>('load', { name: b, file: objects[1], iface: net.host });
      await engine.call<LoadResult>('load', { name: c, file: objects[2], iface: net.host, after: b });
      await burst(names, names, true);
      if (kind === 'xdp') {
        const list = await engine.call<ListResult>('list');
        const chain = list.chains.find((x) => x.hook === `xdp:${net.host}`)!;
        expect(chain.mode).to.equal('dispatcher');
        expect(chain.members.map((m) => m.split('/')[0])).to.deep.equal([a, b, c]);
      }
      // c moves to the front; then a dropping version of c stops a and b.
      await engine.call('move', { name: c, before: a });
      await burst(names, names, true);
      const dropping = await engine.call<LoadResult>('replace', { name: c, file: objects[2], set: { verdict: drop } });
      expect(dropping.maps.find((m) => m.name === 'seen')!.outcome).to.equal('carried');
      await burst(names, [c], false);
      // Removing the dropping module lets traffic through the other two again.
      await engine.call('unload', { name: c });
      await burst([a, b], [a, b], true);
      // Last in the middle: a drop in b leaves a counting, and nothing passes.
      await engine.call('replace', { name: b, file: objects[1], set: { verdict: drop } });
      await burst([a, b], [a, b], false);
      await engine.call('unload', { name: b });
      await burst([a], [a], true);
      if (kind === 'xdp') {
        const list = await engine.call<ListResult>('list');
        expect(list.chains.find((x) => x.hook === `xdp:${net.host}`)!.mode).to.equal('direct');
      }
      await engine.call('unload', { name: a });
      const list = await engine.call<ListResult>('list');
      expect(list.chains.filter((x) => x.hook === `xdp:${net.host}`)).to.deep.equal([]);
    });
  }
});
