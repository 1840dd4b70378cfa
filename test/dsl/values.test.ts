/**
 * Values and references (docs/language.md): a number read through a
 * reference (a header, map value or event field) is taken when the line
 * runs, wherever it goes next — a const or let, an argument, a ternary, a
 * return value, a copy. Each case runs in the kernel (BPF_PROG_TEST_RUN), the
 * interpreter and the reference evaluator, and asserts its own results;
 * the three must agree exactly.
 */
import { expect } from 'chai';
import { needKernel } from '../support/kernel.js';
import { ipChecksumOk, onesComplementSum, parseUdpFrame, udpChecksumOk, udpFrame } from './support/frames.js';
import { compileSource, evalSequence, expectOutcome, interpSequence, kernelSequence, le32, le64, outMap, packet, type SequenceCase, type SequenceOutcome } from './support/harness.js';

const IMPORTS = `
import { xdp, tc, hashMap, arrayMap, ringBuf, bpf, htons, htonl, ntohl, XdpAction, TcAction, u8, u16, u32, u64, i32, type be32 } from 'tsbpf/dsl';
import { EthHdr, IpHdr, ETH_P_IP } from 'tsbpf/dsl/net';
`;

const OUT = `export const out = arrayMap<u64>({ maxEntries: 8 });\n`;

interface Case extends SequenceCase {
  /** Helpers the evaluator does not model: kernel and interpreter only. */
  noEval?: boolean;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const PKT = packet({ src: '1.1.1.1', dst: '2.2.2.2' });
const NAT_FRAME = udpFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', srcIp: '10.0.0.1', dstIp: '10.0.0.2', sport: 1234, dport: 53, payload: new Uint8Array([1, 2, 3, 4, 5]) });
const SWAPPED = hex(packet({ src: '2.2.2.2', dst: '1.1.1.1' }));
const xdpIp = (body: string, decls = OUT) => `${decls}
export const p = xdp((ctx) => {
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null) return XdpAction.ABORTED;
${body}
});
`;
const swapped = (r: SequenceOutcome) => expect(r.packets[0], 'saddr and daddr swapped').to.equal(SWAPPED);

export const cases: Case[] = [
  {
    name: 'issue 9: a const taken from a header field before the field is stored (XDP address swap)',
    source: xdpIp('  const s = ip.saddr; ip.saddr = ip.daddr; ip.daddr = s;\n  return XdpAction.TX;'),
    packets: [PKT], retvals: [3], check: swapped,
  },
  {
    name: 'issue 9: a map value field read into a const before the field is stored (56 runs)',
    source: `export interface Pair { a: u64; b: u64 }
      export const m = arrayMap<Pair>({ maxEntries: 1 });
      export const p = xdp(() => {
        const v = m.lookup(0);
        if (v === null) return 0;
        const old = v.a; v.a = old + 1; v.b = old;
        return 2;
      });`,
    packets: Array.from({ length: 56 }, () => PKT),
    maps: { m: { [le32(0)]: le64(56n) + le64(55n) } },
  },
  {
    name: 'issue 9: a map value field read before the delete of its key (the element is reused by the next update)',
    source: `${OUT}export interface Req { size: u64; pad: u64 }
      export const byTid = hashMap<u32, Req>({ maxEntries: 4 });
      export const p = xdp((ctx) => {
        const tid: u32 = 7;
        byTid.update(tid, { size: ctx.packet.length, pad: 1 });
        const req = byTid.lookup(tid);
        if (req === null) return 0;
        const n = req.size;
        byTid.delete(tid);
        byTid.update(tid, { size: 99, pad: 2 });
        out.update(0, n);
        return 2;
      });`,
    packets: [PKT, PKT], out: { 0: BigInt(PKT.length) },
    maps: { byTid: { [le32(7)]: le64(99n) + le64(2n) } },
  },
  {
    name: 'a let initialiser takes the value',
    source: xdpIp('  let s = ip.saddr; ip.saddr = ip.daddr; ip.daddr = s;\n  return XdpAction.TX;'),
    packets: [PKT], retvals: [3], check: swapped,
  },
  {
    name: 'arguments of module functions are taken left to right, before later arguments store',
    source: `${OUT}
      function put(h: IpHdr, s: be32, d: be32): void { h.saddr = s; h.daddr = d; }
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return XdpAction.ABORTED;
        put(ip, ip.daddr, ip.daddr = ip.saddr);
        return XdpAction.TX;
      });`,
    packets: [PKT], retvals: [3], check: swapped,
  },
  {
    name: 'an argument without a declared integer type is still a value',
    source: `${OUT}
      const swapWith = (h: IpHdr, s = 0) => { h.saddr = h.daddr; h.daddr = s; };
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return XdpAction.ABORTED;
        swapWith(ip, ip.saddr);
        return XdpAction.TX;
      });`,
    packets: [PKT], retvals: [3], check: swapped,
  },
  {
    name: 'a return value read from a field is taken by the function',
    source: `${OUT}
      function source(h: IpHdr) { return h.saddr; }
      export const p = xdp((ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return XdpAction.ABORTED;
        const s = source(ip); ip.saddr = ip.daddr; ip.daddr = s;
        return XdpAction.TX;
      });`,
    packets: [PKT], retvals: [3], check: swapped,
  },
  {
    name: 'a ternary of fields gives a value',
    source: xdpIp('  const s = ctx.packet.length > 10 ? ip.saddr : ip.daddr; ip.saddr = ip.daddr; ip.daddr = s;\n  return XdpAction.TX;'),
    packets: [PKT], retvals: [3], check: swapped,
  },
  {
    name: 'ternary arms are converted to their common type in their own branch',
    source: xdpIp(`  const neg: i32 = i32(ctx.packet.length) - 1000;
  const big: u64 = u64(ctx.packet.length);
  out.update(0, ctx.packet.length > 10 ? neg : big);
  out.update(1, ctx.packet.length > 10 ? -1 : big);
  return 2;`, OUT),
    packets: [PKT], out: { 0: BigInt.asUintN(64, BigInt(PKT.length - 1000)), 1: BigInt.asUintN(64, -1n) },
  },
  {
    name: 'the left operand of a comparison is taken before the right one runs',
    source: `${OUT}export interface Pair { a: u64; b: u64 }
      export const m = arrayMap<Pair>({ maxEntries: 1 });
      function bump(v: Pair): u64 { v.a = v.a + 1; return v.a; }
      export const p = xdp(() => {
        const v = m.lookup(0);
        if (v === null) return 0;
        out.update(0, v.a === bump(v) ? 1 : 2);
        out.update(1, v.a + bump(v));
        return 2;
      });`,
    packets: [PKT], out: { 0: 2n, 1: 3n },
  },
  {
    name: 'compound assignment reads its target before the right side runs; struct literals and array elements copy values',
    source: `${OUT}export interface Pair { a: u64; b: u64 }
      export const m = arrayMap<Pair>({ maxEntries: 1 });
      function bump(v: Pair): u64 { v.a = v.a + 1; return 10; }
      export const p = xdp((ctx) => {
        const v = m.lookup(0);
        const eth = ctx.packet.at(EthHdr, 0);
        if (v === null || eth === null) return 0;
        v.a = 5;
        v.a += bump(v);
        const k: Pair = { a: v.a, b: v.a + 1 };
        v.a = 100;
        const src = eth.src;
        const first = src[0];
        eth.src[0] = 9;
        out.update(0, k.a);
        out.update(1, k.b);
        out.update(2, first);
        out.update(3, src[0]);
        return 2;
      });`,
    packets: [PKT], out: { 0: 15n, 1: 16n, 2: 2n, 3: 9n },
  },
  {
    name: 'an event field read into a const keeps its value after the field is stored',
    source: `${OUT}export interface Ev { n: u32; m: u32 }
      export const events = ringBuf<Ev>({ size: 4096 });
      export const p = xdp((ctx) => {
        const ev = events.reserve();
        if (ev === null) return 0;
        ev.n = ctx.packet.length;
        const first = ev.n;
        ev.n = 5;
        ev.m = first;
        events.submit(ev);
        out.update(0, first);
        return 2;
      });`,
    packets: [PKT], out: { 0: BigInt(PKT.length) },
    check: (r) => expect(r.events.events).to.deep.equal([le32(5) + le32(PKT.length)]),
  },
  {
    name: 'a struct copy ({ ...ip }) keeps its values when the header is stored',
    source: xdpIp(`  const copy = { ...ip };
  ip.saddr = copy.daddr; ip.daddr = copy.saddr;
  ip.ttl = 1;
  out.update(0, copy.ttl);
  return XdpAction.TX;`),
    packets: [PKT], retvals: [3], out: { 0: 64n },
    check: (r) => expect(r.packets[0]!.slice(0, 44) + '01' + r.packets[0]!.slice(46)).to.equal(SWAPPED.slice(0, 44) + '01' + SWAPPED.slice(46)),
  },
  {
    name: 'spreads with overrides copy map values into new values, keys and arguments',
    source: `${OUT}export interface Pair { a: u64; b: u64 }
      export const m = hashMap<u32, Pair>({ maxEntries: 4 });
      function sum(p: Pair): u64 { return p.a + p.b; }
      export const p = xdp(() => {
        const v = m.lookup(1);
        if (v === null) { m.update(1, { a: 1, b: 2 }); return 1; }
        const before = { ...v, a: v.a + 10 };
        v.a = 100;
        out.update(0, before.a);
        out.update(1, before.b);
        out.update(2, sum({ ...v, b: 5 }));
        m.update(2, { ...before });
        return 2;
      });`,
    packets: [PKT, PKT], retvals: [1, 2], out: { 0: 11n, 1: 2n, 2: 105n },
    maps: { m: { [le32(1)]: le64(100n) + le64(2n), [le32(2)]: le64(11n) + le64(2n) } },
  },
  {
    name: 'a lookup in a map of integers is the value stored then (or null)',
    source: `${OUT}export const counts = hashMap<u32, u64>({ maxEntries: 4 });
      export const p = xdp(() => {
        const n = counts.lookup(1);
        if (n === null) { counts.update(1, 10); return 1; }
        counts.update(1, n + 100);
        out.update(0, n);
        const again = counts.lookup(1);
        if (again !== null) out.update(1, again);
        const none = counts.lookup(2);
        out.update(2, none === null ? 7 : 8);
        return n ? 2 : 3;
      });`,
    packets: [PKT, PKT], retvals: [1, 2], out: { 0: 10n, 1: 110n, 2: 7n },
  },
  {
    name: 'a nullable integer local is assigned, and a function gives number | null',
    source: `${OUT}export const counts = hashMap<u32, u32>({ maxEntries: 4 });
      function find(k: u32) { const v = counts.lookup(k); if (v === null) return null; return v + 1; }
      export const p = xdp(() => {
        counts.update(1, 41);
        let n = counts.lookup(3);
        if (n === null) n = 7;
        out.update(0, n);
        const f = find(1);
        out.update(1, f === null ? 1000 : f);
        const g = find(2);
        out.update(2, g === null ? 1000 : g);
        const h = counts.lookup(1) !== null ? counts.lookup(1) : null;
        out.update(3, h === null ? 5 : h);
        return 2;
      });`,
    packets: [PKT], out: { 0: 7n, 1: 42n, 2: 1000n, 3: 41n },
  },
  {
    name: 'a header field read before bpf.xdpAdjustHead stays valid; headers after it are taken again',
    source: `${OUT}export const p = xdp((ctx) => {
        const eth = ctx.packet.at(EthHdr, 0);
        if (eth === null) return 0;
        const proto = eth.proto;
        if (bpf.xdpAdjustHead(ctx, EthHdr.size) !== 0) return 0;
        const ip = ctx.packet.at(IpHdr, 0);
        if (ip === null) return 1;
        out.update(0, proto);
        out.update(1, ip.ttl);
        out.update(2, ctx.packet.length);
        return 2;
      });`,
    packets: [PKT], retvals: [2], out: { 0: 8n, 1: 64n, 2: BigInt(PKT.length - 14) },
  },
  {
    name: 'headers taken after bpf.xdpAdjustHead when nothing was read before',
    source: `${OUT}export const p = xdp((ctx) => {
        if (bpf.xdpAdjustHead(ctx, EthHdr.size) !== 0) return 0;
        const ip = ctx.packet.at(IpHdr, 0);
        if (ip === null) return 1;
        out.update(0, ip.protocol);
        return 2;
      });`,
    packets: [PKT], retvals: [2], out: { 0: 17n },
  },
  {
    name: 'tc TTL decrement with bpf.l3CsumReplace (the checksum is right afterwards)',
    source: `${OUT}export const p = tc('egress', (ctx) => {
        const eth = ctx.packet.at(EthHdr, 0);
        if (eth === null || eth.proto !== htons(ETH_P_IP)) return TcAction.OK;
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null || ip.ttl <= 1) return TcAction.OK;
        const oldWord: u16 = u16(ip.ttl << 8 | ip.protocol);
        ip.ttl = ip.ttl - 1;
        const newWord: u16 = u16(ip.ttl << 8 | ip.protocol);
        bpf.l3CsumReplace(ctx, EthHdr.size + 10, htons(oldWord), htons(newWord), 2);
        out.update(0, oldWord);
        return TcAction.OK;
      });`,
    packets: [withIpChecksum(PKT)], out: { 0: 0x4011n }, check: ttlDecremented,
  },
  {
    name: 'a destination NAT keeps both checksums right: values read before the checksum helpers stay valid after them',
    source: `${OUT}export const p = tc('egress', (ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return TcAction.OK;
        const old = ip.daddr;
        const next = htonl(0x0a000063);
        ip.daddr = next;
        bpf.l3CsumReplace(ctx, EthHdr.size + 10, old, next, 4);
        bpf.l4CsumReplace(ctx, EthHdr.size + IpHdr.size + 6, old, next, 0x10 | 4);
        out.update(0, ntohl(old));
        return TcAction.OK;
      });`,
    packets: [NAT_FRAME], out: { 0: 0x0a000002n },
    check: (r) => {
      const after = Buffer.from(r.packets[0]!, 'hex');
      expect(parseUdpFrame(after)?.dstIp).to.equal('10.0.0.99');
      expect([ipChecksumOk(after), udpChecksumOk(after)], 'IP and UDP checksums').to.deep.equal([true, true]);
    },
  },
  {
    name: 'helper arguments are taken left to right, before a later argument stores',
    source: `export const p = tc('egress', (ctx) => {
        const ip = ctx.packet.at(IpHdr, EthHdr.size);
        if (ip === null) return TcAction.OK;
        bpf.l3CsumReplace(ctx, EthHdr.size + 10, htons(u16(ip.ttl << 8 | ip.protocol)), htons(u16((ip.ttl -= 1) << 8 | ip.protocol)), 2);
        return TcAction.OK;
      });`,
    packets: [withIpChecksum(PKT)], check: ttlDecremented,
  },
];

/** The packet with a correct IPv4 header checksum. */
function withIpChecksum(p: Uint8Array): Uint8Array {
  const out = p.slice();
  out[24] = 0;
  out[25] = 0;
  const c = onesComplementSum(out.subarray(14, 34));
  out[24] = (~c >> 8) & 0xff;
  out[25] = ~c & 0xff;
  return out;
}


function ttlDecremented(r: SequenceOutcome): void {
  const after = Buffer.from(r.packets[0]!, 'hex');
  expect(after[14 + 8], 'ttl').to.equal(63);
  expect(ipChecksumOk(after), 'IPv4 header checksum').to.equal(true);
}



describe('dsl values and references: kernel, interpreter and evaluator agree', function () {
  for (const c of cases) {
    it(c.name, function () {
      const source = IMPORTS + c.source;
      const mod = compileSource(source);
      if (!c.noEval) {
        const ev = evalSequence(source, {}, 'p', c.packets);
        expectOutcome(ev, c, 'evaluator');
      }
      needKernel(this);
      const kernel = kernelSequence(mod, 'p', c.packets);
      expectOutcome(kernel, c, 'kernel');
      if (!c.noEval) {
        const interp = interpSequence(mod, 'p', c.packets);
        expectOutcome(interp, c, 'interpreter');
        expect(interp, 'interpreter and kernel').to.deep.equal(kernel);
      }
    });
  }
});
