/**
 * Disagreements the differential fuzzer found, shrunk, as regression tests:
 * each module runs in the reference evaluator, the interpreter and (as
 * root) the kernel; all must agree and give the value docs/language.md says.
 */
import { expect } from 'chai';
import { kernelUnavailableReason } from '../../support/kernel.js';
import { diagnosticsOf } from '../support/harness.js';
import { runAlone } from './fuzz.js';
import { layout, MODULE_IMPORTS, type PrintedUnit } from './print.js';
import { disagreement } from './run.js';

const PACKET = Uint8Array.from({ length: 40 }, (_, i) => i * 7);

/** The return values of `body` (an XDP program's body) run on the packets, checked to agree three ways. */
function r0s(body: string, decls = '', packets = [PACKET]): number[] {
  const u: PrintedUnit = { source: `${decls}\nexport const prog = xdp((ctx) => {\n${body}\n});\n`, program: 'prog', packets, maps: [], globals: [] };
  const r = runAlone(u, kernelUnavailableReason() === null);
  const d = disagreement(r);
  expect(d, d ? `${d.kind}: ${d.detail}` : '').to.equal(undefined);
  expect(r.eval.error, 'evaluator').to.equal(undefined);
  return r.eval.runs.map((x) => x.r0);
}

const r0 = (body: string, decls = '') => r0s(body, decls)[0];

describe('difffuzz regressions: integer semantics', function () {
  this.timeout(120_000);

  it('a shift has the promoted type of its left operand, whatever the amount (64-bit amounts once made it u64)', () => {
    const src = (s: string) => `${MODULE_IMPORTS}export const p = xdp((ctx) => {\n  const a: u64 = u64(ctx.packet.length);\n  const n: u32 = ctx.packet.length;\n  ${s}\n  return 0;\n});\n`;
    for (const s of ['let x: u32 = n << a;', 'let x: u32 = 64 << a;', 'let x: u32 = n >> ctx.packet.byte(0);', 'let x: u32 = n >>> a;']) {
      expect(diagnosticsOf(src(s)).map((d) => d.code), s).to.deep.equal([]);
    }
    expect(r0('const a: u64 = u64(ctx.packet.length);\n  const x = 1 << a;\n  return x < 0 ? 1 : 2;')).to.equal(2);
  });

  it('u8 and u16 operands are promoted to i32 (u8(0) - 1 is -1, not 0xffffffff)', () => {
    expect(r0('const z: u8 = u8(ctx.packet.length - 40);\n  return z - 1 < 0 ? 1 : 2;')).to.equal(1);
    expect(r0('const z: u16 = u16(ctx.packet.length);\n  const m = -z;\n  return m < 0 ? 1 : 2;')).to.equal(1);
    expect(r0('const z: u8 = u8(ctx.packet.length);\n  return (~z) < 0 ? 1 : 2;')).to.equal(1);
  });

  it('u32 with i64 computes in i64; u64 with i64 in u64', () => {
    expect(r0('const a: u32 = ctx.packet.length;\n  const b: i64 = -50;\n  return a + b < 0 ? 1 : 2;')).to.equal(1);
    expect(r0('const a: u64 = u64(ctx.packet.length);\n  const b: i64 = -50;\n  return a + b < 0 ? 1 : 2;')).to.equal(2);
  });

  it('>>> on a signed operand is logical in its promoted width', () => {
    expect(r0('const m: i8 = i8(ctx.packet.length - 41);\n  return m >>> 28;')).to.equal(15);
    expect(r0('let m: i32 = i32(ctx.packet.length) - 41;\n  m >>>= 28;\n  return m;')).to.equal(15);
  });

  it('unary minus of a typed constant is in the promoted type', () => {
    expect(r0('const m = -u8(5);\n  return m < 0 ? 1 : 2;')).to.equal(1);
  });

  it('a switch compares like === in the common type (u8 255 does not match case -1)', () => {
    expect(r0('const b: u8 = u8(ctx.packet.length + 215);\n  switch (b) {\n    case -1: return 1;\n    case 255: return 2;\n  }\n  return 3;')).to.equal(2);
  });

  it('a && b and a || b as values are a or b, as TypeScript gives them (not 0/1)', () => {
    expect(r0('let x0 = 1;\n  return (ntohs(x0) || x0);')).to.equal(256);
    expect(r0('for (const j0 of range(2, 16)) {\n    return ((j0 === j0) ? (j0 && j0) : j0);\n  }\n  return 0;')).to.equal(2);
    expect(r0('const n: u32 = ctx.packet.length;\n  return (n - 40) && 7;')).to.equal(0);
    expect(r0('const n: u32 = ctx.packet.length;\n  return (n - 40) || (n + 2);')).to.equal(42);
  });
});

describe('difffuzz regressions: constants the compiler folded are not constants of the language', function () {
  this.timeout(120_000);

  it('a division by an unrolled loop variable that is 0 divides as eBPF does, no TSBPF_DIV_ZERO', () => {
    expect(r0('let s: u32 = 0;\n  for (const j of range(3)) {\n    s += (10 / j) + (10 % j);\n  }\n  return s;')).to.equal(0 + 10 + 10 + 0 + 5 + 0);
  });

  it('a shift by a folded amount of the width or more is taken modulo the width (the verifier rejected w1 <<= 512)', () => {
    const decls = 'const f0 = (a0: i64, a1: u16) => {\n  return i32(htons(0x2));\n};';
    expect(r0('const x: i8 = i8(ctx.packet.length);\n  return (x << f0(0, 1)) === x ? 1 : 2;', decls)).to.equal(1);
    expect(r0('let s: u32 = 40;\n  const one: u32 = u32(ctx.packet.length) - 39;\n  return one << s;')).to.equal(256);
  });

  it('ntohs of a loop variable is folded, not a constant: a shift by it is taken modulo the width', () => {
    expect(r0('let s: u32 = 0;\n  for (const j0 of range(2)) {\n    s += (u32(j0) << ntohs(j0)) + j0;\n  }\n  return s;')).to.equal(2);
  });

  it('a folded packet offset outside 0…65535 - size is a header that is not there, not TSBPF_PACKET_OFFSET', () => {
    expect(r0('let n: u32 = 0;\n  for (const j of range(2)) {\n    const h = ctx.packet.at(UdpHdr, j - 1);\n    if (h !== null) n += 1;\n  }\n  return n;')).to.equal(1);
  });
});

describe('difffuzz regressions: the interpreter', function () {
  this.timeout(120_000);

  it('ringbuf output on a full ring is -EAGAIN, and the ring is full one byte before its size, as in the kernel', () => {
    const decls = 'export interface S0 { f0: u8; f1: i64; f2: u8; f3: u64; f4: u8 }\nconst ev = ringBuf<S0>({ size: 4096 });';
    expect(r0('let n: u32 = 0;\n  for (const j0 of range(100)) {\n    const r1 = ev.output({ f0: 0, f1: 0, f2: 0, f3: 0, f4: 0 });\n    if (r1 < 0) return r1 === -11 ? n : 1000;\n    n++;\n  }\n  return 2000;', decls)).to.equal(85);
  });

  it('an array update checks its flags before its index, as the kernel does (-EINVAL, not -E2BIG)', () => {
    expect(r0('const r0 = m0.update(1, 5, 3);\n  return r0;', 'const m0 = arrayMap<u8>({ maxEntries: 1 });')).to.equal(2 ** 32 - 22);
  });
});

describe('difffuzz regressions: helpers', function () {
  this.timeout(120_000);

  it('events.output(header) copies the header to the stack (the verifier: helper access to the packet is not allowed)', () => {
    const u: PrintedUnit = {
      source: `export interface S0 { f0: u8; f1: u16 }\nconst H0 = header<S0>('S0', 4);\nconst ev = ringBuf<S0>({ size: 4096 });\nexport const prog = xdp((ctx) => {\n  const h0 = ctx.packet.at(H0, 2);\n  if (h0 !== null) ev.output(h0);\n  return 0;\n});\n`,
      program: 'prog', packets: [PACKET], maps: [], globals: [], ring: { name: 'ev', struct: layout('S0', 'H0', [['f0', 'u8'], ['f1', 'u16']]) },
    };
    const r = runAlone(u, kernelUnavailableReason() === null);
    const d = disagreement(r);
    expect(d, d ? `${d.kind}: ${d.detail}` : '').to.equal(undefined);
    expect(r.eval.runs[0]!.events).to.deep.equal(['0e..1c23']);
  });
});

describe('difffuzz regressions: conditions', function () {
  this.timeout(120_000);

  it('an integer field used as a condition tests its value, not its reference (if (e.f0) was always true)', () => {
    const u: PrintedUnit = {
      source: `export interface S0 { f0: i8 }\nconst ev = ringBuf<S0>({ size: 4096 });\nexport const prog = xdp((ctx) => {\n  let x0 = ctx.packet.byte(4);\n  const e1 = ev.reserve();\n  if (e1 !== null) {\n    x0 -= x0;\n    e1.f0 = x0;\n    if (e1.f0) {\n      ev.submit(e1);\n    } else {\n      ev.discard(e1);\n    }\n  }\n  return 0;\n});\n`,
      program: 'prog', packets: [PACKET], maps: [], globals: [], ring: { name: 'ev', struct: layout('S0', 'H0', [['f0', 'i8']]) },
    };
    const r = runAlone(u, kernelUnavailableReason() === null);
    const d = disagreement(r);
    expect(d, d ? `${d.kind}: ${d.detail}` : '').to.equal(undefined);
    expect(r.eval.runs[0]!.events).to.deep.equal([]);
    expect(r0('const h = ctx.packet.at(UdpHdr, 0);\n  if (h === null) return 9;\n  h.check = 0;\n  return h.check ? 1 : (!h.check ? 2 : 3);')).to.equal(2);
  });
});

describe('difffuzz regressions: the evaluator', function () {
  this.timeout(120_000);

  it('ring-buffer events arrive in the order their space was reserved: one reserved before an output comes first', () => {
    const u: PrintedUnit = {
      source: `export interface S0 { f0: u8 }\nconst ev = ringBuf<S0>({ size: 4096 });\nexport const prog = xdp((ctx) => {\n  const e0 = ev.reserve();\n  if (e0 !== null) {\n    e0.f0 = 0;\n    ev.output({ f0: 0 });\n    e0.f0 = 1;\n    ev.submit(e0);\n  }\n  return 0;\n});\n`,
      program: 'prog', packets: [PACKET], maps: [], globals: [], ring: { name: 'ev', struct: layout('S0', 'H0', [['f0', 'u8']]) },
    };
    const r = runAlone(u, kernelUnavailableReason() === null);
    const d = disagreement(r);
    expect(d, d ? `${d.kind}: ${d.detail}` : '').to.equal(undefined);
    expect(r.eval.runs[0]!.events).to.deep.equal(['01', '00']);
  });
});

describe('difffuzz regressions: narrowing', function () {
  this.timeout(120_000);

  it('a value narrowed to a literal type by a case or an === is still read at run time, never folded (seed 20261207 program 1047)', () => {
    // TypeScript types ctx.packet.length as -2 inside `case -2:`; the case never runs, so a shift by it is no error.
    expect(r0('switch (ctx.packet.length) {\n    case -2: { const x: u32 = 1 << ctx.packet.length; return x; }\n    case 40: return ctx.packet.length + 1;\n  }\n  return 0;')).to.equal(41);
    expect(r0('const n: u32 = ctx.packet.length;\n  if (n === 3) return n << 30;\n  if (LIMIT === 7) return 1;\n  return 2;', 'const LIMIT: u32 = 9;')).to.equal(2);
  });
});

describe('difffuzz regressions: syntax errors', function () {
  this.timeout(120_000);

  it('a syntax error is reported alone, as tsc does: no type errors or TSBPF follow-ons from the tree TypeScript recovers (seed 20261205, batch 194)', () => {
    // `a << ((b > (c)) ? …` does not parse in TypeScript; its recovery once declared a local `UpdateFlags`, so every
    // `UpdateFlags.ANY` of the module became TS2440 and TSBPF_MEMBER.
    const src = `${MODULE_IMPORTS}const m = hashMap<u32, u32>({ maxEntries: 4 });\nexport const p = xdp((ctx) => {\n  const r = m.update(1, 2, UpdateFlags.ANY);\n  return r;\n});\nexport const q = xdp((ctx) => {\n  const a: u32 = ctx.packet.length;\n  const x = a << ((a > (a || a)) ? a : a);\n  return x + m.update(1, 2, UpdateFlags.NOEXIST);\n});\n`;
    const codes = diagnosticsOf(src).map((d) => d.code);
    expect(codes.length).to.be.greaterThan(0);
    expect(codes.filter((c) => !/^TS1\d{3}$/.test(c)), codes.join(' ')).to.deep.equal([]);
  });
});

describe('difffuzz regressions: control flow', function () {
  this.timeout(120_000);

  it('a return that constant folding makes ahead of an already merged return of the same value jumps to it (was a jump to itself; seed 20261207 program 3226)', () => {
    const decls = 'const m0 = hashMap<u8, u8>({ maxEntries: 1 });\nfunction f0() {\n  return u32(3);\n}';
    const body = 'switch (ctx.packet.byte(0)) {\n    case 0: {\n      return ((ntohs(0) !== 1) ? f0() : 0);\n    }\n    default: {\n      const v0 = m0.lookup(0);\n      if (v0 === null) return 3;\n    }\n  }\n  return 3;';
    const pkt = (b: number) => Uint8Array.from({ length: 14 }, (_, i) => (i === 0 ? b : 0));
    expect(r0s(body, decls, [pkt(1), pkt(0)])).to.deep.equal([3, 3]);
  });

  it('data + k is made from an earlier data + j only where that one ran on every path to it (was read where a branch had skipped it; seed 577215 programs 108, 727, 1498, 1735)', () => {
    const decls = "export interface S0 { f0: u8; }\nconst H0 = header<S0>('S0', 1);";
    const body = 'const h0 = ctx.packet.at(H0, 0);\n  if (h0 === null) return ctx.packet.byte(1);\n  const h1 = ctx.packet.at(H0, 0);\n  if (h1 === null) return 0;\n  return ctx.packet.length;';
    expect(r0s(body, decls, [new Uint8Array(14)])).to.deep.equal([14]);
  });
});
