/**
 * Module functions as bpf-to-bpf calls (`@noinline`, or the compiler's
 * choice for large functions called from several places): each module runs
 * with the same result in the reference evaluator, the interpreter and the
 * kernel (BPF_PROG_TEST_RUN); `tsbpf build` objects hold the subprograms in
 * .text as clang writes static functions, and load with bpftool and with
 * tsbpf's own ELF loader.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { PseudoCall, PseudoLoad } from '../../src/asm/opcodes.js';
import { writeObject } from '../../src/dsl/compiler/object.js';
import { parseObject } from '../../src/elf/parse-object.js';
import { readElf } from '../../src/elf/reader.js';
import { loadCollection } from '../../src/kernel/collection.js';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { kernelUnavailableReason, needKernel, uniqueName } from '../support/kernel.js';

const kernelOk = () => kernelUnavailableReason() === null;
import { haveBpftool } from '../support/tools.js';
import { compileSource, diagnosticsOf, evalSequence, interpSequence, kernelSequence, objectFileOf, outMap, packet, type SequenceCase } from './support/harness.js';

const HEAD = `import { xdp, tc, hashMap, arrayMap, bpf, XdpAction, type u8, type u16, type u32, type i8, type i16, type i32, type i64, u64, type XdpContext } from 'tsbpf/dsl';
import { EthHdr, IpHdr } from 'tsbpf/dsl/net';
export const out = arrayMap<u64>({ maxEntries: 8 });
`;

const udp = (payload: number[] = [1, 2, 3]) => packet({ proto: 'udp', payload });

const isCall = (ins: { opcode: number; src: number }) => ins.opcode === 0x85 && ins.src === PseudoCall.CALL;
const isFuncAddress = (ins: { opcode: number; src: number }) => ins.opcode === 0x18 && ins.src === PseudoLoad.FUNC;

interface CallCase extends SequenceCase {
  /** Subprograms the program must have (names), or none. */
  subprograms: string[];
}

const CASES: CallCase[] = [
  {
    name: 'integer arguments and results, nested calls, the context as a parameter',
    source: `
/** @noinline */
function mix(a: u32, b: u32): u32 {
  let x = a * 31 + b;
  x ^= x >> 7;
  return x;
}
/** @noinline */
function length(ctx: XdpContext): u32 { return ctx.packet.length; }
export const p = xdp((ctx) => {
  const a = mix(length(ctx), 3);
  out.update(0, a);
  out.update(1, mix(a, 5));
  return XdpAction.PASS;
});`,
    packets: [udp(), udp([9, 9, 9, 9, 9, 9, 9])],
    subprograms: ['length', 'mix'],
  },
  {
    name: 'signed and narrow parameters are converted at the call, results to the declared type',
    source: `
/** @noinline */
function widen(a: i8, b: u16, c: i64): i16 {
  return a * 300 + b - c;
}
export const p = xdp((ctx) => {
  const n = ctx.packet.length;
  out.update(0, widen(n + 200, n * 1000, -7));
  out.update(1, widen(-3, 7000, 1));
  out.update(2, widen(n, 65535, n * n));
  return 2;
});`,
    packets: [udp(), udp([1])],
    subprograms: ['widen'],
  },
  {
    name: 'a struct local, a map value and a checked header are passed by reference',
    source: `
export interface Acc { sum: u64; n: u32 }
export const stats = hashMap<u32, Acc>({ maxEntries: 4 });
/** @noinline */
function add(acc: Acc, v: u32): void {
  acc.sum += v;
  acc.n++;
}
/** @noinline */
function ttlOf(ip: IpHdr): u32 {
  return ip.ttl;
}
export const p = xdp((ctx) => {
  let acc!: Acc;
  add(acc, 5);
  add(acc, ctx.packet.length);
  out.update(0, acc.sum);
  out.update(1, acc.n);
  const v = stats.lookup(1);
  if (v === null) stats.update(1, { sum: 1, n: 1 });
  else add(v, 7);
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null) return XdpAction.DROP;
  out.update(2, ttlOf(ip));
  return XdpAction.PASS;
});`,
    packets: [udp(), udp(), udp([1, 2, 3, 4, 5])],
    maps: { stats: { '01000000': '0f000000000000000300000000000000' } },
    // A struct local and a map value: one subprogram each (the code may differ by the memory it reaches).
    subprograms: ['add', 'add_2', 'ttlOf'],
  },
  {
    // The differential fuzzer's seed 20261210, program 1065: a map lookup's nullable integer, narrowed, was refused.
    name: 'a nullable integer narrowed to non-null is passed by value',
    source: `
export const small = hashMap<u32, u8>({ maxEntries: 4 });
/** @noinline */
function widen(a: u8) {
  return u64(a) + 1;
}
export const p = xdp(() => {
  small.update(1, 200);
  const v = small.lookup(1);
  if (v !== null) out.update(0, widen(v) + v);
  const w = small.lookup(2);
  out.update(1, w === null ? 7 : widen(w));
  return XdpAction.PASS;
});`,
    packets: [udp()],
    out: { 0: 401n, 1: 7n },
    subprograms: ['widen'],
  },
  {
    name: 'a subprogram calling helpers and maps, with early returns',
    source: `
export const seen = hashMap<u32, u64>({ maxEntries: 16 });
/** @noinline */
function count(key: u32, by: u32): u64 {
  if (key > 1000) return 0;
  seen.increment(key, by);
  const v = seen.lookup(key);
  if (v === null) return 1;
  return v;
}
export const p = xdp((ctx) => {
  const len = ctx.packet.length;
  out.update(0, count(len, 2));
  out.update(1, count(len + 1, 3));
  out.update(2, count(5000, 1));
  return XdpAction.PASS;
});`,
    packets: [udp(), udp(), udp([7])],
    subprograms: ['count'],
  },
  {
    name: 'a subprogram that moves the packet start: the caller reloads its packet bounds',
    source: `
/** @noinline */
function pop(ctx: XdpContext): i64 {
  return bpf.xdpAdjustHead(ctx, EthHdr.size);
}
export const p = xdp((ctx) => {
  const before = ctx.packet.length;
  if (pop(ctx) !== 0) return XdpAction.ABORTED;
  out.update(0, before - ctx.packet.length);
  const ip = ctx.packet.at(IpHdr, 0);
  if (ip === null) return XdpAction.DROP;
  out.update(1, ip.protocol);
  return XdpAction.PASS;
});`,
    packets: [udp()],
    out: { 0: 14n, 1: 17n },
    subprograms: ['pop'],
  },
  {
    name: 'the compiler calls a large function used in several places and inlines the rest',
    source: `
function hash(a: u32, b: u32, c: u32): u32 {
  let h: u32 = 2166136261;
  h = (h ^ a) * 16777619;
  h = (h ^ (a >> 8)) * 16777619;
  h = (h ^ b) * 16777619;
  h = (h ^ (b >> 8)) * 16777619;
  h = (h ^ c) * 16777619;
  h = (h ^ (c >> 8)) * 16777619;
  h = (h ^ (a >> 16)) * 16777619;
  h = (h ^ (b >> 16)) * 16777619;
  h = (h ^ (c >> 16)) * 16777619;
  if (h === 0) h = 1;
  return h;
}
function once(a: u32): u32 {
  let h: u32 = a;
  h = (h ^ 1) * 3; h = (h ^ 2) * 5; h = (h ^ 3) * 7; h = (h ^ 4) * 11; h = (h ^ 5) * 13; h = (h ^ 6) * 17;
  h = (h ^ 7) * 19; h = (h ^ 8) * 23; h = (h ^ 9) * 29; h = (h ^ 10) * 31; h = (h ^ 11) * 37;
  return h;
}
const small = (a: u32): u32 => a + 1;
export const p = xdp((ctx) => {
  const n = ctx.packet.length;
  out.update(0, hash(n, 1, 2));
  out.update(1, hash(small(n), 3, small(4)));
  out.update(2, hash(5, n, 6) + once(n));
  return XdpAction.PASS;
});`,
    packets: [udp(), udp([1])],
    subprograms: ['hash'],
  },
  {
    name: 'bpf.loop calls an arrow function with the index and a struct local until it returns 1',
    source: `
export interface Acc { sum: u64; last: u32; limit: u32 }
export const p = xdp((ctx) => {
  let acc!: Acc;
  acc.limit = ctx.packet.length;
  const calls = bpf.loop(100, (i, a) => {
    a.sum += i * i;
    a.last = i;
    return i >= a.limit ? 1 : 0;
  }, acc);
  out.update(0, acc.sum);
  out.update(1, acc.last);
  out.update(2, calls);
  out.update(3, bpf.loop(5, (i) => { out.increment(4, i); }));
  return XdpAction.PASS;
});`,
    packets: [udp(), udp([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56])],
    subprograms: ['p_loop', 'p_loop_2'],
  },
  {
    name: 'bpf.loop calls a module function; a true result stops, a count over 8388608 is -E2BIG',
    source: `
export interface Search { want: u32; found: u32; seen: u32 }
function probe(i: u32, s: Search): boolean {
  s.seen++;
  if (i * 7 % 64 === s.want) {
    s.found = i;
    return true;
  }
  return false;
}
export const p = xdp((ctx) => {
  let s!: Search;
  s.want = ctx.packet.length;
  s.found = 999;
  out.update(0, bpf.loop(64, probe, s));
  out.update(1, s.found);
  out.update(2, s.seen);
  out.update(3, bpf.loop(8388609, probe, s));
  return XdpAction.PASS;
});`,
    packets: [udp(), udp([1]), udp([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17])],
    subprograms: ['probe'],
  },
  {
    name: '@inline keeps a large function called from several places inline',
    source: `
/** @inline */
function hash(a: u32, b: u32): u32 {
  let h: u32 = 2166136261;
  h = (h ^ a) * 16777619; h = (h ^ (a >> 8)) * 16777619; h = (h ^ (a >> 16)) * 16777619;
  h = (h ^ b) * 16777619; h = (h ^ (b >> 8)) * 16777619; h = (h ^ (b >> 16)) * 16777619;
  h = (h ^ a) * 16777619; h = (h ^ (a >> 8)) * 16777619; h = (h ^ (a >> 16)) * 16777619;
  return h;
}
export const p = xdp((ctx) => {
  out.update(0, hash(ctx.packet.length, 1));
  out.update(1, hash(2, ctx.packet.length));
  return XdpAction.PASS;
});`,
    packets: [udp()],
    subprograms: [],
  },
];

describe('dsl bpf-to-bpf calls', function () {
  this.timeout(60_000);
  for (const c of CASES) {
    describe(c.name, () => {
      const source = HEAD + c.source;
      it(`has ${c.subprograms.length ? `the subprograms ${c.subprograms.join(', ')}` : 'no subprogram'}, and the interpreter agrees with the evaluator`, () => {
        const mod = compileSource(source);
        const prog = mod.programs.find((p) => p.name === 'p')!;
        expect((prog.subprograms ?? []).map((s) => s.name).sort()).to.deep.equal([...c.subprograms].sort());
        expect(prog.instructions.some((ins) => isCall(ins) || isFuncAddress(ins))).to.equal(c.subprograms.length > 0);
        const ev = evalSequence(source, {}, 'p', c.packets);
        const interp = interpSequence(mod, 'p', c.packets);
        expect(interp).to.deep.equal(ev);
        if (c.out) expect(interp.maps.out).to.deep.equal(outMap(c.out));
        if (c.maps) for (const [name, entries] of Object.entries(c.maps)) expect(interp.maps[name]).to.deep.equal(entries);
      });
      it('the kernel agrees (BPF_PROG_TEST_RUN)', function () {
        needKernel(this);
        const mod = compileSource(source);
        expect(kernelSequence(mod, 'p', c.packets)).to.deep.equal(evalSequence(source, {}, 'p', c.packets));
      });
    });
  }

  describe('objects', () => {
    // Two programs call the same functions: .text holds one copy of each.
    const source = `${HEAD}
/** @noinline */
function lengthPlus(ctx: XdpContext, k: u32): u32 { return ctx.packet.length + k; }
/** @noinline */
function twice(x: u32): u32 { return x * 2; }
export const a = xdp((ctx) => {
  out.update(0, twice(lengthPlus(ctx, 1)));
  return XdpAction.PASS;
});
export const b = xdp((ctx) => {
  out.update(1, twice(lengthPlus(ctx, 2)) + twice(3));
  bpf.loop(3, (i) => { out.increment(2, twice(i)); });
  return XdpAction.PASS;
});
`;
    const object = objectFileOf(source);

    it('puts each subprogram once in .text as a static function, called through R_BPF_64_32 against .text', () => {
      const elf = readElf(writeObject(compileSource(source)));
      const text = elf.sections.find((s) => s.name === '.text')!;
      const funcs = elf.symbols.filter((s) => s.sectionIndex === text.index && s.type === 2).map((s) => [s.name, s.binding]);
      expect(funcs.sort()).to.deep.equal([['b_loop', 0], ['lengthPlus', 0], ['twice', 0]]);
      const xdpSection = elf.sections.find((s) => s.name === 'xdp')!;
      const calls = elf.relocationsFor(xdpSection.index).flatMap((r) => r.relocations).filter((r) => r.type === 10);
      expect(calls.length).to.equal(5);
      for (const r of calls) expect(elf.symbols[r.symbolIndex]!.name).to.equal('.text');
      // The callback's address: an lddw with R_BPF_64_64 against .text; the callback calls twice from .text.
      const addresses = elf.relocationsFor(xdpSection.index).flatMap((r) => r.relocations).filter((r) => r.type === 1 && elf.symbols[r.symbolIndex]!.name === '.text');
      expect(addresses.length).to.equal(1);
      expect(elf.relocationsFor(text.index).flatMap((r) => r.relocations).filter((r) => r.type === 10).length).to.equal(1);
    });

    it('bpftool prog loadall loads it, with the subprograms named in the translated code', function () {
      needKernel(this);
      if (!haveBpftool()) this.skip();
      const pin = `/sys/fs/bpf/${uniqueName('tscalls')}`;
      try {
        execFileSync('bpftool', ['prog', 'loadall', object.path, pin], { stdio: 'pipe' });
        const xlated = execFileSync('bpftool', ['prog', 'dump', 'xlated', 'pinned', `${pin}/b`, 'linum'], { encoding: 'utf8' });
        expect(xlated).to.match(/u32 twice\(u32 x\):/);
        expect(xlated).to.include('return ctx.packet.length + k;');
        expect(xlated).to.match(/i64 b_loop\(u32 i\):/);
      } finally {
        rmSync(pin, { recursive: true, force: true });
      }
    });

    it("tsbpf's ELF loader loads it and each program behaves as the directly loaded module", function () {
      needKernel(this);
      const mod = compileSource(source);
      const coll = loadCollection(parseObject(writeObject(mod)));
      try {
        for (const name of ['a', 'b']) {
          const pkts = [udp(), udp([1, 2, 3, 4])];
          const retvals = pkts.map((p) => coll.programs.get(name)!.testRun({ data: p }).retval);
          expect(retvals).to.deep.equal(kernelSequence(mod, name, pkts).retvals);
        }
        const entries = Object.fromEntries([...coll.maps.get('out')!].filter(([, v]) => v.some((x) => x !== 0)).map(([k, v]) => [Buffer.from(k).toString('hex'), Buffer.from(v).toString('hex')]));
        expect(entries).to.deep.equal(outMap({ 0: 2n * (46n + 1n), 1: 2n * (46n + 2n) + 6n, 2: 2n * 6n }));
      } finally {
        for (const p of coll.programs.values()) p.close();
        for (const m of coll.maps.values()) m.close();
      }
    });
  });

  it("nested subprograms are placed depth first, as libbpf and tsbpf's ELF loader place them: the program tag is the same either way", function () {
    needKernel(this);
    // p calls f then g, f calls h: libbpf's order is p, f, h, g (breadth first would be p, f, g, h).
    const mod = compileSource(`${HEAD}
/** @noinline */
function h(x: u32): u32 { return x + 3; }
/** @noinline */
function f(x: u32): u32 { return h(x) * 2; }
/** @noinline */
function g(x: u32): u32 { return x ^ 5; }
export const p = xdp((ctx) => { out.update(0, f(ctx.packet.length) + g(ctx.packet.length)); return XdpAction.PASS; });
`);
    expect(mod.programs[0]!.subprograms!.map((sp) => sp.name)).to.deep.equal(['f', 'h', 'g']);
    const direct = loadCompiledModule(mod, { only: ['p'] });
    const coll = loadCollection(parseObject(writeObject(mod)));
    try {
      expect(coll.programs.get('p')!.info().tag).to.equal(direct.programs.get('p')!.info().tag);
    } finally {
      direct.close();
      for (const x of coll.programs.values()) x.close();
      for (const m of coll.maps.values()) m.close();
    }
  });

  describe('limits and refusals', () => {
    const codes = (src: string) => diagnosticsOf(HEAD + src).map((d) => `${d.line - 3}:${d.column} ${d.code}`);
    it('@noinline on a function with a nullable parameter is TSBPF_NOINLINE at the call', () => {
      expect(codes(`
/** @noinline */
function f(x: u32 | null): u32 { return x ?? 0; }
export const p = xdp(() => f(3));`)).to.deep.equal(['4:28 TSBPF_NOINLINE']);
    });
    it('recursion through a subprogram is TSBPF_RECURSION', () => {
      expect(codes(`
/** @noinline */
function f(x: u32): u32 { return x > 0 ? g(x - 1) : 0; }
function g(x: u32): u32 { return f(x); }
export const p = xdp(() => f(3));`).map((s) => s.split(' ')[1])).to.include('TSBPF_RECURSION');
    });
    const lifetime = `
export interface V { a: u64; b: u64 }
export const vals = hashMap<u32, V>({ maxEntries: 4 });
`;
    it("a map value the callee may free is released in the caller too (TSBPF_USE_AFTER_RELEASE at the caller's use)", () => {
      expect(codes(`${lifetime}
/** @noinline */
function drop(k: u32): void { vals.delete(k); }
export const p = xdp(() => {
  const v = vals.lookup(1);
  if (v === null) return 1;
  drop(1);
  return u32v(v.a);
});
const u32v = (x: u64): u32 => x > 9 ? 9 : 0;`).map((s) => s.split(' ')[1])).to.deep.equal(['TSBPF_USE_AFTER_RELEASE']);
    });
    it('a reference passed in ends in the callee at what the callee releases (TSBPF_USE_AFTER_RELEASE in the callee)', () => {
      expect(codes(`${lifetime}
/** @noinline */
function bump(v: V, k: u32): void { vals.delete(k); v.a += 1; }
export const p = xdp(() => {
  const v = vals.lookup(1);
  if (v === null) return 1;
  bump(v, 1);
  return 2;
});`).map((s) => s.split(' ')[1])).to.deep.equal(['TSBPF_USE_AFTER_RELEASE']);
    });
    it('a bpf.loop callback that reads a local of the program is TSBPF_CLOSURE', () => {
      expect(codes(`
export const p = xdp((ctx) => {
  const len = ctx.packet.length;
  bpf.loop(4, (i) => { out.update(i, len); });
  return 2;
});`).map((s) => s.split(' ')[1])).to.deep.equal(['TSBPF_CLOSURE']);
    });
    it("bpf.loop's ctx must be stack memory, and its callback has no program context (TSBPF_HELPER_ARG)", () => {
      expect(codes(`
export interface C { n: u64 }
export const cs = arrayMap<C>({ maxEntries: 1 });
function usesCtx(i: u32, c: C): void { c.n += i; }
export const p = xdp(() => {
  const c = cs.lookup(0);
  if (c === null) return 1;
  bpf.loop(4, usesCtx, c);
  return 2;
});`)).to.deep.equal(['8:24 TSBPF_HELPER_ARG']);
      expect(codes(`
export const p = xdp((ctx) => {
  bpf.loop(4, (i) => { out.update(i, length(ctx)); });
  return 2;
});
function length(c: XdpContext): u32 { return c.packet.length; }`).map((s) => s.split(' ')[1])).to.include('TSBPF_CLOSURE');
    });
    it("a function making a tail call below 256 bytes of callers' frames: TSBPF_STACK when forced, inlined when chosen (and it runs)", function () {
      const source = `${HEAD}
import { progArray } from 'tsbpf/dsl';
export interface Mid { a: u64; b: u64; c: u64; d: u64; e: u64; f: u64; g: u64; h: u64; i: u64; j: u64; k: u64; l: u64; m: u64; n: u64; o: u64; p: u64; q: u64; r: u64; s: u64; t: u64; u: u64; v: u64; w: u64; x: u64; y: u64; z: u64; aa: u64; bb: u64; cc: u64; dd: u64; ee: u64; ff: u64 }
export const mids = arrayMap<Mid>({ maxEntries: 1 });
export const drop = xdp(() => XdpAction.DROP);
export const jumps = progArray<XdpContext>({ programs: [drop], maxEntries: 2 });
function jump(ctx: XdpContext, x: u32): u64 {
  let h: u64 = x;
  h = h * 31 + 1; h = h * 31 + 2; h = h * 31 + 3; h = h * 31 + 4; h = h * 31 + 5; h = h * 31 + 6;
  h = h * 31 + 7; h = h * 31 + 8; h = h * 31 + 9; h = h * 31 + 10; h = h * 31 + 11; h = h * 31 + 12;
  if (h % 1000 === 1) jumps.tailCall(ctx, 1);
  return h;
}
export const p = xdp((ctx) => {
  let big!: Mid;
  big.a = jump(ctx, ctx.packet.length);
  big.b = jump(ctx, 3);
  mids.update(0, big);
  out.update(0, big.a + big.b);
  return XdpAction.PASS;
});`;
      const mod = compileSource(source);
      expect(mod.programs.find((x) => x.name === 'p')!.subprograms).to.equal(undefined);
      const forced = diagnosticsOf(source.replace('function jump', '/** @noinline */\nfunction jump'));
      expect(forced.map((d) => d.code)).to.deep.equal(['TSBPF_STACK']);
      expect(forced[0]!.message).to.include('jump makes a tail call');
      // The evaluator has no prog arrays: the interpreter and the kernel agree, and the value is the hashes' sum.
      const pkts = [udp(), udp([1, 2])];
      const interp = interpSequence(mod, 'p', pkts);
      const hash = (x: bigint) => { let h = x; for (let k = 1n; k <= 12n; k++) h = BigInt.asUintN(64, h * 31n + k); return h; };
      expect(interp.maps.out).to.deep.equal(outMap({ 0: BigInt.asUintN(64, hash(BigInt(udp([1, 2]).length)) + hash(3n)) }));
      if (kernelOk()) expect(kernelSequence(mod, 'p', pkts)).to.deep.equal(interp);
    });
    it('frames that together exceed 512 bytes of stack are TSBPF_STACK at the call that exceeds it', () => {
      expect(codes(`
export const bigs = arrayMap<Big>({ maxEntries: 1 });
export interface Big { a: u64; b: u64; c: u64; d: u64; e: u64; f: u64; g: u64; h: u64; i: u64; j: u64; k: u64; l: u64; m: u64; n: u64; o: u64; p: u64; q: u64; r: u64; s: u64; t: u64; u: u64; v: u64; w: u64; x: u64; y: u64; z: u64; aa: u64; bb: u64; cc: u64; dd: u64 }
/** @noinline */
function inner(x: u32): u64 { let b!: Big; b.a = x; bigs.update(0, b); return b.a; }
/** @noinline */
function outer(x: u32): u64 { let b!: Big; b.b = x; bigs.update(0, b); return inner(x) + b.b; }
export const p = xdp((ctx) => { let b!: Big; b.c = 1; bigs.update(0, b); out.update(0, outer(ctx.packet.length)); return 2; });`).map((s) => s.split(' ')[1])).to.deep.equal(['TSBPF_STACK']);
    });
  });
});
