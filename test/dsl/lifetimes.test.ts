/**
 * Use after release (docs/language.md, Lifetimes): a reference used where a
 * release may reach it is one TSBPF_USE_AFTER_RELEASE at the use (marked
 * ⟨⟩), naming the line of the release; modules that release correctly
 * compile, and the kernel's verifier loads them.
 */
import { expect } from 'chai';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { needKernel } from '../support/kernel.js';
import { compileSource, diagnosticsOf } from './support/harness.js';

const HEAD = `import { xdp, tc, hashMap, perCpuHash, arrayMap, lruHash, ringBuf, range, bpf, type u32, type u64 } from 'tsbpf/dsl';
import { EthHdr, IpHdr } from 'tsbpf/dsl/net';
export interface Ev { n: u32; m: u32 }
export interface V { a: u64; b: u64 }
export const events = ringBuf<Ev>({ size: 4096 });
export const m = hashMap<u32, V>({ maxEntries: 4 });
export const pm = perCpuHash<u32, V>({ maxEntries: 4 });
export const arr = arrayMap<V>({ maxEntries: 4 });
export const lru = lruHash<u32, V>({ maxEntries: 4 });
export const counts = lruHash<u32, u64>({ maxEntries: 4 });
`;
const HEAD_LINES = HEAD.split('\n').length - 1;

const xdpBody = (body: string, before = '') => `${before}export const p = xdp((ctx) => {\n${body}\n});\n`;
const tcBody = (body: string) => `export const p = tc('ingress', (ctx) => {\n${body}\n});\n`;

interface Bad {
  name: string;
  source: string;
  /** The release the message must name, as a line of `source` (1-based, after HEAD). */
  releaseLine: number;
  releasedBy: string;
}

const EV = 'const ev = events.reserve();\nif (ev === null) return 0;\n';
const V1 = 'const v = m.lookup(1);\nif (v === null) return 0;\n';
const IP = 'const ip = ctx.packet.at(IpHdr, EthHdr.size);\nif (ip === null) return 0;\n';

const bad: Bad[] = [
  { name: 'an event field written after submit', source: xdpBody(`${EV}events.submit(ev);\n⟨⟩ev.n = 1;\nreturn 0;`), releaseLine: 4, releasedBy: 'events.submit()' },
  { name: 'an event submitted after discard', source: xdpBody(`${EV}events.discard(ev);\nevents.submit(⟨⟩ev);\nreturn 0;`), releaseLine: 4, releasedBy: 'events.discard()' },
  { name: 'an event compared with null after submit', source: xdpBody(`${EV}events.submit(ev);\nreturn ⟨⟩ev === null ? 1 : 0;`), releaseLine: 4, releasedBy: 'events.submit()' },
  {
    name: 'an event submitted inside a loop is used by the next iteration',
    source: xdpBody(`${EV}for (const i of range(20)) {\n  ⟨⟩ev.n = i;\n  events.submit(ev);\n}\nreturn 0;`), releaseLine: 6, releasedBy: 'events.submit()',
  },
  {
    name: 'an event released on one branch is used after the branches meet',
    source: xdpBody(`${EV}if (ctx.packet.length > 60) events.discard(ev);\nelse events.submit(ev);\n⟨⟩ev.n = 2;\nreturn 0;`), releaseLine: 5, releasedBy: 'events.submit()',
  },
  { name: 'a map value after delete of its key', source: xdpBody(`${V1}m.delete(1);\nreturn ⟨⟩v.a;`), releaseLine: 4, releasedBy: 'm.delete()' },
  {
    name: 'a map value after a delete whose key may be its own',
    source: xdpBody('const k: u32 = ctx.packet.length;\nconst v = m.lookup(k);\nif (v === null) return 0;\nif (v.a > 3) m.delete(ctx.packet.length & 3);\nreturn ⟨⟩v.b;'), releaseLine: 5, releasedBy: 'm.delete()',
  },
  { name: 'a hash map value after update of its key', source: xdpBody(`${V1}m.update(1, { a: 2, b: 3 });\n⟨⟩v.a = 4;\nreturn 0;`), releaseLine: 4, releasedBy: 'm.update()' },
  { name: 'a per-CPU hash value after delete', source: xdpBody('const v = pm.lookup(1);\nif (v === null) return 0;\npm.delete(1);\nreturn ⟨⟩v.a;'), releaseLine: 4, releasedBy: 'pm.delete()' },
  { name: 'an LRU value after an update of another key (it may be evicted)', source: xdpBody('const v = lru.lookup(1);\nif (v === null) return 0;\nlru.update(2, { a: 1, b: 1 });\nreturn ⟨⟩v.a;'), releaseLine: 4, releasedBy: 'lru.update()' },
  { name: 'an LRU value after a delete of a key known only at run time', source: xdpBody('const v = lru.lookup(1);\nif (v === null) return 0;\nlru.delete(ctx.packet.length);\nreturn ⟨⟩v.a;'), releaseLine: 4, releasedBy: 'lru.delete()' },
  { name: 'a header after bpf.xdpAdjustHead', source: xdpBody(`${IP}bpf.xdpAdjustHead(ctx, 14);\nreturn ⟨⟩ip.ttl;`), releaseLine: 4, releasedBy: 'bpf.xdpAdjustHead()' },
  { name: 'a header after bpf.xdpAdjustTail', source: xdpBody(`${IP}if (bpf.xdpAdjustTail(ctx, -4) !== 0) return 0;\n⟨⟩ip.ttl = 1;\nreturn 2;`), releaseLine: 4, releasedBy: 'bpf.xdpAdjustTail()' },
  { name: 'an array field of a header after bpf.xdpAdjustHead', source: xdpBody('const eth = ctx.packet.at(EthHdr, 0);\nif (eth === null) return 0;\nconst src = eth.src;\nbpf.xdpAdjustHead(ctx, 14);\nreturn ⟨⟩src[0];'), releaseLine: 5, releasedBy: 'bpf.xdpAdjustHead()' },
  { name: 'a header after bpf.l3CsumReplace', source: tcBody(`${IP}bpf.l3CsumReplace(ctx, 24, 1, 2, 2);\n⟨⟩ip.ttl = 3;\nreturn 0;`), releaseLine: 4, releasedBy: 'bpf.l3CsumReplace()' },
  { name: 'a header after bpf.l4CsumReplace', source: tcBody(`${IP}bpf.l4CsumReplace(ctx, 40, 1, 2, 2);\nreturn ⟨⟩ip.protocol;`), releaseLine: 4, releasedBy: 'bpf.l4CsumReplace()' },
  { name: 'a header after bpf.skbChangeTail', source: tcBody(`${IP}bpf.skbChangeTail(ctx, 60);\nreturn ⟨⟩ip.ttl;`), releaseLine: 4, releasedBy: 'bpf.skbChangeTail()' },
  {
    name: 'a header chosen by a ternary after a helper',
    source: xdpBody(`${IP}const eth = ctx.packet.at(EthHdr, 0);\nif (eth === null) return 0;\nconst h = ctx.packet.length > 60 ? ip : ip;\nbpf.xdpAdjustHead(ctx, 14);\nreturn ⟨⟩h.ttl;`), releaseLine: 7, releasedBy: 'bpf.xdpAdjustHead()',
  },
  {
    name: 'a release inside a module function',
    source: xdpBody(`${EV}done(ev);\n⟨⟩ev.m = 1;\nreturn 0;`, 'function done(e: Ev): void { events.submit(e); }\n'),
    releaseLine: 1, releasedBy: 'events.submit()',
  },
  {
    name: 'passing a released reference to a module function',
    source: xdpBody(`${V1}m.delete(1);\nreturn first(⟨⟩v);`, 'function first(x: V): u64 { return x.a; }\n'),
    releaseLine: 5, releasedBy: 'm.delete()',
  },
  {
    name: 'a released reference used twice gives one diagnostic, at the first use',
    source: xdpBody(`${EV}events.submit(ev);\n⟨⟩ev.n = 1;\nev.m = 2;\nreturn 0;`), releaseLine: 4, releasedBy: 'events.submit()',
  },
];

const good: Array<{ name: string; source: string }> = [
  { name: 'a release on a path that returns', source: xdpBody(`${EV}if (ctx.packet.length > 60) { events.discard(ev); return 1; }\nev.n = 1;\nevents.submit(ev);\nreturn 0;`) },
  { name: 'values read before the release', source: xdpBody(`${V1}const a = v.a;\nconst copy = { ...v };\nm.delete(1);\nreturn a + copy.b;`) },
  { name: 'a delete of another constant key', source: xdpBody(`${V1}m.delete(2);\nv.a = 5;\nreturn 0;`) },
  { name: 'array elements live as long as the map', source: xdpBody('const v = arr.lookup(1);\nif (v === null) return 0;\narr.delete(1);\narr.update(1, { a: 1, b: 2 });\nv.a = 3;\nreturn 0;') },
  { name: 'a value looked up again in each iteration', source: xdpBody('for (const i of range(20)) {\n  const v = m.lookup(1);\n  if (v === null) continue;\n  v.a += i;\n  m.delete(1);\n}\nreturn 0;') },
  { name: 'an event reserved and submitted in each iteration', source: xdpBody('for (const i of range(3)) {\n  const ev = events.reserve();\n  if (ev === null) return 0;\n  ev.n = i;\n  events.submit(ev);\n}\nreturn 0;') },
  { name: 'a header taken again after the helper', source: xdpBody(`${IP}const ttl = ip.ttl;\nif (bpf.xdpAdjustHead(ctx, 14) !== 0) return 0;\nconst ip2 = ctx.packet.at(IpHdr, 0);\nif (ip2 === null) return 0;\nip2.ttl = ttl;\nreturn 2;`) },
  { name: 'a map of integers gives values, which deletes do not release', source: xdpBody('const n = counts.lookup(1);\ncounts.delete(1);\ncounts.increment(2);\nreturn n === null ? 0 : n;') },
];

function marked(source: string): { text: string; line: number; column: number } {
  const full = HEAD + source;
  const at = full.indexOf('⟨⟩');
  const before = full.slice(0, at);
  return { text: full.replace('⟨⟩', ''), line: before.split('\n').length, column: at - before.lastIndexOf('\n') };
}

describe('dsl lifetimes: use after release is a compile error at the use', () => {
  for (const c of bad) {
    it(c.name, () => {
      const { text, line, column } = marked(c.source);
      const ds = diagnosticsOf(text);
      expect(ds.map((d) => `${d.code} ${d.line}:${d.column} ${d.message}`), 'exactly one diagnostic').to.have.length(1);
      expect({ code: ds[0]!.code, line: ds[0]!.line, column: ds[0]!.column }).to.deep.equal({ code: 'TSBPF_USE_AFTER_RELEASE', line, column });
      expect(ds[0]!.message).to.include(`${c.releasedBy} on line ${HEAD_LINES + c.releaseLine}`);
    });
  }
});

describe('dsl lifetimes: modules that release correctly compile and load', () => {
  for (const c of good) {
    it(c.name, function () {
      const mod = compileSource(HEAD + c.source);
      needKernel(this);
      loadCompiledModule(mod, { only: ['p'] }).close();
    });
  }
});
