/**
 * The netlink fallbacks for kernels without tcx (before 6.6) or XDP links
 * (before 5.9): a cls_bpf filter in direct-action mode on a clsact qdisc,
 * and IFLA_XDP. Forced here with `method: 'netlink'` or TSBPF_FEATURES_OFF,
 * so they run on every kernel; tc and ip are the oracles of what is attached.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { haveFeature } from '../../src/kernel/feature-names.js';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { attachXdp } from '../../src/kernel/link-netdev.js';
import { attachTc, attachTcNetlink, TcNetlinkLink } from '../../src/kernel/link-tc.js';
import { XdpNetlinkLink } from '../../src/kernel/link-xdp-netlink.js';
import { LinkError } from '../../src/kernel/link-error.js';
import { needKernel } from '../support/kernel.js';
import { featuresOff } from '../support/features.js';
import { commandRuns } from '../support/tools.js';
import { waitFor } from '../support/wait.js';
import { countUdpToPort } from './link-programs.js';
import { VethNetns } from './netns-fixture.js';

const counter = (): BpfMap => BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
const readCount = (map: BpfMap): number => Number(new DataView(map.lookup(new Uint8Array(4))!.buffer).getBigUint64(0, true));
const XDP_PASS = 2;
const TC_ACT_OK = 0;
/** In direct-action mode, the filter's verdict "no opinion": the next filter runs. */
const TC_ACT_UNSPEC = -1;
const newPort = (): number => 40000 + Math.floor(Math.random() * 20000);

async function counted(map: BpfMap, n: number): Promise<number> {
  await waitFor(() => readCount(map) >= n, `${n} packets counted`);
  return readCount(map);
}

async function sendUdpFromHere(count: number, ip: string, port: number): Promise<void> {
  const sock = createSocket('udp4');
  try {
    for (let i = 0; i < count; i++) await new Promise<void>((resolve, reject) => sock.send('x', port, ip, (err) => (err ? reject(err) : resolve())));
  } finally {
    sock.close();
  }
}

/** `tc filter show dev IFACE DIRECTION`, or undefined where iproute2's tc is missing (the oracle, not the kernel). */
function tcFilters(iface: string, direction: string): string | undefined {
  if (!commandRuns('tc', '-V')) return undefined;
  return execFileSync('tc', ['filter', 'show', 'dev', iface, direction], { encoding: 'utf8' });
}

const ipLink = (iface: string): string => execFileSync('ip', ['link', 'show', 'dev', iface], { encoding: 'utf8' });

describe('kernel: tc and XDP through netlink (the fallbacks before tcx and XDP links)', function () {
  let net: VethNetns | undefined;

  before(function () {
    needKernel(this);
    net = VethNetns.orSkip(this);
  });
  after(function () {
    net?.destroy();
  });

  it('a cls_bpf filter (clsact, direct-action) on ingress counts the packets coming in, on egress the ones going out; close deletes it', async function () {
    const port = newPort();
    using ingress = counter();
    using egress = counter();
    using progIn = Program.load({ type: 'SCHED_CLS', instructions: countUdpToPort(ingress.fd, port, TC_ACT_OK, 76, 80), name: 'tc_in' });
    using progOut = Program.load({ type: 'SCHED_CLS', instructions: countUdpToPort(egress.fd, port, TC_ACT_OK, 76, 80), name: 'tc_out' });
    const inLink = attachTcNetlink(progIn, net!.host, 'ingress');
    const outLink = attachTc(progOut, net!.host, 'egress', { method: 'netlink' });
    expect(inLink).to.be.instanceOf(TcNetlinkLink);
    expect(outLink).to.be.instanceOf(TcNetlinkLink);
    expect([inLink.kind, inLink.fd]).to.deep.equal(['tc', -1]);
    const shown = tcFilters(net!.host, 'ingress');
    if (shown !== undefined) {
      expect(shown).to.match(/bpf/).and.match(/direct-action/).and.match(new RegExp(`id ${progIn.info().id}\\b`));
      expect(shown).to.match(new RegExp(`handle 0x${inLink.handle.toString(16)}\\b`)).and.match(new RegExp(`pref ${inLink.priority}\\b`));
    }

    net!.sendUdpFromNs(5, net!.hostIp, port);
    expect(await counted(ingress, 5)).to.equal(5);
    expect(readCount(egress)).to.equal(0);
    await sendUdpFromHere(3, net!.peerIp, port);
    expect(await counted(egress, 3)).to.equal(3);
    expect(readCount(ingress)).to.equal(5);

    expect(() => inLink.pin('/sys/fs/bpf/tsbpf-range-nope')).to.throw(LinkError).with.property('code', 'ENOTSUP');
    expect(() => inLink.info()).to.throw(LinkError).with.property('code', 'ENOTSUP');
    inLink.close();
    outLink.close();
    if (shown !== undefined) {
      expect(tcFilters(net!.host, 'ingress')).to.not.match(/bpf/);
      expect(tcFilters(net!.host, 'egress')).to.not.match(/bpf/);
    }
    net!.sendUdpFromNs(4, net!.hostIp, port);
    await sendUdpFromHere(2, net!.peerIp, port);
    expect([readCount(ingress), readCount(egress)]).to.deep.equal([5, 3], 'nothing counted after close');
    inLink.close(); // idempotent
  });

  it('two filters on one hook each get their own priority, and closing one leaves the other counting', async function () {
    const port = newPort();
    using a = counter();
    using b = counter();
    using progA = Program.load({ type: 'SCHED_CLS', instructions: countUdpToPort(a.fd, port, TC_ACT_UNSPEC, 76, 80) });
    using progB = Program.load({ type: 'SCHED_CLS', instructions: countUdpToPort(b.fd, port, TC_ACT_UNSPEC, 76, 80) });
    const first = attachTcNetlink(progA, net!.host, 'ingress');
    using second = attachTcNetlink(progB, net!.host, 'ingress');
    expect(second.priority).to.not.equal(first.priority);
    net!.sendUdpFromNs(2, net!.hostIp, port);
    await counted(a, 2);
    await counted(b, 2);
    first.close();
    net!.sendUdpFromNs(3, net!.hostIp, port);
    expect(await counted(b, 5)).to.equal(5);
    expect(readCount(a)).to.equal(2, 'the closed filter no longer runs');
  });

  it('a filter someone else already deleted closes quietly', function () {
    if (!commandRuns('tc', '-V')) this.skip(); // the oracle deletes it
    using map = counter();
    using prog = Program.load({ type: 'SCHED_CLS', instructions: countUdpToPort(map.fd, newPort(), TC_ACT_OK, 76, 80) });
    const link = attachTcNetlink(prog, net!.host, 'egress');
    execFileSync('tc', ['filter', 'del', 'dev', net!.host, 'egress', 'pref', String(link.priority), 'handle', `0x${link.handle.toString(16)}`, 'bpf']);
    expect(() => link.close()).to.not.throw();
  });

  it('attachTc uses tcx where the kernel has it; TSBPF_FEATURES_OFF=tcx makes it use netlink', function () {
    using map = counter();
    using prog = Program.load({ type: 'SCHED_CLS', instructions: countUdpToPort(map.fd, newPort(), TC_ACT_OK, 76, 80), expectedAttachType: haveFeature('tcx') ? 'TCX_INGRESS' : undefined });
    {
      using link = attachTc(prog, net!.host, 'ingress');
      expect(link.kind).to.equal(haveFeature('tcx') ? 'tcx' : 'tc');
    }
    using _off = featuresOff('tcx');
    using link = attachTc(prog, net!.host, 'ingress');
    expect(link).to.be.instanceOf(TcNetlinkLink);
    expect(() => attachTc(prog, net!.host, 'ingress', { method: 'tcx' })).to.throw(/tcx/);
  });

  it('XDP through netlink (IFLA_XDP) counts the packets, update() swaps the program, a second attach is refused, close detaches', async function () {
    const port = newPort();
    using a = counter();
    using b = counter();
    using progA = Program.load({ type: 'XDP', instructions: countUdpToPort(a.fd, port, XDP_PASS, 0, 4), name: 'xdp_nl_a' });
    using progB = Program.load({ type: 'XDP', instructions: countUdpToPort(b.fd, port, XDP_PASS, 0, 4), name: 'xdp_nl_b' });
    const link = attachXdp(progA, net!.host, { method: 'netlink' });
    expect(link).to.be.instanceOf(XdpNetlinkLink);
    expect(ipLink(net!.host)).to.match(new RegExp(`prog/xdp id ${progA.info().id}\\b`));
    net!.sendUdpFromNs(7, net!.hostIp, port);
    expect(await counted(a, 7)).to.equal(7);

    expect(() => attachXdp(progB, net!.host, { method: 'netlink' })).to.throw(LinkError, /already runs an XDP program/).with.property('code', 'EATTACH');
    link.update(progB);
    expect(ipLink(net!.host)).to.match(new RegExp(`prog/xdp id ${progB.info().id}\\b`));
    net!.sendUdpFromNs(4, net!.hostIp, port);
    expect(await counted(b, 4)).to.equal(4);
    expect(readCount(a)).to.equal(7);

    link.close();
    expect(ipLink(net!.host)).to.not.match(/prog\/xdp/);
    net!.sendUdpFromNs(3, net!.hostIp, port);
    expect([readCount(a), readCount(b)]).to.deep.equal([7, 4], 'detached on close');
  });

  it('TSBPF_FEATURES_OFF=xdp_link makes attachXdp use netlink; the program fd may be closed before the link', async function () {
    const port = newPort();
    using map = counter();
    const prog = Program.load({ type: 'XDP', instructions: countUdpToPort(map.fd, port, XDP_PASS, 0, 4) });
    using _off = featuresOff('xdp_link');
    const link = attachXdp(prog, net!.host, { mode: 'skb' });
    expect(link).to.be.instanceOf(XdpNetlinkLink);
    prog.close(); // the interface holds the program; the link keeps its own fd for detaching
    net!.sendUdpFromNs(2, net!.hostIp, port);
    expect(await counted(map, 2)).to.equal(2);
    link.close();
    expect(ipLink(net!.host)).to.not.match(/prog\/xdp/);
  });
});
