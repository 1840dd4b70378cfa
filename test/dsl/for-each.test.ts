/**
 * `m.forEachElem(callback, ctx?)` (bpf_for_each_map_elem): each module runs
 * with the same result in the reference evaluator, the interpreter and the
 * kernel (BPF_PROG_TEST_RUN), on every map kind the kernel walks; a built
 * object loads in bpftool; the callback's restrictions are positioned
 * diagnostics.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { needKernel, uniqueName } from '../support/kernel.js';
import { haveBpftool } from '../support/tools.js';
import { compileSource, diagnosticsOf, evalSequence, expectOutcome, interpSequence, kernelSequence, le64, objectFileOf, outMap, packet, type SequenceCase } from './support/harness.js';

const HEAD = `import { xdp, range, hashMap, arrayMap, perCpuArray, perCpuHash, lruHash, bpf, atomic, XdpAction, type u8, type u16, type u32, type u64 } from 'tsbpf/dsl';
export const out = arrayMap<u64>({ maxEntries: 8 });
`;

const udp = (n = 3) => packet({ proto: 'udp', payload: Array.from({ length: n }, (_, i) => i + 1) });
/** Frames of 42 + n bytes: the programs below take the length as their input. */
const sizes = (...ns: number[]) => ns.map(udp);

const CASES: SequenceCase[] = [
  {
    name: 'an array of integers: the key is the index, the value its integer; 1 stops, and the stopping element is counted',
    source: `
export const vals = arrayMap<u32>({ maxEntries: 16 });
export interface Acc { sum: u64; stopAt: u32; last: u32 }
export const p = xdp((ctx) => {
  const n = ctx.packet.length - 42;
  vals.update(n % 16, n * 10);
  let acc!: Acc;
  acc.stopAt = n;
  const visited = vals.forEachElem((i, v, a) => {
    a.sum += v;
    a.last = i;
    return i === a.stopAt;
  }, acc);
  out.update(0, acc.sum);
  out.update(1, acc.last);
  out.update(2, visited);
  out.update(3, vals.forEachElem(() => 0));
  return XdpAction.PASS;
});`,
    packets: sizes(3, 7, 12, 20),
    out: { 0: 30n + 70n + 120n + 200n, 1: 15n, 2: 16n, 3: 16n },
  },
  {
    name: 'a hash map of structs: struct keys read in place, values written through, elements deleted by the callback',
    source: `
export interface Flow { port: u16; proto: u8 }
export interface Stats { packets: u64; bytes: u64 }
export const flows = hashMap<Flow, Stats>({ maxEntries: 32 });
export interface Walk { odd: u64; ports: u64; bytes: u64 }
export const p = xdp((ctx) => {
  const n = ctx.packet.length - 42;
  flows.update({ port: n, proto: 17 }, { packets: 1, bytes: n * 100 });
  if (n < 10) return XdpAction.PASS;
  let w!: Walk;
  const visited = flows.forEachElem((k, s, acc) => {
    acc.ports += k.port;
    s.packets += 1;
    acc.bytes += s.bytes;
    if (k.port % 2 === 1) {
      acc.odd += 1;
      flows.delete(k);
    }
    return 0;
  }, w);
  out.update(0, visited);
  out.update(1, w.odd);
  out.update(2, w.ports);
  out.update(3, w.bytes);
  return XdpAction.PASS;
});`,
    packets: sizes(1, 2, 4, 5, 10, 6, 11),
    // Ports 1 and 5 go at the first walk (n = 10), 11 at the second; 2, 4 and 10 were walked twice.
    out: { 0: 5n, 1: 1n, 2: 2n + 4n + 10n + 6n + 11n, 3: 3300n },
    maps: {
      flows: {
        '02001100': `${le64(3n)}${le64(200n)}`,
        '04001100': `${le64(3n)}${le64(400n)}`,
        '0a001100': `${le64(3n)}${le64(1000n)}`,
        '06001100': `${le64(2n)}${le64(600n)}`,
      },
    },
  },
  {
    name: 'per-CPU maps: the callback sees and writes this CPU\'s values (one run: a test run stays on one CPU)',
    source: `
export const pa = perCpuArray<u64>({ maxEntries: 4 });
export const ph = perCpuHash<u32, u64>({ maxEntries: 8 });
export interface Tot { a: u64; h: u64 }
export const p = xdp((ctx) => {
  const n = ctx.packet.length - 42;
  for (const i of range(3)) {
    pa.update(i, n + i);
    ph.update(i + 1, n * i);
  }
  let t!: Tot;
  out.update(2, pa.forEachElem((i, v, x) => { x.a += v * (i + 1); }, t));
  out.update(3, ph.forEachElem((k, v, x) => { x.h += k + v; }, t));
  pa.forEachElem((i, v) => { pa.update(i, v + 100); });
  out.update(0, t.a);
  out.update(1, t.h);
  return XdpAction.PASS;
});`,
    packets: sizes(5),
    out: { 0: 5n * 1n + 6n * 2n + 7n * 3n, 1: (1n + 0n) + (2n + 5n) + (3n + 10n), 2: 4n, 3: 3n },
    check: (r) => expect(Object.keys(r.maps.pa!).length).to.equal(4),
  },
  {
    name: 'an LRU hash and a module function as the callback, shared by two maps; the value written through',
    source: `
export interface Count { n: u64 }
export const recent = lruHash<u32, Count>({ maxEntries: 64 });
export const all = hashMap<u32, Count>({ maxEntries: 4 });
export interface Sum { total: u64; keys: u64 }
function add(k: u32, c: Count, s: Sum): boolean {
  s.total += c.n;
  s.keys += k;
  c.n += 1;
  return false;
}
export const p = xdp((ctx) => {
  const n = ctx.packet.length - 42;
  recent.update(n, { n: 1 });
  all.update(n % 4, { n: n });
  let s!: Sum;
  out.update(0, recent.forEachElem(add, s));
  out.update(1, all.forEachElem(add, s));
  out.update(2, s.total);
  out.update(3, s.keys);
  return XdpAction.PASS;
});`,
    packets: sizes(1, 2, 3),
    // The last run walks recent {1: 3, 2: 2, 3: 1} and all {1: 3, 2: 3, 3: 3}.
    out: { 0: 3n, 1: 3n, 2: 6n + 9n, 3: 6n + 6n },
  },
];

describe('dsl forEachElem (bpf_for_each_map_elem)', function () {
  this.timeout(60_000);
  for (const c of CASES) {
    describe(c.name, () => {
      const source = HEAD + c.source;
      it('the interpreter agrees with the evaluator', () => {
        const mod = compileSource(source);
        const ev = evalSequence(source, {}, 'p', c.packets);
        const interp = interpSequence(mod, 'p', c.packets);
        expect(interp).to.deep.equal(ev);
        expectOutcome(interp, c, 'interpreter');
      });
      it('the kernel agrees (BPF_PROG_TEST_RUN)', function () {
        needKernel(this);
        const mod = compileSource(source);
        const kernel = kernelSequence(mod, 'p', c.packets);
        expect(kernel).to.deep.equal(evalSequence(source, {}, 'p', c.packets));
        expectOutcome(kernel, c, 'kernel');
      });
    });
  }
});

describe('dsl forEachElem on an LRU map', () => {
  // The kernel's LRU eviction is approximate (reference bits, per-CPU free lists): this order is checked where it is exact.
  it('a walk does not mark elements used: after a walk that stops at the oldest, an update evicts that one (evaluator and interpreter)', () => {
    const source = `${HEAD}
export const recent = lruHash<u32, u64>({ maxEntries: 4 });
export const p = xdp(() => {
  for (const i of range(4)) recent.update(i + 1, i + 1);
  out.update(0, recent.forEachElem((k) => k === 1));
  recent.update(5, 5);
  out.update(1, recent.lookup(1) ?? 0);
  out.update(2, recent.lookup(2) ?? 0);
  return XdpAction.PASS;
});`;
    const ev = evalSequence(source, {}, 'p', [udp()]);
    expect(interpSequence(compileSource(source), 'p', [udp()])).to.deep.equal(ev);
    expect(ev.maps.out).to.deep.equal(outMap({ 0: 1n, 2: 2n }));
  });
});

describe('dsl forEachElem: objects and diagnostics', function () {
  this.timeout(60_000);
  const source = `${HEAD}
export interface Flow { port: u16; proto: u8 }
export const flows = hashMap<Flow, u64>({ maxEntries: 8 });
export interface Sum { bytes: u64 }
export const p = xdp((ctx) => {
  flows.update({ port: ctx.packet.length, proto: 6 }, ctx.packet.length);
  let s!: Sum;
  out.update(0, flows.forEachElem((k, v, acc) => { acc.bytes += v + k.port; }, s));
  out.update(1, s.bytes);
  return XdpAction.PASS;
});
`;
  const object = objectFileOf(source);

  it('bpftool prog loadall loads the built object; the callback is a static function in .text', function () {
    needKernel(this);
    if (!haveBpftool()) this.skip();
    const pin = `/sys/fs/bpf/${uniqueName('feat10b-each')}`;
    try {
      execFileSync('bpftool', ['prog', 'loadall', object.path, pin], { stdio: 'pipe' });
      const xlated = execFileSync('bpftool', ['prog', 'dump', 'xlated', 'pinned', `${pin}/p`], { encoding: 'utf8' });
      // The kernel calls its own walker (bpf_for_each_hash_elem), with the callback's address.
      expect(xlated).to.match(/r2 = subprog\[\+\d+\][^]*call bpf_for_each_hash_elem/);
      // Its BTF prototype names the registers the kernel passes: the map, then key, value and ctx pointers.
      expect(xlated).to.include('i64 p_each(void * map, void * k, void * v, void * acc):');
    } finally {
      rmSync(pin, { recursive: true, force: true });
    }
  });

  const codes = (body: string) => diagnosticsOf(HEAD + body).map((d) => `${d.line}:${d.column} ${d.code}`);
  const MAPS = `export interface Flow { port: u16; proto: u8 }
export const flows = hashMap<Flow, u64>({ maxEntries: 8 });
export interface S { n: u64 }
`;
  // HEAD is 2 lines, MAPS 3: programs start on line 6.
  it('writing the key is TSBPF_FOR_EACH (it is the map\'s own key), and so is an atomic on it TSBPF_ATOMIC', () => {
    expect(codes(`${MAPS}export const p = xdp(() => {
  flows.forEachElem((k) => { k.port = 1; });
  return 2;
});`)).to.deep.equal(['7:30 TSBPF_FOR_EACH']);
    expect(codes(`export interface Id { id: u32 }
export const ids = hashMap<Id, u64>({ maxEntries: 8 });
export const p = xdp(() => {
  ids.forEachElem((k) => { atomic.add(k, 'id', 1); });
  return 2;
});`)).to.deep.equal(['6:39 TSBPF_ATOMIC']);
  });
  it('a callback taking a context that is not passed is TSBPF_FOR_EACH', () => {
    expect(codes(`${MAPS}export const p = xdp(() => {
  flows.forEachElem((k, v, c) => 0);
  return 2;
});`)).to.deep.equal(['7:28 TSBPF_FOR_EACH']);
  });
  it('the program context in the callback, a ctx that is a map value, and a local of the program are refused', () => {
    expect(codes(`${MAPS}export const counts = arrayMap<S>({ maxEntries: 1 });
export const p = xdp((ctx) => {
  const c = counts.lookup(0);
  if (c === null) return 1;
  flows.forEachElem((k, v, x) => { x.n += v; }, c);
  const len = ctx.packet.length;
  flows.forEachElem((k) => { out.update(0, len); });
  return 2;
});`).map((s) => s.split(' ')[1])).to.deep.equal(['TSBPF_HELPER_ARG', 'TSBPF_CLOSURE']);
    expect(codes(`${MAPS}import type { XdpContext } from 'tsbpf/dsl';
function length(c: XdpContext): u32 { return c.packet.length; }
function each(k: Flow, v: u64, c: XdpContext): void { out.update(0, length(c)); }
export const p = xdp((ctx) => {
  flows.forEachElem(each, ctx);
  return 2;
});`).map((s) => s.split(' ')[1])).to.deep.equal(['TSBPF_HELPER_ARG']);
  });
  it('a value used after the callback deleted its element is TSBPF_USE_AFTER_RELEASE', () => {
    expect(codes(`export interface V { n: u64 }
export const vs = hashMap<u32, V>({ maxEntries: 8 });
export const p = xdp(() => {
  vs.forEachElem((k, v) => {
    vs.delete(k);
    return v.n;
  });
  return 2;
});`).map((s) => s.split(' ')[1])).to.deep.equal(['TSBPF_USE_AFTER_RELEASE']);
  });
  it('an inner map (a map of maps\' lookup) is walked too: kernel and interpreter agree', function () {
    needKernel(this);
    const inner = `${HEAD}import { arrayOfMaps } from 'tsbpf/dsl';
export const outer = arrayOfMaps({ maxEntries: 1, inner: hashMap<u32, u64>({ maxEntries: 4 }) });
export interface S { n: u64 }
export const p = xdp((ctx) => {
  const m = outer.lookup(0);
  if (m === null) return 1;
  m.update(ctx.packet.length, 5);
  m.update(7, 6);
  let s!: S;
  out.update(0, m.forEachElem((k, v, c) => { c.n += k * v; }, s));
  out.update(1, s.n);
  return 2;
});`;
    const mod = compileSource(inner);
    const kernel = kernelSequence(mod, 'p', [udp(1)]);
    expect(interpSequence(mod, 'p', [udp(1)])).to.deep.equal(kernel);
    expect(kernel.maps.out).to.deep.equal(outMap({ 0: 2n, 1: 43n * 5n + 7n * 6n }));
  });
});
