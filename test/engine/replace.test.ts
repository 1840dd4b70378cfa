/**
 * Replacement without disruption: a module counting UDP packets to one port
 * is replaced 100 times (XDP: BPF_LINK_UPDATE of the interface's link; tcx:
 * BPF_LINK_UPDATE of its tcx link) while a steady stream crosses a veth
 * pair from a private namespace. Every datagram sent must arrive, and the
 * counter, carried over by every replace, must equal the datagrams sent.
 */
import { expect } from 'chai';
import { VethNetns } from '../kernel/netns-fixture.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import type { LoadResult } from '../../src/engine/protocol.js';
import { buildModule, counterModule, EngineProcess, UdpCounter, UdpStream, waitFor } from './fixture.js';

const REPLACES = Number(process.env.TSBPF_ENGINE_REPLACES ?? 100);

describe('engine: replace under traffic (kernel)', function () {
  this.timeout(300_000);
  let net: VethNetns;
  let engine: EngineProcess;

  before(async function () {
    needKernel(this);
    net = VethNetns.orSkip(this);
    engine = new EngineProcess();
    await engine.start();
  });

  after(async () => {
    await engine?.destroy();
    net?.destroy();
  });

  for (const kind of ['xdp', 'tc'] as const) {
    it(`replaces a ${kind} counter ${REPLACES} times: no datagram lost, the carried counter equals datagrams sent`, async () => {
      const port = 20000 + Math.floor(Math.random() * 20000);
      const program = uniqueName(`r${kind}`).slice(0, 14);
      const a = buildModule(engine.dir, `${program}a`, counterModule(kind, program, 'A'));
      const b = buildModule(engine.dir, `${program}b`, counterModule(kind, program, 'B'));
      const name = `count-${kind}`;
      const loaded = await engine.call<LoadResult>('load', { name, file: a.object, iface: net.host, set: { port } });
      expect(loaded.programs[0]!.hook).to.equal(`${kind === 'xdp' ? 'xdp' : 'tcx-ingress'}:${net.host}`);
      const receiver = await UdpCounter.bind(net.hostIp, port);
      const stream = new UdpStream(net.ns, net.hostIp, port, 2000);
      try {
        await waitFor(() => receiver.received > 50, 20_000, 'traffic to flow');
        const swaps: string[] = [];
        for (let i = 0; i < REPLACES; i++) {
          const r = await engine.call<LoadResult>('replace', { name, file: (i % 2 === 0 ? b : a).object });
          swaps.push(r.programs[0]!.how);
          expect(r.maps.find((m) => m.name === 'packets')!.outcome, 'counter map carried').to.equal('carried');
          expect(r.maps.find((m) => m.name === '.rodata')?.outcome ?? 'new').to.equal('new');
          // The B version has one more map: created new on the way in.
          if (i % 2 === 0) expect(r.maps.find((m) => m.name === 'spare')).to.deep.include({ outcome: 'new' });
        }
        expect(new Set(swaps)).to.deep.equal(new Set(['link-update']));
        const sent = await stream.stop();
        await waitFor(() => receiver.received >= sent, 20_000, `${sent} datagrams to arrive (have ${receiver.received})`);
        expect(receiver.received, 'datagrams received').to.equal(sent);
        const shown = await engine.call<{ contents: Array<{ name: string; entries: Array<{ key: number; value: number }> }>; version: number }>('show', { name });
        expect(shown.version).to.equal(REPLACES + 1);
        const counter = shown.contents.find((c) => c.name === 'packets')!.entries[0]!.value;
        expect(Number(counter), 'carried-over counter').to.equal(sent);
      } finally {
        receiver.close();
        stream.proc.kill();
        await engine.call('unload', { name });
      }
    });
  }
});
