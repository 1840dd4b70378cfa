/**
 * The map kinds beyond key/value maps, atomics, CStr comparisons and the
 * packet helpers added with them: each module runs in the interpreter and in
 * the kernel (BPF_PROG_TEST_RUN), asserts its results, and the two agree.
 */
import { expect } from 'chai';
import { needKernel } from '../support/kernel.js';
import { compileSource, interpSequence, kernelSequence, packet, type SequenceOutcome } from './support/harness.js';

const IMPORTS = `
import { xdp, tc, arrayMap, hashMap, ringBuf, lpmTrie, queueMap, stackMap, bloomFilter, perfEventArray, progArray, devMap, arrayOfMaps, global, atomic, bpf,
  XdpAction, TcAction, UpdateFlags, u8, u16, u32, u64, type be32, type CStr, type FixedArray, type XdpContext } from 'tsbpf/dsl';
import { EthHdr, IpHdr, UdpHdr } from 'tsbpf/dsl/net';
export const out = arrayMap<u64>({ maxEntries: 8 });
`;

interface Case {
  name: string;
  source: string;
  packets: Uint8Array[];
  retvals?: number[];
  out?: Record<number, bigint>;
  check?: (r: SequenceOutcome) => void;
}

const le64 = (v: bigint) => Buffer.from(new BigUint64Array([BigInt.asUintN(64, v)]).buffer).toString('hex');
const le32 = (v: number) => Buffer.from(new Uint32Array([v >>> 0]).buffer).toString('hex');
const outMap = (values: Record<number, bigint>) => Object.fromEntries(Object.entries(values).filter(([, v]) => v !== 0n).map(([k, v]) => [le32(Number(k)), le64(v)]));
const text = (s: string) => [...new TextEncoder().encode(s)];

const cases: Case[] = [
  {
    name: 'LPM trie (IPv4): the longest stored prefix matches',
    source: `export interface V4 { prefixLen: u32; addr: be32 }
      export const nets = lpmTrie<V4, u32>({ maxEntries: 16 });
      export const p = xdp((ctx) => {
        nets.update({ prefixLen: 8, addr: 0x0000000a }, 1);
        nets.update({ prefixLen: 16, addr: 0x0000010a }, 2);
        nets.update({ prefixLen: 24, addr: 0x0002010a }, 3);
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return 0;
        const hit = nets.lookup({ prefixLen: 32, addr: ip.saddr });
        return hit === null ? 99 : hit;
      });`,
    packets: [packet({ src: '10.0.0.1' }), packet({ src: '10.1.2.3' }), packet({ src: '10.1.3.3' }), packet({ src: '192.168.0.1' })],
    retvals: [1, 3, 2, 99],
  },
  {
    name: 'LPM trie (IPv6): 16-byte keys, prefixes that end inside a byte',
    source: `export interface V6 { prefixLen: u32; addr: FixedArray<u8, 16> }
      export const nets = lpmTrie<V6, u32>({ maxEntries: 16 });
      export const p = xdp((ctx) => {
        let k!: V6;
        k.prefixLen = 32; k.addr[0] = 0x20; k.addr[1] = 0x01; k.addr[2] = 0x0d; k.addr[3] = 0xb8;
        nets.update(k, 7);
        k.prefixLen = 36; k.addr[4] = 0xa0;
        nets.update(k, 8);
        let q!: V6;
        q.prefixLen = 128; q.addr[0] = 0x20; q.addr[1] = 0x01; q.addr[2] = 0x0d; q.addr[3] = 0xb8;
        q.addr[4] = u8(ctx.packet.length); q.addr[15] = 1;
        const hit = nets.lookup(q);
        return hit === null ? 99 : hit;
      });`,
    packets: [packet({ payload: new Array(0xa5 - 42).fill(0) }), packet({ payload: new Array(0xb0 - 42).fill(0) })],
    retvals: [8, 7],
  },
  {
    name: 'queue and stack: FIFO and LIFO order, null when empty, E2BIG when full',
    source: `export const q = queueMap<u32>({ maxEntries: 2 });
      export const s = stackMap<u64>({ maxEntries: 4 });
      export const p = xdp((ctx) => {
        q.push(10); q.push(20);
        out.update(0, u64(-q.push(30)));
        s.push(1); s.push(2); s.push(3);
        const a = q.pop(); const b = q.peek(); const c = q.pop(); const d = q.pop();
        out.update(1, a ?? 0); out.update(2, b ?? 0); out.update(3, c ?? 0); out.update(4, d === null ? 1 : 0);
        const x = s.pop(); const y = s.pop();
        out.update(5, x ?? 0); out.update(6, y ?? 0);
        const e = s.pop();
        return e === null ? 0 : u32(e);
      });`,
    packets: [packet({})],
    retvals: [1],
    out: { 0: 7n, 1: 10n, 2: 20n, 3: 20n, 4: 1n, 5: 3n, 6: 2n },
  },
  {
    // The verifier takes one pointer into a reservation per helper call: the key goes as a copy (fuzz seed 13579, program 400).
    name: 'update with a key read from a ring-buffer event that is also the value',
    source: `export interface S { k: u32; n: u32 }
      export const m = hashMap<u32, S>({ maxEntries: 4 });
      export const ev = ringBuf<S>({ size: 4096 });
      export const p = xdp((ctx) => {
        const e = ev.reserve();
        if (e === null) return 0;
        e.k = 3;
        e.n = ctx.packet.length;
        const r = m.update(e.k, e);
        ev.discard(e);
        const got = m.lookup(3);
        return got === null ? 99 : r !== 0 ? 98 : got.n;
      });`,
    packets: [packet({})],
    retvals: [packet({}).length],
  },
  {
    name: 'bloom filter: every added value is found',
    source: `export const seen = bloomFilter<u32>({ maxEntries: 64, hashes: 3 });
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return 0;
        seen.add(ip.saddr);
        return seen.has(ip.saddr) ? 1 : 0;
      });`,
    packets: [packet({ src: '1.2.3.4' }), packet({ src: '5.6.7.8' })],
    retvals: [1, 1],
  },
  {
    name: 'atomics on map-value fields and globals: fetch forms, exchange, compare-exchange',
    source: `export interface Stats { packets: u64; bytes: u32; flags: u32 }
      export const stats = arrayMap<Stats>({ maxEntries: 1 });
      export const hits = global<u64>(5);
      export const p = xdp((ctx) => {
        const s = stats.lookup(0);
        if (s === null) return 0;
        atomic.add(s, 'packets', 1);
        const before = atomic.fetchAdd(s, 'bytes', ctx.packet.length);
        atomic.or(s, 'flags', 0x10);
        const f = atomic.fetchXor(s, 'flags', 0x3);
        atomic.and(s, 'flags', 0xff);
        out.update(0, before);
        out.update(1, f);
        out.update(2, atomic.exchange(hits, 100));
        out.update(3, atomic.compareExchange(hits, 100, 7));
        out.update(4, atomic.compareExchange(hits, 100, 9));
        out.update(5, hits.get());
        out.update(6, atomic.fetchAdd(hits, 2));
        return u32(s.packets);
      });`,
    packets: [packet({}), packet({})],
    retvals: [1, 2],
    check: (r) => {
      const len = BigInt(packet({}).length);
      expect(r.maps.out).to.deep.equal(outMap({ 0: len, 1: 0x13n, 2: 9n, 3: 100n, 4: 7n, 5: 7n, 6: 7n }));
      expect(r.maps.stats).to.deep.equal({ [le32(0)]: le64(2n) + le32(Number(2n * len)) + le32(0x10) });
    },
  },
  {
    name: 'tail calls: into the program in the slot, falling through when it is empty',
    source: `export const drop = xdp(() => XdpAction.DROP);
      export const jumps = progArray<XdpContext>({ programs: [drop], maxEntries: 4 });
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return 0;
        jumps.tailCall(ctx, ip.ttl - 64);
        return XdpAction.PASS;
      });`,
    packets: [packet({ ttl: 64 }), packet({ ttl: 65 }), packet({ ttl: 70 })],
    retvals: [1, 2, 2],
  },
  {
    name: 'devmap redirect: an empty slot gives the action in the flags',
    source: `export const ports = devMap({ maxEntries: 4 });
      export const p = xdp(() => ports.redirect(1, XdpAction.PASS));`,
    packets: [packet({})],
    retvals: [2],
  },
  {
    name: 'csumDiff of a changed address, and of words in memory',
    source: `export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return 0;
        out.update(0, u64(bpf.csumDiff(ip.saddr, ip.daddr)));
        out.update(1, u64(bpf.csumDiff(null, ip.saddr, 0x1234)));
        out.update(2, u64(bpf.csumDiff(ip.saddr, null)));
        return 2;
      });`,
    packets: [packet({ src: '10.0.0.1', dst: '192.168.7.9' })],
    // 10.0.0.1 → 192.168.7.9; seed 0x1234; the words as loaded little-endian (folded to 16 bits since 6.13).
    out: { 0: 0xb0bdn, 1: 0x133en, 2: 0xfef5n },
  },
  {
    name: 'CStr equals and startsWith, with literals and another CStr',
    source: `export interface Names { a: CStr<8>; b: CStr<16> }
      export const names = arrayMap<Names>({ maxEntries: 1 });
      export const p = xdp((ctx) => {
        const n = names.lookup(0);
        if (n === null) return 0;
        for (const i of range(8)) n.a[i] = u8(ctx.packet.byte(42 + i));
        n.b[0] = 0x62; n.b[1] = 0x61; n.b[2] = 0x73; n.b[3] = 0x68; n.b[4] = 0;
        let r: u32 = 0;
        if (n.a.equals('bash')) r |= 1;
        if (n.a.startsWith('ba')) r |= 2;
        if (n.a.equals(n.b)) r |= 4;
        if (n.b.startsWith(n.a)) r |= 8;
        if (n.a.equals('bashbash')) r |= 16;
        if (n.a.equals('bashbashb')) r |= 32;
        if (n.a.equals('')) r |= 64;
        return r;
      });`,
    packets: [
      packet({ payload: [...text('bash'), 0, 0, 0, 0] }),
      packet({ payload: [...text('bas'), 0, 0, 0, 0, 0] }),
      packet({ payload: [...text('bashbash')] }),
      packet({ payload: [...text('zsh'), 0, 0, 0, 0, 0] }),
      packet({ payload: [0, 0, 0, 0, 0, 0, 0, 0] }),
    ],
    retvals: [1 | 2 | 4 | 8, 2 | 8, 2 | 16, 0, 8 | 64],
  },
  {
    name: 'perf event array: events output from XDP reach user space in order',
    source: `export interface Ev { len: u32; proto: u32 }
      export const events = perfEventArray<Ev>();
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return 0;
        const e: Ev = { len: ctx.packet.length, proto: ip.protocol };
        return u32(events.output(ctx, e)) === 0 ? 2 : 1;
      });`,
    packets: [packet({ proto: 'udp' }), packet({ proto: 'tcp' })],
    retvals: [2, 2],
    check: (r) => expect(r.events.events).to.deep.equal([le32(packet({ proto: 'udp' }).length) + le32(17), le32(packet({ proto: 'tcp' }).length) + le32(6)]),
  },
  {
    name: 'array of maps: a program counts in the inner map user space put in slot 0',
    source: `export const perPort = arrayOfMaps({ maxEntries: 2, inner: hashMap<u16, u64>({ maxEntries: 8 }) });
      export const p = xdp((ctx) => {
        const udp = ctx.packet.at(UdpHdr, 34);
        if (udp === null) return 0;
        const counts = perPort.lookup(0);
        if (counts === null) return 1;
        counts.increment(udp.dest);
        const other = perPort.lookup(1);
        return other === null ? 2 : 3;
      });`,
    packets: [packet({ dport: 53 }), packet({ dport: 53 }), packet({ dport: 80 })],
    retvals: [2, 2, 2],
    check: (r) => expect(r.maps['perPort[0]']).to.deep.equal({ '0035': le64(2n), '0050': le64(1n) }),
  },
];

describe('dsl map kinds, atomics and strings: interpreter and kernel agree', function () {
  for (const c of cases) {
    it(c.name, function () {
      const mod = compileSource(IMPORTS.replace('global, atomic', 'global, atomic, range') + c.source);
      const interp = interpSequence(mod, 'p', c.packets);
      if (c.retvals) expect(interp.retvals, 'interpreter return values').to.deep.equal(c.retvals);
      if (c.out) expect(interp.maps.out, 'interpreter out map').to.deep.equal(outMap(c.out));
      c.check?.(interp);
      needKernel(this);
      const kernel = kernelSequence(mod, 'p', c.packets);
      expect(kernel, 'kernel and interpreter').to.deep.equal(interp);
    });
  }
});
