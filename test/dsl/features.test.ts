/**
 * One module per language feature, compiled and run both in the interpreter
 * and in the kernel (BPF_PROG_TEST_RUN with crafted packets). Each case
 * asserts its own results and that the two engines agree exactly.
 */
import { expect } from 'chai';
import { needKernel } from '../support/kernel.js';
import type { GlobalSetting } from '../../src/cli/global-settings.js';
import { compileSource, evalSequence, expectOutcome, interpSequence, kernelSequence, le32, le64, outMap, packet, type SequenceCase, type SequenceOutcome } from './support/harness.js';

const IMPORTS = `
import { xdp, tc, socketFilter, cgroupSkb, hashMap, arrayMap, perCpuHash, perCpuArray, lruHash, ringBuf, rodata, global, range, bpf,
  htons, ntohs, htonl, ntohl, XdpAction, TcAction, CgroupAction, UpdateFlags, header,
  u8, u16, u32, u64, i8, i16, i32, i64, type bool, type be16, type be32, type CStr, type FixedArray } from 'tsbpf/dsl';
import { EthHdr, VlanHdr, IpHdr, Ipv6Hdr, TcpHdr, UdpHdr, IcmpHdr, ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_ARP,
  IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, TCP_SYN, TCP_ACK } from 'tsbpf/dsl/net';
`;

/** An output array map most cases write their results into. */
const OUT = `export const out = arrayMap<u64>({ maxEntries: 8 });\n`;

interface Case extends SequenceCase {
  rodata?: Record<string, GlobalSetting>;
}


const UDP = packet({ proto: 'udp' });
const TCP = packet({ proto: 'tcp' });
const ICMP = packet({ proto: 'icmp' });
const ARP = packet({ ethType: 0x0806 });

const xdpProgram = (body: string, decls = OUT) => `${decls}\nexport const p = xdp((ctx) => {\n${body}\n});\n`;

/** A port set and a limit in rodata, hit counts in a global array. */
const RODATA_SET = `${OUT}
      export const ports = rodata<FixedArray<u16, 4>>([53, 5353]);
      export interface Cfg { limit: u32; flags: u8 }
      export const cfg = rodata<Cfg>({ limit: 100, flags: 1 });
      export const hits = global<FixedArray<u64, 4>>([]);
      export const p = xdp((ctx) => {
        const udp = ctx.packet.at(UdpHdr, EthHdr.size + IpHdr.size);
        if (udp === null) return XdpAction.PASS;
        const dport = ntohs(udp.dest);
        const c = cfg.get();
        for (let i = 0; i < 4; i++) {
          if (ports.get()[i] !== 0 && dport === ports.get()[i]) {
            hits.get()[i] += 1;
            out.update(i, hits.get()[i]);
            return XdpAction.DROP;
          }
        }
        return ctx.packet.length > c.limit && c.flags !== 0 ? XdpAction.DROP : XdpAction.PASS;
      });`;

const cases: Case[] = [
  { name: 'returns a constant action', source: xdpProgram('return XdpAction.DROP;', ''), packets: [UDP], retvals: [1] },
  {
    name: 'checks the ethertype through a bounds-checked header',
    source: xdpProgram(`const eth = ctx.packet.at(EthHdr, 0);
      if (eth === null || ctx.packet.at(IpHdr, EthHdr.size) === null) return XdpAction.ABORTED;
      return eth.proto === htons(ETH_P_IP) ? XdpAction.PASS : XdpAction.DROP;`, ''),
    packets: [UDP, ARP, new Uint8Array(20)], retvals: [2, 1, 0],
  },
  {
    name: 'counts packets per IP protocol in a per-CPU array',
    source: xdpProgram(`const eth = ctx.packet.at(EthHdr, 0);
      if (eth === null || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
      const ip = ctx.packet.at(IpHdr, EthHdr.size);
      if (ip === null) return XdpAction.PASS;
      byProto.increment(ip.protocol);
      return XdpAction.PASS;`, 'export const byProto = perCpuArray<u64>({ maxEntries: 256 });'),
    packets: [UDP, TCP, UDP, ICMP, ARP],
    maps: { byProto: { [le32(1)]: le64(1n), [le32(6)]: le64(1n), [le32(17)]: le64(2n) } },
  },
  {
    name: 'wraps u32 arithmetic like C',
    source: xdpProgram(`const a: u32 = 0xffffffff;
      const b: u32 = ctx.packet.length;
      out.update(0, u32(a + b));
      out.update(1, u32(b - 100));
      out.update(2, u32(b * 0x10000000));
      return 2;`),
    packets: [UDP], out: { 0: BigInt(UDP.length - 1), 1: BigInt.asUintN(32, BigInt(UDP.length - 100)), 2: BigInt.asUintN(32, BigInt(UDP.length) * 0x10000000n) },
  },
  {
    name: 'uses signed division, modulo and arithmetic shift for signed types',
    source: xdpProgram(`const n: i32 = i32(ctx.packet.length) - 49;
      out.update(0, i64(n / 2));
      out.update(1, i64(n % 2));
      out.update(2, i64(n >> 1));
      out.update(3, u64(u32(n) >> 1));
      return 2;`),
    packets: [packet({ payload: [] })], // 42 bytes: n = -7
    out: { 0: BigInt.asUintN(64, -3n), 1: BigInt.asUintN(64, -1n), 2: BigInt.asUintN(64, -4n), 3: BigInt.asUintN(32, -7n) >> 1n },
  },
  {
    name: 'takes 64-bit constants from bigint literals',
    source: xdpProgram(`const big: u64 = u64(0xffff_ffff_ffff_fff0n);
      out.update(0, big + u64(ctx.packet.length));
      out.update(1, u64(0x1_0000_0000n) * 3);
      return 2;`),
    packets: [packet({ payload: [] })], out: { 0: 0xfffffffffffffff0n + 42n, 1: 0x300000000n },
  },
  {
    name: 'truncates and sign-extends explicitly',
    source: xdpProgram(`const ip = ctx.packet.at(IpHdr, EthHdr.size);
      if (ip === null) return 0;
      out.update(0, u8(ip.ttl + 100));
      out.update(1, i64(i8(ip.ttl)));
      out.update(2, u16(0x12345));
      out.update(3, i64(i16(0xffff)));
      return 2;`),
    packets: [packet({ ttl: 200 })], out: { 0: 44n, 1: BigInt.asUintN(64, -56n), 2: 0x2345n, 3: BigInt.asUintN(64, -1n) },
  },
  {
    name: 'evaluates ternaries',
    source: xdpProgram(`const ip = ctx.packet.at(IpHdr, 14);
      if (ip === null) return 0;
      const kind: u32 = ip.protocol === IPPROTO_TCP ? 1 : ip.protocol === IPPROTO_UDP ? 2 : 3;
      return kind;`, ''),
    packets: [TCP, UDP, ICMP], retvals: [1, 2, 3],
  },
  {
    name: 'short-circuits && and ||',
    source: xdpProgram(`const ip = ctx.packet.at(IpHdr, 14);
      if (ip !== null && (ip.protocol === IPPROTO_TCP || ip.protocol === IPPROTO_ICMP) && ip.ttl > 10) return 1;
      return 2;`, ''),
    packets: [TCP, UDP, ICMP, packet({ proto: 'tcp', ttl: 5 })], retvals: [1, 2, 1, 2],
  },
  {
    name: 'branches with switch, fallthrough and default',
    source: xdpProgram(`const ip = ctx.packet.at(IpHdr, 14);
      if (ip === null) return 0;
      let r: u32 = 0;
      switch (ip.protocol) {
        case IPPROTO_TCP: r = 10; break;
        case IPPROTO_UDP: r = 20;
        case 99: r = r + 1; break;
        default: r = 7;
      }
      return r;`, ''),
    packets: [TCP, UDP, packet({ proto: 99 }), ICMP], retvals: [10, 21, 1, 7],
  },
  {
    name: 'runs bounded loops over range()',
    source: xdpProgram(`let sum: u32 = 0;
      for (const i of range(10)) sum += i;
      for (const i of range(5, 8)) sum += i * 100;
      return sum;`, ''),
    packets: [UDP], retvals: [45 + 1800],
  },
  {
    name: 'supports break and continue in loops',
    source: xdpProgram(`let sum: u32 = 0;
      for (const i of range(100)) {
        if (i % 2 === 0) continue;
        if (i > 10) break;
        sum += i;
      }
      return sum;`, ''),
    packets: [UDP], retvals: [1 + 3 + 5 + 7 + 9],
  },
  {
    name: 'inlines module functions with parameters and results',
    source: `
      function clamp(v: u32, lo: u32, hi: u32): u32 {
        if (v < lo) return lo;
        if (v > hi) return hi;
        return v;
      }
      const twice = (x: u32): u32 => x * 2;
      export const p = xdp((ctx) => twice(clamp(ctx.packet.length, 10, 40)) + clamp(5, 10, 40));`,
    packets: [UDP, new Uint8Array(20)], retvals: [90, 50],
  },
  {
    name: 'returns header references from functions',
    source: `
      import type { XdpContext } from 'tsbpf/dsl';
      function ipOf(ctx: XdpContext) {
        const eth = ctx.packet.at(EthHdr, 0);
        if (eth === null || eth.proto !== htons(ETH_P_IP)) return null;
        return ctx.packet.at(IpHdr, EthHdr.size);
      }
      export const p = xdp((ctx) => {
        const ip = ipOf(ctx);
        if (ip === null) return 99;
        return ip.protocol;
      });`,
    packets: [UDP, ARP, TCP], retvals: [17, 99, 6],
  },
  {
    name: 'keys a hash map by a struct',
    source: `
      export interface Flow { saddr: be32; daddr: be32; proto: u8 }
      export const flows = hashMap<Flow, u64>({ maxEntries: 64 });
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return XdpAction.PASS;
        const key: Flow = { saddr: ip.saddr, daddr: ip.daddr, proto: ip.protocol };
        flows.increment(key, ctx.packet.length);
        return XdpAction.PASS;
      });`,
    packets: [UDP, UDP, TCP],
    maps: { flows: { '0a0000010a00000211000000': le64(BigInt(UDP.length * 2)), '0a0000010a00000206000000': le64(BigInt(TCP.length)) } },
  },
  {
    name: 'counts in an LRU hash',
    source: `export const seen = lruHash<u32, u32>({ maxEntries: 16 });
      export const p = xdp((ctx) => { seen.increment(ctx.packet.length); return 2; });`,
    packets: [UDP, UDP, TCP], maps: { seen: { [le32(UDP.length)]: le32(2), [le32(TCP.length)]: le32(1) } },
  },
  {
    name: 'sums bytes in a per-CPU hash',
    source: `export const bytes = perCpuHash<u8, u64>({ maxEntries: 16 });
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, 14);
        if (ip !== null) bytes.increment(ip.protocol, ctx.packet.length);
        return 2;
      });`,
    packets: [UDP, TCP, TCP], maps: { bytes: { '11': le64(BigInt(UDP.length)), '06': le64(BigInt(TCP.length * 2)) } },
  },
  {
    name: 'looks up, updates and deletes, narrowing lookups with === null',
    source: `export const m = hashMap<u32, u64>({ maxEntries: 8 });
      export const p = xdp((ctx) => {
        const v = m.lookup(1);
        if (v === null) { m.update(1, 100); return 1; }
        if (v >= 102) { m.delete(1); return 3; }
        m.update(1, v + 1, UpdateFlags.EXIST);
        return 2;
      });`,
    packets: [UDP, UDP, UDP, UDP, UDP], retvals: [1, 2, 2, 3, 1], maps: { m: { [le32(1)]: le64(100n) } },
  },
  {
    name: 'writes struct map values through the lookup reference',
    source: `export interface Stats { packets: u64; bytes: u64; last: u16 }
      export const stats = arrayMap<Stats>({ maxEntries: 1 });
      export const p = xdp((ctx) => {
        const s = stats.lookup(0);
        if (s === null) return 0;
        s.packets += 1;
        s.bytes = s.bytes + ctx.packet.length;
        s.last = u16(ctx.packet.length);
        return 2;
      });`,
    packets: [UDP, TCP], maps: { stats: { [le32(0)]: le64(2n) + le64(BigInt(UDP.length + TCP.length)) + '3a00000000000000' } },
  },
  {
    name: 'reads rodata set before load',
    source: `export const limit = rodata<u32>(1000);
      export const p = xdp((ctx) => (ctx.packet.length > limit.get() ? XdpAction.DROP : XdpAction.PASS));`,
    packets: [UDP, packet({ payload: new Array(100).fill(0) })], rodata: { limit: 60 }, retvals: [2, 1],
  },
  {
    name: 'keeps state in a mutable global',
    source: `export const counter = global<u64>(5);
      export const p = xdp(() => { counter.set(counter.get() + 1); return u32(counter.get()); });`,
    packets: [UDP, UDP, UDP], retvals: [6, 7, 8],
  },
  {
    name: 'converts byte order of ports',
    source: xdpProgram(`const udp = ctx.packet.at(UdpHdr, 34);
      if (udp === null) return 0;
      const port = ntohs(udp.dest);
      return port < 1024 ? port : 1;`, ''),
    packets: [packet({ dport: 53 }), packet({ dport: 8080 })], retvals: [53, 1],
  },
  {
    name: 'compares network-order fields with constants without swapping',
    source: xdpProgram(`const udp = ctx.packet.at(UdpHdr, 34);
      if (udp === null) return 0;
      if (ntohs(udp.dest) === 70000) return 9;
      if (ntohs(udp.dest) !== 53) return ntohl(htonl(7)) === 7 ? 2 : 8;
      return 53 === ntohs(udp.dest) ? 1 : 3;`, ''),
    packets: [packet({ dport: 53 }), packet({ dport: 54 })], retvals: [1, 2],
  },
  {
    name: 'bounds packet offsets that come from maps or arithmetic',
    source: `export const offs = arrayMap<u32>({ maxEntries: 2 });
      export const p = xdp((ctx) => {
        const o = offs.lookup(0);
        if (o === null) return 0;
        const ip = ctx.packet.at(IpHdr, o + 14);
        if (ip === null) return 1;
        const ihl = (ip.versionIhl & 0x0f) * 4;
        const udp = ctx.packet.at(UdpHdr, 14 + ihl);
        return udp === null ? 2 : ntohs(udp.dest);
      });`,
    packets: [packet({ dport: 4242 })], retvals: [4242],
  },
  {
    name: 'moves the packet start with xdpAdjustHead and reads the new headers',
    source: xdpProgram(`const eth = ctx.packet.at(EthHdr, 0);
      if (eth === null || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
      if (bpf.xdpAdjustHead(ctx, EthHdr.size) !== 0) return XdpAction.ABORTED;
      const ip = ctx.packet.at(IpHdr, 0);
      if (ip === null) return XdpAction.DROP;
      return ip.protocol === IPPROTO_UDP ? XdpAction.TX : XdpAction.PASS;`, ''),
    packets: [UDP, ARP], retvals: [3, 2],
    check: (r) => expect(r.packets[0]).to.equal(Buffer.from(UDP.subarray(14)).toString('hex')),
  },
  {
    name: 'computes bitwise operations',
    source: xdpProgram(`const x: u32 = ctx.packet.length;
      out.update(0, x & 0xf0);
      out.update(1, x | 0x100);
      out.update(2, x ^ 0xff);
      out.update(3, u32(~x));
      out.update(4, x << 3);
      out.update(5, x >> 2);
      out.update(6, u64(x) << 40);
      return 2;`),
    packets: [UDP], out: (() => { const x = BigInt(UDP.length); return { 0: x & 0xf0n, 1: x | 0x100n, 2: x ^ 0xffn, 3: BigInt.asUintN(32, ~x), 4: x << 3n, 5: x >> 2n, 6: x << 40n }; })(),
  },
  {
    name: 'writes packet bytes (TTL decrement)',
    source: xdpProgram(`const ip = ctx.packet.at(IpHdr, 14);
      if (ip === null) return XdpAction.PASS;
      if (ip.ttl <= 1) return XdpAction.DROP;
      ip.ttl -= 1;
      return XdpAction.TX;`, ''),
    packets: [packet({ ttl: 64 }), packet({ ttl: 1 })], retvals: [3, 1],
    check: (r) => expect(r.packets[0]!.slice(44, 46)).to.equal('3f'),
  },
  {
    name: 'parses VLAN tags',
    source: xdpProgram(`const eth = ctx.packet.at(EthHdr, 0);
      if (eth === null) return 0;
      if (eth.proto !== htons(ETH_P_8021Q)) return 1;
      const vlan = ctx.packet.at(VlanHdr, EthHdr.size);
      if (vlan === null) return 0;
      return u32(ntohs(vlan.tci) & 0xfff);`, ''),
    packets: [packet({ vlan: 42 }), UDP], retvals: [42, 1],
  },
  {
    name: 'reads IPv6 headers',
    source: xdpProgram(`const eth = ctx.packet.at(EthHdr, 0);
      if (eth === null || eth.proto !== htons(ETH_P_IPV6)) return 0;
      const ip6 = ctx.packet.at(Ipv6Hdr, 14);
      if (ip6 === null) return 1;
      return ip6.nexthdr + ip6.daddr[15];`, ''),
    packets: [Uint8Array.from([...new Array(12).fill(0), 0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 17, 64, ...new Array(16).fill(1), ...new Array(15).fill(2), 9]), UDP],
    retvals: [26, 0],
  },
  {
    name: 'counts ICMP types',
    source: `export const types = hashMap<u8, u64>({ maxEntries: 16 });
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, 14);
        if (ip === null || ip.protocol !== IPPROTO_ICMP) return 2;
        const icmp = ctx.packet.at(IcmpHdr, 34);
        if (icmp !== null) types.increment(icmp.type);
        return 2;
      });`,
    packets: [ICMP, ICMP, UDP], maps: { types: { '08': le64(2n) } },
  },
  {
    name: 'tests TCP flags',
    source: xdpProgram(`const tcp = ctx.packet.at(TcpHdr, 34);
      if (tcp === null) return 0;
      if ((tcp.flags & TCP_SYN) !== 0 && (tcp.flags & TCP_ACK) === 0) return 1;
      return 2;`, ''),
    packets: [packet({ proto: 'tcp', tcpFlags: 0x02 }), packet({ proto: 'tcp', tcpFlags: 0x12 }), UDP], retvals: [1, 2, 0],
  },
  {
    name: 'reads single bytes with packet.byte()',
    source: xdpProgram(`const b = ctx.packet.byte(23);
      const missing = ctx.packet.byte(5000);
      return b === 17 && missing === -1 ? 1 : 2;`, ''),
    packets: [UDP, TCP], retvals: [1, 2],
  },
  {
    name: 'sends ring buffer events with output()',
    source: `export interface Ev { len: u32; proto: u8 }
      export const events = ringBuf<Ev>({ size: 4096 });
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, 14);
        if (ip === null) return 2;
        const ev: Ev = { len: ctx.packet.length, proto: ip.protocol };
        events.output(ev);
        return 2;
      });`,
    packets: [UDP, TCP],
    check: (r) => expect(r.events.events).to.deep.equal([le32(UDP.length) + '11000000', le32(TCP.length) + '06000000']),
  },
  {
    name: 'reserves, fills and submits ring buffer events',
    source: `export interface Ev { len: u64; mac: FixedArray<u8, 6> }
      export const events = ringBuf<Ev>({ size: 4096 });
      export const p = xdp((ctx) => {
        const eth = ctx.packet.at(EthHdr, 0);
        if (eth === null) return 2;
        const ev = events.reserve();
        if (ev === null) return 2;
        if (ctx.packet.length > 100) { events.discard(ev); return 1; }
        ev.len = ctx.packet.length;
        for (const i of range(6)) ev.mac[i] = eth.src[i];
        events.submit(ev);
        return 2;
      });`,
    packets: [UDP, packet({ payload: new Array(100).fill(0) })], retvals: [2, 1],
    check: (r) => expect(r.events.events).to.deep.equal([le64(BigInt(UDP.length)) + '0200000000010000']),
  },
  {
    name: 'runs compound assignments and increments',
    source: xdpProgram(`let x: u32 = 10;
      x += 5; x -= 3; x *= 4; x <<= 1; x >>= 2; x |= 0x100; x &= 0x1ff; x ^= 1;
      let y: u32 = x++;
      ++y;
      const z = x-- + --y;
      out.update(0, x); out.update(1, y); out.update(2, z);
      return 2;`),
    packets: [UDP], out: { 0: 0x119n, 1: 0x119n, 2: 0x11an + 0x119n },
  },
  {
    name: 'uses boolean locals and negation',
    source: xdpProgram(`const ip = ctx.packet.at(IpHdr, 14);
      const isIp = ip !== null;
      const big: bool = ctx.packet.length > 60;
      if (!isIp) return 0;
      return !big ? 1 : 2;`, ''),
    packets: [UDP, packet({ payload: new Array(50).fill(0) }), new Uint8Array(20)], retvals: [1, 2, 0],
  },
  {
    name: 'folds constants from user tables (as const) and enums',
    source: `const Verdict = { keep: 2, drop: 1 } as const;
      enum Proto { Tcp = 6, Udp = 17 }
      const LIMIT = 3 * 10;
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, 14);
        if (ip === null || ctx.packet.length < LIMIT) return Verdict.drop;
        return ip.protocol === Proto.Udp ? Verdict.keep : Verdict.drop;
      });`,
    packets: [UDP, TCP, new Uint8Array(20)], retvals: [2, 1, 1],
  },
  {
    name: 'finds programs and maps through re-exports and aliases',
    source: `export { counter as renamedCounter } from './lib.js';
      import { counter } from './lib.js';
      import { xdp as entry } from 'tsbpf/dsl';
      const count = counter;
      export const p = entry(() => { count.increment(7); return 2; });`,
    packets: [UDP, UDP], maps: { counter: { [le32(7)]: le64(2n) } },
  },
  {
    name: 'indexes fixed arrays with constants and loop variables',
    source: xdpProgram(`const eth = ctx.packet.at(EthHdr, 0);
      if (eth === null) return 0;
      let sum: u32 = 0;
      for (const i of range(6)) sum += eth.dst[i];
      return sum * 10 + eth.src[5];`, ''),
    packets: [UDP], retvals: [40 + 1],
  },
  {
    name: 'zero-initialises struct locals and copies them into maps',
    source: `export interface Rec { a: u8; b: u32; c: u64 }
      export const recs = arrayMap<Rec>({ maxEntries: 2 });
      export const p = xdp((ctx) => {
        const rec: Rec = { a: 0, b: ctx.packet.length, c: 0 };
        rec.c = 0xabcdef;
        recs.update(1, rec);
        return 2;
      });`,
    packets: [UDP], maps: { recs: { [le32(1)]: '00000000' + le32(UDP.length) + le64(0xabcdefn) } },
  },
  {
    name: 'compares signed 64-bit values',
    source: xdpProgram(`const a: i64 = i64(ctx.packet.length) - 1000;
      const b: i64 = -5;
      if (a < b) return 1;
      return 2;`, ''),
    packets: [UDP], retvals: [1],
  },
  {
    name: 'calls time and random helpers',
    source: xdpProgram(`const t = bpf.ktimeNs();
      const r = bpf.random();
      const c = bpf.cpu();
      return t > 0 && (r & 0) === 0 && c < 4096 ? 1 : 2;`, ''),
    packets: [UDP], retvals: [1],
  },
  {
    name: 'drops a UDP port in a tc program',
    source: `export const blocked = rodata<u16>(53);
      export const p = tc('ingress', (ctx) => {
        const eth = ctx.packet.at(EthHdr, 0);
        if (eth === null || eth.proto !== htons(ETH_P_IP)) return TcAction.OK;
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null || ip.protocol !== IPPROTO_UDP) return TcAction.OK;
        const udp = ctx.packet.at(UdpHdr, EthHdr.size + IpHdr.size);
        if (udp === null) return TcAction.OK;
        return ntohs(udp.dest) === blocked.get() ? TcAction.SHOT : TcAction.OK;
      });`,
    packets: [packet({ dport: 53 }), packet({ dport: 54 }), TCP], retvals: [2, 0, 0],
  },
  {
    name: 'reads __sk_buff fields in tc',
    source: `export const p = tc('ingress', (ctx) => (ctx.protocol === htons(ETH_P_IP) ? ctx.len : 1));`,
    packets: [UDP, ARP], retvals: [UDP.length, 1],
  },
  {
    name: 'filters sockets with skb loads',
    source: `export const p = socketFilter((ctx) => {
        const ip = ctx.packet.at(IpHdr, 0);
        if (ip === null) return 0;
        return ip.protocol === IPPROTO_UDP ? ctx.len : 0;
      });`,
    packets: [UDP, TCP], retvals: [UDP.length - 14, 0],
  },
  {
    name: 'allows or drops in cgroup skb programs',
    source: `export const p = cgroupSkb('ingress', (ctx) => {
        const ip = ctx.packet.at(IpHdr, 0);
        if (ip === null) return CgroupAction.ALLOW;
        return ip.protocol === IPPROTO_ICMP ? CgroupAction.DROP : CgroupAction.ALLOW;
      });`,
    packets: [UDP, ICMP], retvals: [1, 0],
  },
  {
    name: 'spills values across helper calls when registers run out',
    source: xdpProgram(`const l = ctx.packet.length;
      const a = l + 1; const b = l + 2; const c = l + 3; const d = l + 4; const e = l + 5; const f = l + 6;
      out.update(0, a);
      out.update(1, a + b + c + d + e + f);
      return u32(a * b - c * d + e * f);`),
    packets: [UDP], check: (r) => {
      const l = UDP.length;
      expect(r.retvals[0]).to.equal((l + 1) * (l + 2) - (l + 3) * (l + 4) + (l + 5) * (l + 6));
    },
    out: { 0: BigInt(UDP.length + 1), 1: BigInt(6 * UDP.length + 21) },
  },
  {
    name: 'prints with printk',
    source: xdpProgram(`bpf.printk("len %d proto %d\\n", ctx.packet.length, 17);
      return 2;`, ''),
    packets: [UDP], retvals: [2],
  },
  {
    name: 'increments u32 values by a variable amount',
    source: `export const sizes = hashMap<u16, u32>({ maxEntries: 8 });
      export const p = xdp((ctx) => {
        const udp = ctx.packet.at(UdpHdr, 34);
        if (udp === null) return 2;
        sizes.increment(ntohs(udp.dest), ntohs(udp.len));
        return 2;
      });`,
    packets: [packet({ dport: 7 }), packet({ dport: 7 }), packet({ dport: 9 })],
    maps: { sizes: { '0700': le32(24), '0900': le32(12) } },
  },
  {
    name: 'runs C-style for loops: unrolled, counted, counting down, bounded by one && term',
    source: xdpProgram(`let a: u32 = 0;
      for (let i = 0; i < 4; i++) a += i;
      let b: u32 = 0;
      for (let i: u32 = 0; i < 100; i += 3) {
        if (i === 30) continue;
        if (i > 90) break;
        b += i;
      }
      let c: u32 = 0;
      for (let i = 20; i > 0; i--) c += u32(i * i);
      let d: u32 = 0;
      for (let i: u32 = 0; i < 64 && i < ctx.packet.length - 40; i++) d++;
      out.update(0, a); out.update(1, b); out.update(2, c);
      return d;`),
    packets: [UDP, packet({ payload: new Array(100).fill(0) })], retvals: [6, 64], out: { 0: 6n, 1: 1365n, 2: 2870n },
  },
  {
    name: 'runs while and do…while loops whose variable steps in the body',
    source: xdpProgram(`let n: u32 = 0;
      let s: u32 = 0;
      while (n < 10) {
        if (n === 3) { n += 2; continue; }
        s += n;
        n++;
      }
      let m = 5;
      let t = 0;
      do { t += m; m--; } while (m > 0);
      let k: u32 = 0;
      while (k < 1000 && k * k < ctx.packet.length) k++;
      out.update(0, s); out.update(1, u32(t));
      return k;`),
    packets: [UDP, packet({ payload: new Array(100).fill(0) })], retvals: [7, 12], out: { 0: 38n, 1: 15n },
  },
  {
    name: 'builds struct literals from shorthand properties',
    source: `export interface Flow { saddr: be32; daddr: be32; proto: u8 }
      export const flows = hashMap<Flow, u64>({ maxEntries: 64 });
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return XdpAction.PASS;
        const saddr = ip.saddr;
        const daddr = ip.daddr;
        const proto = ip.protocol;
        flows.increment({ saddr, daddr, proto });
        const key: Flow = { saddr, daddr, proto: u8(proto + 1) };
        flows.increment(key, 10);
        return XdpAction.PASS;
      });`,
    packets: [UDP, UDP, TCP],
    maps: { flows: { '0a0000010a00000211000000': le64(2n), '0a0000010a00000212000000': le64(20n), '0a0000010a00000206000000': le64(1n), '0a0000010a00000207000000': le64(10n) } },
  },
  {
    name: 'folds module-level constant expressions (header sizes, u64(…n), arithmetic over constants)',
    source: `${OUT}
      const L4 = EthHdr.size + IpHdr.size;
      const GOLDEN = u64(0x9e37_79b9_7f4a_7c15n);
      const MASK = (1 << 12) - 1;
      const TOP = GOLDEN >> 60;
      export const p = xdp((ctx) => {
        const udp = ctx.packet.at(UdpHdr, L4);
        if (udp === null) return 0;
        const h = u64(ntohs(udp.dest)) * GOLDEN;
        out.update(0, h);
        out.update(1, L4 + 1);
        out.update(2, TOP);
        return u32(h >> 52) & MASK;
      });`,
    packets: [UDP], retvals: [3095], out: { 0: 0xc17c33675a6bb059n, 1: 35n, 2: 9n },
  },
  {
    name: 'applies compound assignments to header and map-value fields',
    source: `export interface V { a: u32; b: u64; arr: FixedArray<u16, 4> }
      export const vals = arrayMap<V>({ maxEntries: 1 });
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return 0;
        ip.ttl -= 1; ip.tos |= 4; ip.id ^= 0xffff; ip.ttl++; --ip.ttl; ip.check += 1;
        const eth = ctx.packet.at(EthHdr, 0);
        if (eth === null) return 0;
        eth.src[ctx.packet.length & 3] += 1; eth.dst[5] <<= 1;
        const v = vals.lookup(0);
        if (v === null) return 0;
        v.a += 2; v.b *= 3; v.b += 1; v.arr[1] |= 8; v.arr[ctx.packet.length & 3] -= 1; v.a++; v.b--;
        return 2;
      });`,
    packets: [UDP, UDP],
    maps: { vals: { [le32(0)]: le32(6) + '00000000' + le64(0n) + '0000' + '0800' + 'feff' + '0000' } },
    check: (r) => {
      const p = Buffer.from(r.packets[1]!, 'hex');
      expect([p[5], p[8], p[15], p[18], p[19], p[22], p[24], p[25]]).to.deep.equal([4, 1, 4, 0xff, 0xfe, 0x3f, 1, 0]);
    },
  },
  {
    name: 'takes the right side of ?? only when the left is null (integers and references)',
    source: `${OUT}
      export interface Stats { hits: u64 }
      export const counts = hashMap<u32, u32>({ maxEntries: 8 });
      export const stats = arrayMap<Stats>({ maxEntries: 1 });
      export const p = xdp((ctx) => {
        const n = counts.lookup(1) ?? 100;
        counts.update(1, n + 1);
        const big: u64 = counts.lookup(2) ?? u64(1) << 40;
        out.update(0, big);
        const s = stats.lookup(ctx.packet.length) ?? stats.lookup(0);
        if (s !== null) s.hits += 1;
        return n;
      });`,
    packets: [UDP, UDP, UDP], retvals: [100, 101, 102],
    maps: { counts: { [le32(1)]: le32(103) }, stats: { [le32(0)]: le64(3n) } }, out: { 0: 1n << 40n },
  },
  {
    name: 'reads rodata arrays and structs at their initial values, and counts in a global array',
    source: RODATA_SET,
    packets: [packet({ dport: 53 }), packet({ dport: 5353 }), packet({ dport: 53 }), packet({ dport: 80, payload: new Array(100).fill(0) }), packet({ dport: 80 })],
    retvals: [1, 1, 1, 1, 2], out: { 0: 2n, 1: 1n },
  },
  {
    name: 'reads rodata arrays and structs set before load (a whole array, one struct field)',
    source: RODATA_SET,
    rodata: { ports: [7777], 'cfg.limit': 50 },
    packets: [packet({ dport: 53 }), packet({ dport: 7777 }), packet({ dport: 80, payload: new Array(100).fill(0) })],
    retvals: [2, 1, 1], out: { 0: 1n },
  },
  {
    name: 'copies a header field into a typed let and reassigns it (let nh: u32 = ip6.nexthdr)',
    source: xdpProgram(`const ip6 = ctx.packet.at(Ipv6Hdr, EthHdr.size);
      if (ip6 === null) return 0;
      let nh: u32 = ip6.nexthdr;
      ip6.nexthdr = 59;
      if (nh === 0) nh = 1;
      nh += ip6.hopLimit;
      return nh + ip6.nexthdr;`, ''),
    packets: [Uint8Array.from([...new Array(12).fill(0), 0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 17, 64, ...new Array(32).fill(1)]), Uint8Array.from([...new Array(12).fill(0), 0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 0, 3, ...new Array(32).fill(1)])],
    retvals: [17 + 64 + 59, 1 + 3 + 59],
  },
];

const EXTRA_FILES: Record<string, string> = {
  'lib.ts': `import { hashMap, type u32, type u64 } from 'tsbpf/dsl';\nexport const counter = hashMap<u32, u64>({ maxEntries: 8 });\n`,
};


describe('dsl features: interpreter and kernel agree', function () {
  for (const c of cases) {
    it(c.name, function () {
      const mod = compileSource(IMPORTS + c.source, EXTRA_FILES);
      const interp = interpSequence(mod, 'p', c.packets, c.rodata);
      expectOutcome(interp, c, 'interpreter');
      needKernel(this);
      const kernel = kernelSequence(mod, 'p', c.packets, c.rodata);
      expect(kernel, 'kernel and interpreter').to.deep.equal(interp);
    });
  }
});

/** Cases whose helpers depend on the machine (time, randomness, the trace pipe): the evaluator does not model them. */
const MACHINE_DEPENDENT = new Set(['calls time and random helpers', 'prints with printk']);

describe('dsl features: the reference evaluator (tsbpf/eval) gives the same results', function () {
  for (const c of cases.filter((x) => !MACHINE_DEPENDENT.has(x.name))) {
    it(c.name, () => {
      const ev = evalSequence(IMPORTS + c.source, EXTRA_FILES, 'p', c.packets, c.rodata);
      expectOutcome(ev, c, 'evaluator');
      const interp = interpSequence(compileSource(IMPORTS + c.source, EXTRA_FILES), 'p', c.packets, c.rodata);
      expect(ev, 'evaluator and interpreter').to.deep.equal(interp);
    });
  }
});
