import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { attachTcx, attachXdp } from '../../src/kernel/link-netdev.js';
import { attachNetns } from '../../src/kernel/link-netns.js';
import { LinkError } from '../../src/kernel/link-error.js';
import { ensureBpffs } from '../../src/kernel/fs-mounts.js';
import { unpin } from '../../src/kernel/pin.js';
import { linkFromId, openPinnedLink } from '../../src/kernel/link-open.js';
import { ifNameToIndex } from '../../src/syscall/socket.js';
import { AttachType, LinkType } from '../../src/syscall/layouts.generated.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { waitFor } from '../support/wait.js';
import { countAll, countUdpToPort } from './link-programs.js';
import { skipWithout } from '../support/features.js';
import { VethNetns } from './netns-fixture.js';

const counter = (): BpfMap => BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
const readCount = (map: BpfMap): number => Number(new DataView(map.lookup(new Uint8Array(4))!.buffer).getBigUint64(0, true));
/**
 * Waits until `map` has counted `n` (packets received in softirq, which the
 * kernel may leave to ksoftirqd on a busy machine), then returns the count.
 */
async function counted(map: BpfMap, n: number): Promise<number> {
  await waitFor(() => readCount(map) >= n, `${n} packets counted`);
  return readCount(map);
}
const XDP_PASS = 2;
const TCX_PASS = 0;
const SK_PASS = 1;
/** Let the kernel's own dissector do the work after counting (5.19+). */
const BPF_FLOW_DISSECTOR_CONTINUE = 129;

describe('kernel: xdp, tcx and netns links on a veth pair', function () {
  let net: VethNetns | undefined;

  before(function () {
    needKernel(this);
    net = VethNetns.orSkip(this);
  });
  after(function () {
    net?.destroy();
  });

  it('an XDP program counts the UDP packets sent across the veth pair', async function () {
    const port = 40000 + Math.floor(Math.random() * 20000);
    using map = counter();
    using prog = Program.load({ type: 'XDP', instructions: countUdpToPort(map.fd, port, XDP_PASS, 0, 4), name: 'xdp_count' });
    const link = attachXdp(prog, net!.host);
    net!.sendUdpFromNs(7, net!.hostIp, port);
    expect(await counted(map, 7)).to.equal(7);
    const info = link.info();
    expect(info.type).to.equal(LinkType.XDP);
    expect(info.ifindex).to.equal(ifNameToIndex(net!.host));
    link.close();
    net!.sendUdpFromNs(3, net!.hostIp, port);
    expect(readCount(map)).to.equal(7, 'detached on close');
  });

  it('update() swaps the XDP program in place', async function () {
    const port = 40000 + Math.floor(Math.random() * 20000);
    using a = counter();
    using b = counter();
    using progA = Program.load({ type: 'XDP', instructions: countUdpToPort(a.fd, port, XDP_PASS, 0, 4) });
    using progB = Program.load({ type: 'XDP', instructions: countUdpToPort(b.fd, port, XDP_PASS, 0, 4) });
    using link = attachXdp(progA, net!.host, { mode: 'skb' });
    net!.sendUdpFromNs(2, net!.hostIp, port);
    await counted(a, 2);
    link.update(progB);
    net!.sendUdpFromNs(4, net!.hostIp, port);
    await counted(b, 4);
    expect([readCount(a), readCount(b)]).to.deep.equal([2, 4]);
  });

  it('a pinned XDP link outlives its fd until unpinned', async function () {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const path = `${ensureBpffs()}/${uniqueName('tsbxdp')}`;
    using map = counter();
    using prog = Program.load({ type: 'XDP', instructions: countUdpToPort(map.fd, port, XDP_PASS, 0, 4) });
    const link = attachXdp(prog, net!.host);
    link.pin(path);
    expect(existsSync(path)).to.equal(true);
    const id = link.info().id;
    link.close(); // our fd is gone, the pin keeps the link
    net!.sendUdpFromNs(3, net!.hostIp, port);
    expect(await counted(map, 3)).to.equal(3);
    const reopened = openPinnedLink(path);
    expect(reopened.kind).to.equal('xdp');
    expect(reopened.info().id).to.equal(id);
    const byId = linkFromId(id);
    expect(byId.info().ifindex).to.equal(ifNameToIndex(net!.host));
    reopened.close();
    byId.close();
    unpin(path); // the pin held the last reference: the kernel detaches the link
    expect(existsSync(path)).to.equal(false);
    net!.sendUdpFromNs(2, net!.hostIp, port);
    expect(readCount(map)).to.equal(3, 'detached once the pin is gone');
  });

  it('detach() unhooks the link while its fd stays open', async function () {
    const port = 40000 + Math.floor(Math.random() * 20000);
    using map = counter();
    using prog = Program.load({ type: 'XDP', instructions: countUdpToPort(map.fd, port, XDP_PASS, 0, 4) });
    using link = attachXdp(prog, net!.host);
    net!.sendUdpFromNs(2, net!.hostIp, port);
    await counted(map, 2);
    link.detach();
    net!.sendUdpFromNs(2, net!.hostIp, port);
    expect(readCount(map)).to.equal(2);
    expect(link.info().ifindex).to.equal(0, 'a detached XDP link has no interface');
  });

  it('tcx ingress counts the packets coming in, tcx egress the ones going out', async function () {
    skipWithout(this, 'tcx');
    const port = 40000 + Math.floor(Math.random() * 20000);
    using ingress = counter();
    using egress = counter();
    using progIn = Program.load({ type: 'SCHED_CLS', instructions: countUdpToPort(ingress.fd, port, TCX_PASS, 76, 80), expectedAttachType: 'TCX_INGRESS', name: 'tcx_in' });
    using progOut = Program.load({ type: 'SCHED_CLS', instructions: countUdpToPort(egress.fd, port, TCX_PASS, 76, 80), expectedAttachType: 'TCX_EGRESS', name: 'tcx_out' });
    using inLink = attachTcx(progIn, net!.host, 'ingress');
    using outLink = attachTcx(progOut, net!.host, 'egress');
    net!.sendUdpFromNs(5, net!.hostIp, port);
    expect(await counted(ingress, 5)).to.equal(5);
    expect(readCount(egress)).to.equal(0);
    await sendUdpFromHere(3, net!.peerIp, port);
    expect(await counted(egress, 3)).to.equal(3);
    expect(readCount(ingress)).to.equal(5);
    const info = inLink.info();
    expect(info.type).to.equal(LinkType.TCX);
    expect(info.ifindex).to.equal(ifNameToIndex(net!.host));
    expect(outLink.info().attachType).to.not.equal(info.attachType);
  });

  it('an sk_lookup program on the namespace sees each incoming datagram', async function () {
    const port = 40000 + Math.floor(Math.random() * 20000);
    using map = counter();
    using prog = Program.load({ type: 'SK_LOOKUP', instructions: countAll(map.fd, SK_PASS), expectedAttachType: 'SK_LOOKUP', name: 'sk_lookup' });
    using link = attachNetns(prog, 'sk_lookup', net!.nsPath);
    await sendUdpFromHere(4, net!.peerIp, port);
    expect(await counted(map, 4)).to.equal(4);
    expect(link.info().type).to.equal(LinkType.NETNS);
  });

  it('a flow dissector program on the namespace runs for incoming packets (RPS hashes them)', async function () {
    const port = 40000 + Math.floor(Math.random() * 20000);
    execFileSync('ip', ['netns', 'exec', net!.ns, 'sh', '-c', `echo 1 > /sys/class/net/${net!.peer}/queues/rx-0/rps_cpus`]);
    using map = counter();
    using prog = Program.load({ type: 'FLOW_DISSECTOR', instructions: countAll(map.fd, BPF_FLOW_DISSECTOR_CONTINUE), expectedAttachType: 'FLOW_DISSECTOR', name: 'flow_count' });
    const link = attachNetns(prog, 'flow_dissector', net!.nsPath);
    expect(link.info().attachType).to.equal(AttachType.FLOW_DISSECTOR);
    await sendUdpFromHere(5, net!.peerIp, port);
    expect(await counted(map, 5)).to.be.at.least(5);
    link.close();
    const n = readCount(map);
    await sendUdpFromHere(5, net!.peerIp, port);
    await new Promise((r) => setTimeout(r, 50)); // a negative check: a slow machine can only make it pass wrongly, never fail
    expect(readCount(map)).to.equal(n, 'not run after close');
  });

  it('an unknown interface is a typed error', function () {
    using map = counter();
    using prog = Program.load({ type: 'XDP', instructions: countAll(map.fd, XDP_PASS) });
    expect(() => attachXdp(prog, 'nosuchif0')).to.throw(LinkError).with.property('code', 'ENOIFACE');
    expect(() => attachTcx(prog, 'nosuchif0', 'ingress')).to.throw(LinkError).with.property('code', 'ENOIFACE');
    expect(() => attachXdp(prog, 0)).to.throw(LinkError).with.property('code', 'ENOIFACE');
    expect(() => attachXdp(prog, 'x'.repeat(64))).to.throw(LinkError).with.property('code', 'ENOIFACE');
    expect(() => attachXdp(prog, 'lo\0evil')).to.throw(LinkError).with.property('code', 'ENOIFACE');
    expect(() => attachNetns(prog, 'sk_lookup', '/nonexistent/netns')).to.throw(LinkError).with.property('code', 'EBADARG');
  });
});

async function sendUdpFromHere(count: number, ip: string, port: number): Promise<void> {
  const sock = createSocket('udp4');
  try {
    for (let i = 0; i < count; i++) await new Promise<void>((resolve, reject) => sock.send('x', port, ip, (err) => (err ? reject(err) : resolve())));
  } finally {
    sock.close();
  }
}
