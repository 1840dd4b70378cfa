/**
 * bpf.fibLookup in xdp and tc programs: in the kernel (BPF_PROG_TEST_RUN,
 * whose lookups use this process's namespace) against routes and
 * neighbours on a veth pair made for the test, and in the interpreter with
 * a table that answers as those routes do; the two agree. Without a table
 * the interpreter answers NOT_FWDED.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { type FibAnswer, FibResult, type FibTable, fibLookupWith, HelperId } from '../../src/interp/index.js';
import { VethNetns } from '../kernel/netns-fixture.js';
import { needKernel } from '../support/kernel.js';
import { compileSource, diagnosticsOf, interpSequence, kernelSequence, packet } from './support/harness.js';

const source = (kind: 'xdp' | 'tc') => `
import { xdp, tc, hashMap, rodata, bpf, ntohs, u32, FibFamily, type FibLookupParams, type be32 } from 'tsbpf/dsl';
import { EthHdr, IpHdr } from 'tsbpf/dsl/net';
export const iface = rodata<u32>(0);
export const results = hashMap<be32, FibLookupParams>({ maxEntries: 16 });
export const p = ${kind === 'xdp' ? 'xdp(' : "tc('ingress', "}(ctx) => {
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null) return 0;
  let f!: FibLookupParams;
  f.family = FibFamily.INET;
  f.l4Protocol = ip.protocol;
  f.totLen = ntohs(ip.totLen);
  f.ifindex = iface.get();
  f.src[0] = ip.saddr;
  f.dst[0] = ip.daddr;
  const r = bpf.fibLookup(ctx, f);
  results.update(ip.daddr, f);
  return u32(r);
});`;

/** IPv6: the destination is the 16 bytes after the UDP header (the packet builder makes IPv4 frames; the lookup does not read them). */
const SOURCE6 = `
import { xdp, arrayMap, hashMap, header, rodata, bpf, range, u32, FibFamily, type FibLookupParams, type FixedArray, type be32 } from 'tsbpf/dsl';
export interface Dst6 { w: FixedArray<be32, 4> }
export const Dst6 = header<Dst6>('Dst6', 16);
export const iface = rodata<u32>(0);
export const results = hashMap<u32, FibLookupParams>({ maxEntries: 16 });
export const p = xdp((ctx) => {
  const d = ctx.packet.at(Dst6, 42);
  if (d === null) return 0;
  let f!: FibLookupParams;
  f.family = FibFamily.INET6;
  f.ifindex = iface.get();
  for (const i of range(4)) f.dst[i] = d.w[i];
  const r = bpf.fibLookup(ctx, f);
  results.update(d.w[3], f);
  return u32(r);
});`;

/** The 16 bytes of an IPv6 address written in full (eight groups). */
const ipv6 = (text: string) => Uint8Array.from(text.split(':').flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));

/** The host end's ifindex and MAC and the peer's MAC: what a lookup through the pair answers. */
interface Pair { hostIfindex: number; hostMac: Uint8Array; peerMac: Uint8Array }
function pairOf(net: VethNetns): Pair {
  return {
    hostIfindex: Number(readFileSync(`/sys/class/net/${net.host}/ifindex`, 'utf8')),
    hostMac: mac(readFileSync(`/sys/class/net/${net.host}/address`, 'utf8').trim()),
    peerMac: mac(execFileSync('ip', ['-n', net.ns, '-o', 'link', 'show', net.peer], { encoding: 'utf8' }).match(/link\/ether ([0-9a-f:]+)/)![1]!),
  };
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
const mac = (text: string) => Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
const addr = (text: string) => Uint8Array.from(text.split('.').map(Number));
const dotted = (b: Uint8Array) => [...b].join('.');

describe('dsl bpf.fibLookup: kernel routes and the interpreter agree', function () {
  it('is refused outside xdp and tc', () => {
    const tp = diagnosticsOf(`import { tracepoint, bpf, type FibLookupParams } from 'tsbpf/dsl';
      export const p = tracepoint('syscalls/sys_enter_getpid', (ctx) => { let f!: FibLookupParams; return bpf.fibLookup(ctx as never, f) === 0 ? 1 : 0; });`);
    expect(tp.map((d) => d.code)).to.include('TSBPF_HELPER_PROGRAM_TYPE');
  });

  it('without a table the interpreter forwards nothing (NOT_FWDED)', () => {
    const mod = compileSource(source('xdp'));
    const r = interpSequence(mod, 'p', [packet({ dst: '192.0.2.7' })]);
    expect(r.retvals).to.deep.equal([FibResult.NOT_FWDED]);
  });

  describe('on a veth pair', function () {
    let net: VethNetns | undefined;
    const third = Math.floor(Math.random() * 256);
    const via = `198.18.${third}.1`;
    const noNeigh = `198.18.${third}.2`;
    const unreachable = `198.18.${third}.3`;
    const small = `198.18.${third}.4`;
    let pair: Pair;

    before(function () {
      needKernel(this);
      net = VethNetns.orSkip(this, 'feat');
      pair = pairOf(net);
      // Lookups from the host end need forwarding on it (FWD_DISABLED otherwise); only this device's setting changes.
      writeFileSync(`/proc/sys/net/ipv4/conf/${net.host}/forwarding`, '1');
      ip('route', 'add', `${via}/32`, 'via', net.peerIp, 'dev', net.host);
      ip('route', 'add', `${noNeigh}/32`, 'dev', net.host);
      ip('route', 'add', 'unreachable', `${unreachable}/32`);
      ip('route', 'add', `${small}/32`, 'via', net.peerIp, 'dev', net.host, 'mtu', 'lock', '1000');
    });
    after(() => {
      for (const dst of [via, noNeigh, unreachable, small]) {
        try {
          ip('route', 'del', `${dst}/32`);
        } catch {
          // Gone with the device.
        }
      }
      net?.destroy();
    });

    /** What the kernel answers for the routes above: the table the interpreter gets. */
    const table: FibTable = (q) => {
      const dst = dotted(q.dst);
      // On SUCCESS the kernel reports the route's MTU (the device's unless the route sets one).
      const forward = (gateway?: string, mtu = 1500): FibAnswer => ({ result: FibResult.SUCCESS, ifindex: pair.hostIfindex, metric: 0, smac: pair.hostMac, dmac: pair.peerMac, mtu, ...(gateway ? { gateway: addr(gateway) } : {}) });
      if (dst === net!.peerIp) return forward();
      if (dst === via) return forward(net!.peerIp);
      if (dst === noNeigh) return { result: FibResult.NO_NEIGH, ifindex: pair.hostIfindex, metric: 0 };
      if (dst === unreachable) return { result: FibResult.UNREACHABLE };
      if (dst === small) return q.totLen > 1000 ? { result: FibResult.FRAG_NEEDED, mtu: 1000 } : forward(net!.peerIp, 1000);
      return { result: FibResult.NOT_FWDED };
    };

    for (const kind of ['xdp', 'tc'] as const) {
      it(`${kind}: SUCCESS with the egress device and MACs, a gateway, NO_NEIGH, NOT_FWDED (local), UNREACHABLE, FRAG_NEEDED`, function () {
        const src = '198.51.100.9';
        const packets = [
          packet({ src, dst: net!.peerIp }),
          packet({ src, dst: via }),
          packet({ src, dst: noNeigh }),
          packet({ src, dst: net!.hostIp }),
          packet({ src, dst: unreachable }),
          packet({ src, dst: small, payload: new Array(1400).fill(7) }),
          packet({ src, dst: small }),
        ];
        const mod = compileSource(source(kind));
        const rodata = { iface: pair.hostIfindex };
        const interp = interpSequence(mod, 'p', packets, rodata, { [HelperId.FIB_LOOKUP]: fibLookupWith(table) });
        const { SUCCESS, NO_NEIGH, NOT_FWDED, UNREACHABLE, FRAG_NEEDED } = FibResult;
        expect(interp.retvals, 'interpreter results').to.deep.equal([SUCCESS, SUCCESS, NO_NEIGH, NOT_FWDED, UNREACHABLE, FRAG_NEEDED, SUCCESS]);
        const kernel = kernelSequence(mod, 'p', packets, rodata);
        expect(kernel, 'kernel and interpreter').to.deep.equal(interp);
        // The stored params of the direct route: egress device, source and next-hop MACs as the kernel wrote them.
        const key = Buffer.from(addr(net!.peerIp)).toString('hex');
        const params = Buffer.from(kernel.maps.results![key]!, 'hex');
        expect(params.readUInt32LE(8)).to.equal(pair.hostIfindex);
        expect([...params.subarray(52, 58)]).to.deep.equal([...pair.hostMac]);
        expect([...params.subarray(58, 64)]).to.deep.equal([...pair.peerMac]);
      });
    }
  });

  describe('IPv6 on a veth pair', function () {
    let net: VethNetns | undefined;
    const g = Math.floor(Math.random() * 0xffff).toString(16);
    const prefix = `fd00:fea7:${g}:0`;
    const host6 = `${prefix}:0:0:0:1`;
    const peer6 = `${prefix}:0:0:0:2`;
    const noNeigh6 = `${prefix}:0:0:0:3`;
    const via6 = `fd00:fea7:${g}:1:0:0:0:1`;
    const unreachable6 = `fd00:fea7:${g}:2:0:0:0:1`;
    let pair: Pair;

    before(function () {
      needKernel(this);
      net = VethNetns.orSkip(this, 'feat');
      pair = pairOf(net);
      writeFileSync(`/proc/sys/net/ipv6/conf/${net.host}/forwarding`, '1');
      ip('-6', 'addr', 'add', `${host6}/64`, 'dev', net.host, 'nodad');
      ip('-n', net.ns, '-6', 'addr', 'add', `${peer6}/64`, 'dev', net.peer, 'nodad');
      ip('-6', 'neigh', 'replace', peer6, 'lladdr', [...pair.peerMac].map((b) => b.toString(16).padStart(2, '0')).join(':'), 'dev', net.host, 'nud', 'permanent');
      ip('-6', 'route', 'add', `fd00:fea7:${g}:1::/64`, 'via', peer6, 'dev', net.host);
      ip('-6', 'route', 'add', 'unreachable', `fd00:fea7:${g}:2::/64`);
    });
    after(() => {
      try {
        ip('-6', 'route', 'del', 'unreachable', `fd00:fea7:${g}:2::/64`);
      } catch {
        // Never added.
      }
      net?.destroy();
    });

    it('xdp: SUCCESS (direct and through a gateway), NO_NEIGH, NOT_FWDED (local), UNREACHABLE', function () {
      const answer = (metric: number, gateway?: string): FibAnswer => ({ result: FibResult.SUCCESS, ifindex: pair.hostIfindex, metric, smac: pair.hostMac, dmac: pair.peerMac, mtu: 1500, ...(gateway ? { gateway: ipv6(gateway) } : {}) });
      const table: FibTable = (q) => {
        const dst = Buffer.from(q.dst).toString('hex');
        const is = (a: string) => dst === Buffer.from(ipv6(a)).toString('hex');
        // Connected routes have metric 256, added ones 1024 (the kernel's defaults).
        if (is(peer6)) return answer(256);
        if (is(via6)) return answer(1024, peer6);
        if (is(noNeigh6)) return { result: FibResult.NO_NEIGH, ifindex: pair.hostIfindex, metric: 256 };
        if (is(unreachable6)) return { result: FibResult.UNREACHABLE };
        return { result: FibResult.NOT_FWDED };
      };
      const packets = [peer6, via6, noNeigh6, host6, unreachable6].map((a) => packet({ payload: [...ipv6(a)] }));
      const mod = compileSource(SOURCE6);
      const rodata = { iface: pair.hostIfindex };
      const interp = interpSequence(mod, 'p', packets, rodata, { [HelperId.FIB_LOOKUP]: fibLookupWith(table) });
      const { SUCCESS, NO_NEIGH, NOT_FWDED, UNREACHABLE } = FibResult;
      expect(interp.retvals, 'interpreter results').to.deep.equal([SUCCESS, SUCCESS, NO_NEIGH, NOT_FWDED, UNREACHABLE]);
      expect(kernelSequence(mod, 'p', packets, rodata), 'kernel and interpreter').to.deep.equal(interp);
    });
  });
});
