/**
 * Invalid modules: each must be answered by its diagnostic code at the
 * position marked `⟨⟩` in the source (the marker is removed before compiling).
 */
import { expect } from 'chai';
import { diagnosticsOf, MODULE_DIR } from './support/harness.js';

const HEAD = `import { xdp, tracepoint, kprobe, hashMap, arrayMap, ringBuf, rodata, global, range, bpf, htons, u8, u32, type u64, type i64, XdpAction } from 'tsbpf/dsl';
import { EthHdr, IpHdr } from 'tsbpf/dsl/net';
export const m = hashMap<u32, u64>({ maxEntries: 4 });
`;

interface Bad {
  name: string;
  code: string;
  /** Module text after HEAD; ⟨⟩ marks where the diagnostic must point. */
  source: string;
  /** Compile the source alone, without the shared imports. */
  noHead?: boolean;
}

const prog = (body: string) => `export const p = xdp((ctx) => {\n${body}\n});`;

const bad: Bad[] = [
  { name: 'float literal', code: 'TSBPF_FLOAT', source: prog('const x = ⟨⟩1.5;\nreturn 2;') },
  { name: 'string outside printk', code: 'TSBPF_STRING', source: prog('const s = ⟨⟩"hello";\nreturn 2;') },
  { name: 'template string', code: 'TSBPF_STRING', source: prog('const n = 1;\nconst s = ⟨⟩`n=${n}`;\nreturn 2;') },
  { name: 'array literal (heap)', code: 'TSBPF_HEAP', source: prog('const a = ⟨⟩[1, 2, 3];\nreturn 2;') },
  { name: 'new expression (heap)', code: 'TSBPF_HEAP', source: prog('const d = ⟨⟩new Uint8Array(4);\nreturn 2;') },
  { name: 'object literal without struct type', code: 'TSBPF_OBJECT', source: prog('const o = ⟨⟩{ a: 1 };\nreturn 2;') },
  { name: 'try/catch', code: 'TSBPF_EXCEPTION', source: prog('⟨⟩try { return 1; } catch { return 2; }') },
  { name: 'throw', code: 'TSBPF_EXCEPTION', source: prog('if (ctx.packet.length > 10) ⟨⟩throw 1;\nreturn 2;') },
  { name: 'while loop without a provable bound', code: 'TSBPF_LOOP_BOUND', source: prog('let i: u32 = 0;\nwhile (⟨⟩i < ctx.packet.length) i++;\nreturn 2;') },
  { name: 'classic for loop that does not step its variable', code: 'TSBPF_LOOP_BOUND', source: prog('for (let i = 0; i < 3; ⟨⟩i = 2) {}\nreturn 2;') },
  { name: 'loop variable assigned in the condition', code: 'TSBPF_LOOP_BOUND', source: prog('let n: u32 = 0;\nwhile (n < 10 && (⟨⟩n = 0) === 0) n++;\nreturn n;') },
  { name: 'for variable assigned in the condition', code: 'TSBPF_LOOP_BOUND', source: prog('let s: u32 = 0;\nfor (let i = 0; i < 10 && (⟨⟩i = 0) === 0; i++) s++;\nreturn s;') },
  { name: 'for…in', code: 'TSBPF_LOOP', source: prog('const o = { a: 1 };\n⟨⟩for (const k in o) {}\nreturn 2;') },
  { name: 'for-of over something else', code: 'TSBPF_LOOP', source: prog('const xs = [1];\nfor (const x of ⟨⟩xs) {}\nreturn 2;') },
  { name: 'range bound not constant', code: 'TSBPF_RANGE_BOUND', source: prog('for (const i of ⟨⟩range(ctx.packet.length)) {}\nreturn 2;') },
  { name: 'recursion', code: 'TSBPF_RECURSION', source: `function f(n: u32): u32 { return n === 0 ? 0 : ⟨⟩f(n - 1); }\n${prog('return f(3);')}` },
  { name: 'closure over mutable module state', code: 'TSBPF_CLOSURE_MUTABLE', source: `let hits = 0;\n${prog('return ⟨⟩hits;')}` },
  { name: 'class declaration', code: 'TSBPF_CLASS', source: prog('⟨⟩class A {}\nreturn 2;') },
  { name: 'this', code: 'TSBPF_CLASS', source: `export const p = xdp(function (ctx) {\nreturn ⟨⟩this.x;\n});` },
  { name: 'await', code: 'TSBPF_ASYNC', source: `async function g() { return 1; }\nexport const p = xdp((ctx) => {\nconst v = ⟨⟩await g();\nreturn 2;\n});` },
  { name: 'nested function', code: 'TSBPF_NESTED_FUNCTION', source: prog('⟨⟩function inner() { return 1; }\nreturn 2;') },
  { name: 'literal out of range for its type', code: 'TSBPF_LITERAL_RANGE', source: prog('const x: u8 = ⟨⟩300;\nreturn x;') },
  { name: 'implicit narrowing', code: 'TSBPF_NARROWING', source: prog('const big: u64 = bpf.ktimeNs();\nconst small: u32 = ⟨⟩big;\nreturn small;') },
  { name: 'division by constant zero', code: 'TSBPF_DIV_ZERO', source: prog('const x: u32 = ctx.packet.length;\nreturn ⟨⟩x / 0;') },
  { name: 'helper not allowed in program type', code: 'TSBPF_HELPER_PROGRAM_TYPE', source: prog('const c = ⟨⟩bpf.currentComm;\nreturn 2;').replace('⟨⟩bpf.currentComm;', '0;\nconst pid = ⟨⟩bpf.pid();') },
  { name: 'unknown tracepoint field', code: 'TSBPF_TP_FIELD', source: `export const t = tracepoint('syscalls/sys_enter_execve', (ctx) => {\nreturn u32(⟨⟩ctx.nosuchfield);\n});` },
  { name: 'tracepoint integer field declared as a kernel pointer', code: 'TSBPF_TP_FIELD', noHead: true, source: `import { tracepoint, type Ptr } from 'tsbpf/dsl';\nimport type { sock } from 'tsbpf/dsl/kernel';\nexport const t = tracepoint<{ family: Ptr<sock> }>('sock/inet_sock_set_state', (ctx) => {\nreturn ⟨⟩ctx.family.sk_mark;\n});` },
  { name: 'tracepoint name without group', code: 'TSBPF_TRACEPOINT', source: `export const t = tracepoint(⟨⟩'sys_enter_execve', (ctx) => 0);` },
  { name: 'stack over 512 bytes', code: 'TSBPF_STACK', source: `export interface Big { a: u64; b: u64; c: u64; d: u64; e: u64; f: u64; g: u64; h: u64 }
export const big = hashMap<Big, u64>({ maxEntries: 4 });
export const p = xdp(⟨⟩(ctx) => {
${Array.from({ length: 9 }, (_, i) => `big.update({ a: ${i}, b: 0, c: 0, d: 0, e: 0, f: 0, g: 0, h: 0 }, ${i});`).join('\n')}
return 2;
});` },
  { name: 'map without type arguments', code: 'TSBPF_MAP_TYPE', source: `export const bad = ⟨⟩arrayMap({ maxEntries: 4 });\n${prog('bad.lookup(0);\nreturn 2;')}` },
  { name: 'map option not constant', code: 'TSBPF_MAP_OPTIONS', source: `const n = Math.random();\nexport const bad = arrayMap<u64>({ maxEntries: ⟨⟩n });\n${prog('bad.lookup(0);\nreturn 2;')}` },
  { name: 'ring buffer size not a power of two', code: 'TSBPF_MAP_OPTIONS', source: `export const rb = ringBuf<u64>({ size: ⟨⟩5000 });\n${prog('rb.output(1);\nreturn 2;')}` },
  { name: 'writing an element of a rodata array', code: 'TSBPF_RODATA_WRITE', source: `import type { FixedArray, u16 } from 'tsbpf/dsl';\nexport const ports = rodata<FixedArray<u16, 4>>([53]);\n${prog('⟨⟩ports.get()[1] = 5353;\nreturn 2;')}` },
  { name: 'writing rodata', code: 'TSBPF_RODATA_WRITE', source: `export const cfg = rodata<u32>(1);\n${prog('⟨⟩cfg.set(2);\nreturn 2;')}` },
  { name: 'struct field of unsupported type', code: 'TSBPF_TYPE', source: `export interface Ev { name: ⟨⟩string }\nexport const evs = hashMap<u32, Ev>({ maxEntries: 4 });\n${prog('evs.lookup(1);\nreturn 2;')}` },
  { name: 'no programs exported', code: 'TSBPF_NO_PROGRAMS', source: `⟨⟩export const only = 1;`, noHead: true },
  { name: 'TypeScript type error', code: 'TS2322', source: prog('const x: u32 = 1;\nconst y: XdpAction = 3;\nconst ⟨⟩z: boolean = x;\nreturn 2;').replace('const y: XdpAction = 3;\n', '') },
  { name: 'unknown map method', code: 'TS2339', source: prog('m.⟨⟩frobnicate(1);\nreturn 2;') },
  { name: 'possibly null lookup used directly', code: 'TS18047', source: prog('const v = m.lookup(1);\nreturn u32(⟨⟩v + 1);') },
  { name: 'constant array index out of range', code: 'TSBPF_INDEX_RANGE', source: prog('const eth = ctx.packet.at(EthHdr, 0);\nif (eth === null) return 0;\nreturn eth.dst[⟨⟩6];') },
  { name: 'null compared with an integer', code: 'TSBPF_NULL_COMPARE', source: prog('const x: u32 = ctx.packet.length;\nif (⟨⟩x === null) return 1;\nreturn 2;') },
  { name: 'optional chaining', code: 'TSBPF_OPTIONAL', source: prog('const ip = ctx.packet.at(IpHdr, 14);\nreturn u32(⟨⟩ip?.ttl);') },
  { name: 'destructured context', code: 'TSBPF_DESTRUCTURE', source: `export const p = xdp((⟨⟩{ packet }) => 2);` },
  { name: 'ctx.ret outside return probes', code: 'TSBPF_RET', source: `export const k = kprobe('do_sys_open', (ctx) => u32(⟨⟩ctx.ret()));` },
  { name: 'argument index not constant', code: 'TSBPF_ARG_INDEX', source: `export const k = kprobe('do_sys_open', (ctx) => {\nconst n: u32 = 1;\nlet i: u32 = n;\ni += 1;\nreturn u32(ctx.arg(⟨⟩i));\n});` },
  { name: 'packet in a probe', code: 'TS2339', source: `export const k = kprobe('do_sys_open', (ctx) => {\nreturn ctx.⟨⟩packet.length;\n});` },
  { name: 'constant shift wider than the type', code: 'TSBPF_SHIFT_RANGE', source: prog('const x: u32 = ctx.packet.length;\nreturn ⟨⟩x << 40;') },
  { name: 'ring buffer event not submitted on every path', code: 'TSBPF_RINGBUF_LEAK', source: `export interface Ev { n: u32 }\nexport const rb = ringBuf<Ev>({ size: 4096 });\n${prog('const ev = ⟨⟩rb.reserve();\nif (ev === null) return 0;\nev.n = 1;\nif (ctx.packet.length > 100) return 1;\nrb.submit(ev);\nreturn 2;')}` },
  { name: 'var declarations', code: 'TSBPF_VAR', source: prog('⟨⟩var x = 1;\nreturn 2;') },
];

function locate(source: string): { text: string; line: number; column: number } {
  const at = source.indexOf('⟨⟩');
  if (at < 0) throw new Error('no marker');
  const before = source.slice(0, at);
  const line = before.split('\n').length;
  const column = at - before.lastIndexOf('\n');
  return { text: source.replace('⟨⟩', ''), line, column };
}

describe('dsl diagnostics: invalid modules', () => {
  for (const b of bad) {
    it(`${b.name} → ${b.code}`, () => {
      const { text, line, column } = locate((b.noHead ? '' : HEAD) + b.source);
      const diags = diagnosticsOf(text);
      const hit = diags.find((d) => d.code === b.code);
      expect(hit, `expected ${b.code}; got ${diags.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`).join(' | ') || 'no diagnostics'}`).to.not.equal(undefined);
      expect({ file: hit!.file, line: hit!.line, column: hit!.column }).to.deep.equal({ file: `${MODULE_DIR}/m.bpf.ts`, line, column });
    });
  }

  it('collects several diagnostics in one run', () => {
    const diags = diagnosticsOf(`${HEAD}${prog('const a = 1.5;\nconst s = "x";\nconst o = [1];\nreturn 2;')}`);
    expect(diags.map((d) => d.code)).to.include.members(['TSBPF_FLOAT', 'TSBPF_STRING', 'TSBPF_HEAP']);
  });
});

/**
 * One mistake, one diagnostic (issue 9 item 5): each module below has a
 * single root cause, used several times; exactly one diagnostic names it,
 * at ⟨⟩, and its later uses add none.
 */
const single: Bad[] = [
  {
    name: 'a shorthand property naming module-level mutable state',
    code: 'TSBPF_CLOSURE_MUTABLE',
    source: `let vlan = 0;
export interface K { vlan: u32; proto: u32 }
export const ks = hashMap<K, u64>({ maxEntries: 4 });
${prog('const proto: u32 = 1;\nks.increment({ ⟨⟩vlan, proto });\nconst k: K = { vlan, proto };\nks.increment(k);\nreturn u32(vlan);')}`,
  },
  {
    name: 'a module-level const computed in Node, used in two programs',
    code: 'TSBPF_CLOSURE',
    source: `const SEED = Date.now();
${prog('const h = u32(ctx.packet.length) * ⟨⟩SEED;\nreturn u32(h >> 3) + u32(SEED);')}
export const q = xdp(() => u32(SEED));`,
  },
  {
    name: 'a local whose initializer is wrong, used three times',
    code: 'TSBPF_NARROWING',
    source: `import { Ipv6Hdr } from 'tsbpf/dsl/net';
${prog('const ip6 = ctx.packet.at(Ipv6Hdr, 14);\nif (ip6 === null) return 0;\nlet nh: u8 = ⟨⟩htons(ip6.payloadLen);\nif (nh === 0) nh = 1;\nreturn nh + nh;')}`,
  },
  {
    name: 'a mistake inside a module-level constant expression, reported where it is written',
    code: 'TSBPF_FLOAT',
    source: `const OFF = EthHdr.size + ⟨⟩1.5;
${prog('const ip = ctx.packet.at(IpHdr, OFF);\nif (ip === null) return OFF;\nreturn 2;')}`,
  },
  {
    name: 'a C-style for loop whose bound is not a constant',
    code: 'TSBPF_LOOP_BOUND',
    source: prog('let s: u32 = 0;\nconst n: u32 = ctx.packet.length;\nfor (let i: u32 = 0; ⟨⟩i < n; i++) s += i;\nreturn s;'),
  },
  {
    name: 'a map factory without type arguments, used twice',
    code: 'TSBPF_MAP_TYPE',
    source: `export const bad = ⟨⟩hashMap({ maxEntries: 4 });\n${prog('bad.increment(1);\nconst v = bad.lookup(1);\nreturn v === null ? 1 : 2;')}`,
  },
  {
    name: 'a method maps do not have: TypeScript names it, the compiler adds nothing',
    code: 'TS2339',
    source: prog('m.⟨⟩frobnicate(1);\nreturn 2;'),
  },
  {
    name: 'a missing argument: TypeScript names it, the compiler adds nothing',
    code: 'TS2554',
    source: prog('m.⟨⟩update(1);\nreturn 2;'),
  },
  {
    name: 'an unknown name: TypeScript names it, the compiler adds nothing',
    code: 'TS2304',
    source: prog('const x = ⟨⟩foo + 1;\nreturn x + x;'),
  },
  {
    name: 'this: the language has no such thing, its own code replaces TypeScript\'s',
    code: 'TSBPF_CLASS',
    source: `export const p = xdp(function (ctx) {\nreturn ⟨⟩this.x;\n});`,
  },
  {
    name: 'var, whose name is then used',
    code: 'TSBPF_VAR',
    source: prog('⟨⟩var n = 1;\nn = n + 1;\nreturn n;'),
  },
];

describe('dsl diagnostics: one diagnostic per mistake', () => {
  for (const b of single) {
    it(`${b.name} → one ${b.code}`, () => {
      const { text, line, column } = locate((b.noHead ? '' : HEAD) + b.source.replace(/import \{ Ipv6Hdr \} from 'tsbpf\/dsl\/net';\n/, ''));
      const src = b.source.includes('Ipv6Hdr') ? text.replace("import { EthHdr, IpHdr } from 'tsbpf/dsl/net';", "import { EthHdr, IpHdr, Ipv6Hdr } from 'tsbpf/dsl/net';") : text;
      const diags = diagnosticsOf(src);
      const shown = diags.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`);
      expect(shown, shown.join(' | ')).to.have.length(1);
      expect({ code: diags[0]!.code, file: diags[0]!.file, line: diags[0]!.line, column: diags[0]!.column }, shown[0]).to.deep.equal({ code: b.code, file: `${MODULE_DIR}/m.bpf.ts`, line, column });
    });
  }
});
