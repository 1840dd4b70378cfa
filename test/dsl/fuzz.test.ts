/**
 * Random TypeScript into the compiler: it must answer with a module or with
 * diagnostics, never crash. Random well-formed programs from a small
 * grammar must also be accepted by the kernel verifier (when they compile),
 * and agree with the interpreter.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { CompileError } from '../../src/dsl/compiler/diagnostics.js';
import { kernelUnavailableReason } from '../support/kernel.js';
import { compileSource, interpSequence, kernelSequence, packet } from './support/harness.js';

const HEAD = `import { xdp, hashMap, arrayMap, range, bpf, u8, u16, u32, u64, i32, i64, htons, ntohs, XdpAction, type FixedArray } from 'tsbpf/dsl';
import { EthHdr, IpHdr, UdpHdr } from 'tsbpf/dsl/net';
export const m = arrayMap<u64>({ maxEntries: 4 });
export interface K { a: u32; b: u8 }
export const h = hashMap<K, u64>({ maxEntries: 64 });
function clampf(v: u32): u32 { return v > 1000 ? 1000 : v; }
`;

/** Compiles; returns the module, or undefined when the answer was diagnostics. Anything else fails the test. */
function compileOrDiagnose(text: string) {
  try {
    return compileSource(text);
  } catch (e) {
    if (e instanceof CompileError) {
      for (const d of e.diagnostics) {
        expect(d.code).to.match(/^(TSBPF_[A-Z_]+|TS\d+)$/);
        expect(d.code).to.not.equal('TSBPF_INTERNAL', d.message);
        expect(d.line).to.be.greaterThan(0);
      }
      return undefined;
    }
    throw e;
  }
}

const TOKENS = [
  'const', 'let', 'x', 'y', '=', '+', '-', '*', '/', '%', '<<', '>>', '&', '|', '^', '(', ')', '{', '}', '[', ']', ';', ',', '.', '?', ':',
  '===', '!==', '<', '>', '!', '~', '1', '0', '255', '1.5', '"s"', 'null', 'return', 'if', 'else', 'for', 'of', 'range(3)', 'while', 'new',
  'ctx', 'ctx.packet', '.at(IpHdr, 14)', 'm.lookup(0)', 'm.update(0, 1)', 'bpf.ktimeNs()', 'u8(', 'u32(', 'htons(', 'class', 'try', 'throw',
  'async', 'await', 'function', '=>', 'this', 'x++', 'switch', 'case', 'default', 'break', 'continue', '`t`', '[1,2]', '{a:1}', 'typeof',
];

const expr: fc.Memo<string> = fc.memo((n) => {
  const leaf = fc.oneof(
    fc.constantFrom('a', 'b', 'len', '1', '7', '255', '0x10', 'ip.ttl', 'ip.protocol', 'u32(ntohs(ip.totLen))'),
    fc.integer({ min: 0, max: 1000 }).map(String),
  );
  if (n <= 1) return leaf;
  return fc.oneof(
    leaf,
    fc.tuple(expr(n - 1), fc.constantFrom('+', '-', '*', '&', '|', '^', '<<', '>>'), expr(n - 1)).map(([l, o, r]) => `(${l} ${o} ${r})`),
    fc.tuple(expr(n - 1), expr(n - 1)).map(([l, r]) => `(${l} / (${r} | 1))`),
    fc.tuple(expr(n - 1), fc.constantFrom('<', '>', '===', '!=='), expr(n - 1), expr(n - 1), expr(n - 1)).map(([l, o, r, t, f]) => `(${l} ${o} ${r} ? ${t} : ${f})`),
    expr(n - 1).map((e) => `u32(u8(${e}))`),
  );
});

const statement: fc.Arbitrary<string> = fc.oneof(
  expr(3).map((e) => `a = u32(${e});`),
  expr(3).map((e) => `b = u32(b + ${e});`),
  expr(2).map((e) => `if (${e} > 100) { a = u32(a + 1); } else { b = u32(b ^ 3); }`),
  expr(2).map((e) => `for (const i of range(4)) { a = u32(a + i * ${e}); }`),
  expr(2).map((e) => `m.update(1, u64(${e}));`),
  expr(2).map((e) => `{ const v = m.lookup(2); if (v !== null) { b = u32(b + u32(v)); } m.update(2, u64(${e})); }`),
  expr(2).map((e) => `switch (u32(${e}) & 3) { case 0: a = 1; break; case 1: b = 2; default: a = u32(a + 5); }`),
  expr(2).map((e) => `{ const k: K = { a: u32(${e}), b: u8(a) }; h.increment(k, b); }`),
  expr(2).map((e) => `a = u32(i32(a) / -3 + i32(${e}) % 7);`),
  expr(2).map((e) => `b = clampf(u32(${e}) + b);`),
  expr(2).map((e) => `{ const h2 = ctx.packet.at(UdpHdr, u32(${e})); if (h2 !== null) { a = u32(a + ntohs(h2.dest)); } }`),
  expr(2).map((e) => `{ const v = m.lookup(u32(${e}) & 3); if (v !== null) { b = u32(b + u32(v)); v.valueOf(); } }`.replace(' v.valueOf();', '')),
  expr(2).map((e) => `for (const i of range(12)) { a = u32(a + i * u32(${e})); if (a > 5000) break; }`),
  expr(2).map((e) => `{ let buf!: FixedArray<u8, 16>; buf[u32(${e}) % 16] = u8(a); b = u32(b + buf[u32(a) % 16]); }`),
  expr(2).map((e) => `{ const eth = ctx.packet.at(EthHdr, 0); if (eth !== null) { b = u32(b + eth.src[u32(${e}) % 8]); } }`),
  expr(2).map((e) => `if (a > 5 && (b < 3 || u32(${e}) === 17)) { b = u32(b + u32(i64(a) >> 1)); }`),
);

const program = fc.array(statement, { minLength: 1, maxLength: 6 }).map((stmts) => `${HEAD}
export const p = xdp((ctx) => {
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null) return XdpAction.PASS;
  const len = ctx.packet.length;
  let a: u32 = len;
  let b: u32 = 3;
  ${stmts.join('\n  ')}
  return u32((a ^ b) & 0xff);
});
`);

describe('dsl fuzz', function () {

  it('random token soup only ever yields diagnostics', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 30 }), (tokens) => {
        compileOrDiagnose(`${HEAD}export const p = xdp((ctx) => {\n${tokens.join(' ')}\n});\n`);
      }),
      { numRuns: 40 },
    );
  });

  it('random statements inside and outside programs only ever yield diagnostics or modules', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 20 }), statement, (tokens, s) => {
        compileOrDiagnose(`${HEAD}${tokens.join(' ')}\nexport const p = xdp((ctx) => {\nlet a: u32 = 0; let b: u32 = 0; const ip = ctx.packet.at(IpHdr, 14); if (ip === null) return 0; const len = ctx.packet.length;\n${s}\nreturn a;\n});\n`);
      }),
      { numRuns: 40 },
    );
  });

  it('well-formed random programs compile, pass the verifier and match the interpreter', function () {
    const kernel = kernelUnavailableReason() === null;
    const pkts = [packet({ proto: 'udp' }), packet({ proto: 'tcp', ttl: 3 })];
    let compiled = 0;
    fc.assert(
      fc.property(program, (text) => {
        const mod = compileOrDiagnose(text);
        if (!mod) return;
        compiled++;
        const interp = interpSequence(mod, 'p', pkts);
        if (!kernel) return;
        loadCompiledModule(mod).close(); // throws DslVerifierError if the verifier rejects it
        expect(kernelSequence(mod, 'p', pkts)).to.deep.equal(interp);
      }),
      { numRuns: 30 },
    );
    expect(compiled).to.be.greaterThan(15);
  });
});
