/**
 * Header rewrites on real traffic (issue 9): an XDP reflector (the address
 * swap of issue 9, plus ports and MACs) and a tc TTL decrement that keeps
 * the IPv4 checksum right with bpf.l3CsumReplace, each on a veth pair whose
 * peer lives in a namespace of its own. Frames are sent raw with correct
 * checksums; the receiver in the namespace is a UDP socket (the kernel
 * drops datagrams whose IP or UDP checksum is wrong) plus a capture of the
 * interface, whose frames the test checks byte by byte.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { attachProgram } from '../../src/cli/dsl-attach.js';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { closeFd } from '../../src/syscall/fd.js';
import { VethNetns } from '../kernel/netns-fixture.js';
import { needKernel } from '../support/kernel.js';
import { patience, waitFor } from '../support/wait.js';
import { ipChecksumOk, packetSocket, parseUdpFrame, sendFrame, udpChecksumOk, udpFrame } from './support/frames.js';
import type { PeerOptions, PeerReport } from './support/ns-peer.js';
import { compileSource } from './support/harness.js';

const REFLECTOR = `
import { xdp, rodata, range, htons, ntohs, XdpAction, type u16 } from 'tsbpf/dsl';
import { EthHdr, IpHdr, UdpHdr, ETH_P_IP, IPPROTO_UDP } from 'tsbpf/dsl/net';
const port = rodata<u16>(0);
/** Sends UDP datagrams for \`port\` back where they came from. */
export const reflect = xdp((ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null || ip.versionIhl !== 0x45 || ip.protocol !== IPPROTO_UDP) return XdpAction.PASS;
  const udp = ctx.packet.at(UdpHdr, EthHdr.size + IpHdr.size);
  if (udp === null || ntohs(udp.dest) !== port.get()) return XdpAction.PASS;
  const s = ip.saddr; ip.saddr = ip.daddr; ip.daddr = s;
  const sport = udp.source; udp.source = udp.dest; udp.dest = sport;
  for (const i of range(6)) {
    const b = eth.src[i];
    eth.src[i] = eth.dst[i];
    eth.dst[i] = b;
  }
  return XdpAction.TX;
});
/** Attached to the far end: veth delivers XDP_TX frames only to a peer with XDP on. */
export const pass = xdp(() => XdpAction.PASS);
`;

const TTL = (fixChecksum: boolean) => `
import { tc, bpf, htons, u16, TcAction } from 'tsbpf/dsl';
import { EthHdr, IpHdr, ETH_P_IP } from 'tsbpf/dsl/net';
export const decrementTtl = tc('egress', (ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null || eth.proto !== htons(ETH_P_IP)) return TcAction.OK;
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null || ip.ttl <= 1) return TcAction.OK;
  // TTL and protocol share a 16-bit word of the header checksum.
  const before = u16(ip.ttl << 8 | ip.protocol);
  ip.ttl -= 1;
  const after = u16(ip.ttl << 8 | ip.protocol);
  ${fixChecksum ? 'bpf.l3CsumReplace(ctx, EthHdr.size + 10, htons(before), htons(after), 2);' : ''}
  return TcAction.OK;
});
`;

const COUNT = 5;
const PEER = new URL('./support/ns-peer.ts', import.meta.url).pathname;
const REPO = new URL('../../', import.meta.url).pathname;

function macOf(net: VethNetns, side: 'host' | 'peer'): string {
  if (side === 'host') return readFileSync(`/sys/class/net/${net.host}/address`, 'utf8').trim();
  return execFileSync('ip', ['-n', net.ns, '-o', 'link', 'show', net.peer], { encoding: 'utf8' }).match(/link\/ether ([0-9a-f:]+)/)![1]!;
}

/** Runs ns-peer in the namespace; `onReady` runs once it listens. `fds` are passed as fd 3, 4, … */
function runPeer(net: VethNetns, opts: PeerOptions, fds: number[] = [], onReady: () => void = () => {}): Promise<PeerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', net.ns, process.execPath, '--import', 'tsx', PEER, JSON.stringify(opts)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe', ...fds] });
    let out = '';
    let err = '';
    let ready = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!ready && out.includes('ready\n')) {
        ready = true;
        try {
          onReady();
        } catch (e) {
          child.kill();
          reject(e);
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) reject(new Error(`ns-peer exited with ${code}: ${err}`));
      else resolve(JSON.parse(line) as PeerReport);
    });
  });
}

/** A counter of the namespace's IP or UDP MIB (/proc/net/snmp), e.g. ('Ip', 'InHdrErrors'). */
function snmp(net: VethNetns, group: string, name: string): number {
  const lines = execFileSync('ip', ['netns', 'exec', net.ns, 'cat', '/proc/net/snmp'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(`${group}:`));
  const names = lines[0]!.split(/\s+/);
  return Number(lines[1]!.split(/\s+/)[names.indexOf(name)]);
}

const payload = (i: number) => new TextEncoder().encode(`tsbpf-sem-${i}`);

describe('dsl header rewrites on real traffic through a veth pair', function () {
  this.timeout(patience(120_000));
  let net: VethNetns | undefined;
  before(function () {
    needKernel(this);
    net = VethNetns.orSkip(this);
  });
  after(() => net?.destroy());

  it('an XDP reflector swaps addresses, ports and MACs: the sender gets every datagram back, checksums intact', async () => {
    const n = net!;
    const [sport, dport] = [40000 + Math.floor(Math.random() * 10000), 50000 + Math.floor(Math.random() * 10000)];
    const mod = compileSource(REFLECTOR);
    const live = loadCompiledModule(mod, { rodata: { port: dport } });
    try {
      const link = attachProgram(mod.programs.find((p) => p.name === 'reflect')!, live.programs.get('reflect')!, { iface: n.host });
      try {
        const [hostMac, peerMac] = [macOf(n, 'host'), macOf(n, 'peer')];
        const frames = Array.from({ length: COUNT }, (_, i) => udpFrame({ srcMac: peerMac, dstMac: hostMac, srcIp: n.peerIp, dstIp: n.hostIp, sport, dport, payload: payload(i) }));
        const report = await runPeer(n, {
          iface: n.peer, bind: { ip: n.peerIp, port: sport }, send: frames.map((f) => Buffer.from(f).toString('hex')),
          expect: COUNT, timeoutMs: patience(20_000), xdpFd: 3,
        }, [live.programs.get('pass')!.fd]);
        // The socket accepted them all: the kernel checked both checksums.
        expect(report.datagrams).to.deep.equal(Array.from({ length: COUNT }, (_, i) => ({ from: n.hostIp, port: dport, data: `tsbpf-sem-${i}` })));
        const back = report.frames.map((h) => Buffer.from(h, 'hex')).filter((f) => parseUdpFrame(f)?.srcIp === n.hostIp);
        expect(back.map((f) => parseUdpFrame(f))).to.deep.equal(Array.from({ length: COUNT }, (_, i) => ({
          srcMac: hostMac, dstMac: peerMac, srcIp: n.hostIp, dstIp: n.peerIp, sport: dport, dport: sport, ttl: 64, payload: `tsbpf-sem-${i}`,
        })));
        for (const f of back) expect([ipChecksumOk(f), udpChecksumOk(f)], 'IP and UDP checksums on the wire').to.deep.equal([true, true]);
        expect(snmp(n, 'Udp', 'InCsumErrors')).to.equal(0);
      } finally {
        link.close();
      }
    } finally {
      live.close();
    }
  });

  for (const fix of [true, false]) {
    it(fix
      ? 'a tc program decrements the TTL and fixes the checksum with bpf.l3CsumReplace: the receiver accepts every datagram'
      : 'without bpf.l3CsumReplace the receiver drops every datagram as a header checksum error (the check is real)', async () => {
      const n = net!;
      const dport = 40000 + Math.floor(Math.random() * 20000);
      const mod = compileSource(TTL(fix));
      const live = loadCompiledModule(mod);
      const out = packetSocket(n.host);
      try {
        const link = attachProgram(mod.programs[0]!, live.programs.get('decrementTtl')!, { iface: n.host });
        try {
          const [hostMac, peerMac] = [macOf(n, 'host'), macOf(n, 'peer')];
          const frames = Array.from({ length: COUNT }, (_, i) => udpFrame({ srcMac: hostMac, dstMac: peerMac, srcIp: n.hostIp, dstIp: n.peerIp, sport: 1234, dport, ttl: 64, payload: payload(i) }));
          if (!fix) {
            const before = snmp(n, 'Ip', 'InHdrErrors');
            for (const f of frames) sendFrame(out, f);
            await waitFor(() => snmp(n, 'Ip', 'InHdrErrors') === before + COUNT, `${COUNT} header errors in the namespace`);
            return;
          }
          const report = await runPeer(n, { iface: n.peer, bind: { ip: n.peerIp, port: dport }, expect: COUNT, timeoutMs: patience(20_000) }, [], () => {
            for (const f of frames) sendFrame(out, f);
          });
          expect(report.datagrams.map((d) => d.data)).to.deep.equal(Array.from({ length: COUNT }, (_, i) => `tsbpf-sem-${i}`));
          const arrived = report.frames.map((h) => Buffer.from(h, 'hex')).filter((f) => parseUdpFrame(f)?.dport === dport);
          expect(arrived.map((f) => parseUdpFrame(f)!.ttl)).to.deep.equal(Array(COUNT).fill(63));
          for (const f of arrived) expect([ipChecksumOk(f), udpChecksumOk(f)], 'IP and UDP checksums on the wire').to.deep.equal([true, true]);
        } finally {
          link.close();
        }
      } finally {
        closeFd(out);
        live.close();
      }
    });
  }
});
