/**
 * `tsbpf net show` against `bpftool net show` on a veth pair this test
 * made (XDP by link, a tcx program, a cls_bpf filter; a flow dissector in
 * the pair's namespace), and `tsbpf link pin|update` proved by packets: a
 * pinned XDP link keeps counting after its last fd closes, and after an
 * update the new program counts.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import {
  attachNetns, attachRawTracepoint, attachTcNetlink, attachTcx, attachXdp, BpfMap, ensureBpffs, interfaceIndex, Program,
} from '../../src/kernel/index.js';
import { CLI_BIN, tsbpf } from '../support/cli.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { skipWithout } from '../support/features.js';
import { haveBpftool } from '../support/tools.js';
import { waitFor } from '../support/wait.js';
import { countAll, countUdpToPort } from '../kernel/link-programs.js';
import { VethNetns } from '../kernel/netns-fixture.js';

const XDP_PASS = 2;
const TCX_PASS = 0;
/** Let the kernel's own dissector do the work (5.19+). */
const BPF_FLOW_DISSECTOR_CONTINUE = 129;

const counter = (): BpfMap => BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
const readCount = (map: BpfMap): number => Number(new DataView(map.lookup(new Uint8Array(4))!.buffer).getBigUint64(0, true));
const ndjson = (text: string): Record<string, unknown>[] => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
/** A command inside the namespace `ns`, its output as text. */
function inNetns(ns: string, command: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...command], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('cli: net show, link pin and link update on a veth pair', function () {
  this.timeout(120000);
  let net: VethNetns | undefined;
  before(function () {
    needKernel(this);
    net = VethNetns.orSkip(this, 'user2');
  });
  after(() => net?.destroy());

  it('net show lists the XDP, tcx and cls_bpf programs of an interface as bpftool net show does (text and --json)', async function () {
    skipWithout(this, 'tcx');
    const host = net!.host;
    const ifindex = interfaceIndex(host);
    const port = 40000 + Math.floor(Math.random() * 20000);
    using count = counter();
    using xdp = Program.load({ type: 'XDP', instructions: countUdpToPort(count.fd, port, XDP_PASS, 0, 4), name: 'user2_xdp' });
    using tcx = Program.load({ type: 'SCHED_CLS', instructions: countAll(count.fd, TCX_PASS), name: 'user2_tcx' });
    using cls = Program.load({ type: 'SCHED_CLS', instructions: countAll(count.fd, TCX_PASS), name: 'user2_cls' });
    using _xdpLink = attachXdp(xdp, host);
    using tcxLink = attachTcx(tcx, host, 'ingress');
    using _filter = attachTcNetlink(cls, host, 'egress');
    // They run: the XDP program counts what the peer sends.
    net!.sendUdpFromNs(3, net!.hostIp, port);
    await waitFor(() => readCount(count) >= 3, '3 packets counted');
    const [xdpId, tcxId, clsId] = [xdp.info().id, tcx.info().id, cls.info().id];
    const mode = 'driver'; // veth has native XDP, which attachXdp prefers
    const tcxLine = `${host}(${ifindex}) tcx/ingress user2_tcx id ${tcxId} link_id ${tcxLink.info().id}`;

    const ours = tsbpf('net', 'show', 'dev', host);
    expect(ours.status, ours.stderr).to.equal(0);
    expect(ours.stdout).to.equal(
      `xdp:\n${host}(${ifindex}) ${mode} id ${xdpId}\n\ntc:\n${tcxLine}\n${host}(${ifindex}) clsact/egress user2_cls id ${clsId}\n\nflow_dissector:\n${ours.stdout.split('\nflow_dissector:\n')[1]}`, // this namespace's dissector: whatever runs here
    );
    const rows = ndjson(tsbpf('net', 'show', 'dev', host, '--json').stdout);
    expect(rows.filter((r) => r.hook !== 'flow_dissector')).to.deep.equal([
      { hook: 'xdp', devname: host, ifindex, mode, id: xdpId },
      { hook: 'tc', devname: host, ifindex, kind: 'tcx/ingress', name: 'user2_tcx', id: tcxId, link_id: tcxLink.info().id },
      { hook: 'tc', devname: host, ifindex, kind: 'clsact/egress', name: 'user2_cls', id: clsId },
    ]);

    if (!haveBpftool()) return; // the oracle is missing (.ci/run installs it)
    // bpftool 7.1 does not know tcx (newer ones list it): compared without tcx lines.
    const withoutTcx = (text: string): string => text.split('\n').filter((l) => !l.includes(' tcx/')).join('\n');
    const theirs = spawnSync('bpftool', ['net', 'show', 'dev', host], { encoding: 'utf8' });
    expect(theirs.status, theirs.stderr).to.equal(0);
    expect(withoutTcx(ours.stdout)).to.equal(withoutTcx(theirs.stdout));
    const theirJson = JSON.parse(spawnSync('bpftool', ['-j', 'net', 'show', 'dev', host], { encoding: 'utf8' }).stdout) as [{ xdp: unknown[]; tc: { kind: string }[] }];
    const hookless = (r: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'hook'));
    expect(rows.filter((r) => r.hook === 'xdp').map(hookless)).to.deep.equal(theirJson[0].xdp);
    expect(rows.filter((r) => r.hook === 'tc' && !String(r.kind).startsWith('tcx/')).map(hookless)).to.deep.equal(theirJson[0].tc.filter((t) => !t.kind.startsWith('tcx/')));
  });

  it('net show in another namespace (ip netns exec) lists its flow dissector as bpftool does', function () {
    using runs = counter();
    using prog = Program.load({ type: 'FLOW_DISSECTOR', instructions: countAll(runs.fd, BPF_FLOW_DISSECTOR_CONTINUE), name: 'user2_flow' });
    using _link = attachNetns(prog, 'flow_dissector', net!.nsPath);
    const ours = inNetns(net!.ns, [process.execPath, '--import', 'tsx', CLI_BIN, 'net', 'show']);
    expect(ours.status, ours.stderr).to.equal(0);
    expect(ours.stdout).to.equal(`xdp:\n\ntc:\n\nflow_dissector:\nid ${prog.info().id}\n`);
    // (bpftool 7.1's -j here is not JSON: "flow_dissector":["id":N]; ours is one object.)
    const rows = ndjson(inNetns(net!.ns, [process.execPath, '--import', 'tsx', CLI_BIN, 'net', '--json']).stdout);
    expect(rows).to.deep.equal([{ hook: 'flow_dissector', id: prog.info().id }]);
    if (!haveBpftool()) return;
    const theirs = inNetns(net!.ns, ['bpftool', 'net', 'show']);
    expect(theirs.status, theirs.stderr).to.equal(0);
    expect(ours.stdout).to.equal(theirs.stdout);
  });

  it('link pin keeps an XDP link after its last fd closes; link update swaps its program (the new one counts)', async function () {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const path = `${ensureBpffs()}/${uniqueName('user2lnk')}`;
    using a = counter();
    using b = counter();
    using progA = Program.load({ type: 'XDP', instructions: countUdpToPort(a.fd, port, XDP_PASS, 0, 4), name: 'user2_a' });
    using progB = Program.load({ type: 'XDP', instructions: countUdpToPort(b.fd, port, XDP_PASS, 0, 4), name: 'user2_b' });
    try {
      const link = attachXdp(progA, net!.host);
      const id = link.info().id;
      const pinned = tsbpf('link', 'pin', 'id', String(id), path);
      expect(pinned.status, pinned.stderr).to.equal(0);
      link.close(); // our last fd: only the pin holds the link now
      net!.sendUdpFromNs(3, net!.hostIp, port);
      await waitFor(() => readCount(a) >= 3, '3 packets counted by the pinned link');

      const updated = tsbpf('link', 'update', 'pinned', path, 'id', String(progB.info().id));
      expect(updated.status, updated.stderr).to.equal(0);
      net!.sendUdpFromNs(4, net!.hostIp, port);
      await waitFor(() => readCount(b) >= 4, '4 packets counted by the new program');
      expect([readCount(a), readCount(b)]).to.deep.equal([3, 4]);
      const shown = ndjson(tsbpf('link', 'show', String(id), '--json').stdout);
      expect(shown).to.deep.equal([{ id, type: 'xdp', prog_id: progB.info().id, ifindex: interfaceIndex(net!.host) }]);

      // A link whose type cannot swap programs says so in one line.
      using tp = Program.load({ type: 'RAW_TRACEPOINT', instructions: countAll(a.fd), name: 'user2_tp' });
      using tpLink = attachRawTracepoint(tp, 'sys_enter');
      const refused = tsbpf('link', 'update', String(tpLink.info().id), 'id', String(tp.info().id));
      expect(refused.status).to.equal(1);
      expect(refused.stderr).to.match(/^error: link \d+: update: a raw-tracepoint link cannot swap its program/);
      expect(refused.stderr.trim().split('\n')).to.have.length(1);
      // A missing FILE is a usage error before anything is opened.
      const usage = tsbpf('link', 'pin', 'id', String(id));
      expect([usage.status, usage.stderr]).to.deep.equal([2, 'error: usage: tsbpf link pin LINK FILE (LINK: ID, id ID or pinned PATH)\n']);
    } finally {
      rmSync(path, { force: true });
    }
  });
});
