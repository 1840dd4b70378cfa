/**
 * compiler: .bpf.ts modules through compile(). Inputs are token-level
 * mutations of real modules (examples, the DSL twins of the C tests, the
 * module examples of docs/language.md), splices between them, and modules
 * generated from a small grammar of the language (maps of several kinds,
 * ring buffer events, packet headers, loops, globals, CStr and fixed
 * arrays, with sizes from tiny to absurd). Every input must end as a
 * compiled module that the object writer takes, or as CompileError whose
 * diagnostics carry file:line:col and a code, never TSBPF_INTERNAL.
 */
import { dslRoot, nodeHost } from '../src/cli/dsl-host.js';
import { compile, type CompileHost } from '../src/dsl/compiler/compile.js';
import { CompileError } from '../src/dsl/compiler/diagnostics.js';
import { writeObject } from '../src/dsl/compiler/object.js';
import { dictionaryOf, mutateText, type Gen } from './random.js';
import { seedModules } from './seeds.js';
import { asText, FuzzFinding, type FuzzInput, type FuzzTarget, type Outcome } from './target.js';

const DIR = '/virtual/fuzz';
const ENTRY = `${DIR}/m.bpf.ts`;

const EXTRA_TOKENS = [
  'CStr<1000000>', 'CStr<4294967296>', 'FixedArray<u8, 100000>', 'FixedArray<u64, 0>', 'u128', 'bigint', 'any', 'never', 'unknown', 'as', 'satisfies',
  'import', 'export', 'from', "'tsbpf/dsl'", "'./other.js'", "'node:fs'", 'declare', 'namespace', 'enum', 'abstract', 'yield', 'delete', 'void',
  'maxEntries: 0', 'maxEntries: 4294967296', 'size: 3', 'bpf.probeRead', 'bpf.printk', 'ctx.args[7]', 'eval', 'arguments', '...', '?.', '??', '!',
];

let dictionary: string[] | undefined;

function dict(): string[] {
  dictionary ??= dictionaryOf(seedModules(), EXTRA_TOKENS);
  return dictionary;
}

/** Usually the ordinary value, sometimes an edge one. */
const odd = (g: Gen, usual: string, edges: string[]): string => (g.int(8) ? usual : g.pick(edges));

const INT = ['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64'];

function expr(g: Gen, depth: number): string {
  if (depth <= 0 || g.int(3) === 0) return g.pick(['a', 'b', 'len', '1', '7', '255', '0x10', '65535', '4294967295', 'ip.ttl', 'ip.protocol', 'u32(ntohs(ip.totLen))', String(g.int(1000)), 'bpf.ktimeNs()']);
  switch (g.int(6)) {
    case 0: return `(${expr(g, depth - 1)} ${g.pick(['+', '-', '*', '&', '|', '^', '<<', '>>', '/', '%'])} ${expr(g, depth - 1)})`;
    case 1: return `${g.pick(INT)}(${expr(g, depth - 1)})`;
    case 2: return `(${expr(g, depth - 1)} ${g.pick(['<', '>', '===', '!==', '<=', '>='])} ${expr(g, depth - 1)} ? ${expr(g, depth - 1)} : ${expr(g, depth - 1)})`;
    case 3: return `${g.pick(['~', '-'])}${expr(g, depth - 1)}`;
    case 4: return `clampf(u32(${expr(g, depth - 1)}))`;
    default: return `(${expr(g, depth - 1)})`;
  }
}

function statement(g: Gen, depth = 2): string {
  const e = () => expr(g, 3);
  switch (g.int(16)) {
    case 0: return `a = u32(${e()});`;
    case 1: return `b = u32(b + ${e()});`;
    case 2: return `if (${e()} > 100) { ${statement(g, depth - 1)} } else { ${statement(g, depth - 1)} }`;
    case 3: return `for (const i of range(${odd(g, '4', ['0', '100', '100000', 'a'])})) { a = u32(a + i * ${e()}); ${depth > 0 && g.int(2) ? statement(g, depth - 1) : ''} }`;
    case 4: return `m.update(${g.int(6)}, u64(${e()}));`;
    case 5: return `{ const v = m.lookup(${g.pick(['2', 'a', 'u32(a) & 3'])}); if (v !== null) { b = u32(b + u32(v)); } }`;
    case 6: return `switch (u32(${e()}) & 3) { case 0: a = 1; break; case 1: b = 2; default: a = u32(a + 5); }`;
    case 7: return `{ const k: K = { a: u32(${e()}), b: u8(a) }; h.increment(k, b); }`;
    case 8: return `{ const ev = events.reserve(); if (ev !== null) { ev.pid = u32(${e()}); ev.ts = bpf.ktimeNs(); ${g.int(4) ? 'events.submit(ev);' : ''} } }`;
    case 9: return `{ let buf!: ${g.pick(['FixedArray<u8, 16>', 'FixedArray<u64, 8>', 'CStr<16>', g.pick(['FixedArray<u8, 600>', 'CStr<1000000>'])])}; ${g.int(2) ? `buf[u32(${e()}) % 16] = u8(a);` : ''} b = u32(b + u32(a)); }`;
    case 10: return `{ const h2 = ctx.packet.at(UdpHdr, u32(${e()})); if (h2 !== null) { a = u32(a + ntohs(h2.dest)); } }`;
    case 11: return `counter.set(u64(counter.get() + u64(${e()})));`;
    case 12: return g.int(4) ? `a = u32(a + u32(counter.get()));` : `while (a < ${g.pick(['10', '1000', 'b'])}) { a = u32(a + 1); }`;
    case 13: return `hist.record(u64(${e()}));`;
    case 14: return `const ${g.pick(['x', 'y', 'z'])}: ${g.pick(INT)} = ${g.pick(INT)}(${e()});`;
    default: return `if (a > 5 && (b < 3 || u32(${e()}) === 17)) { return ${g.pick(['XdpAction.DROP', 'XdpAction.PASS', '0', 'a'])}; }`;
  }
}

/** A module from the grammar: declarations, then one or two programs of random statements. */
function generated(g: Gen): string {
  const stmts = Array.from({ length: 1 + g.int(6) }, () => statement(g));
  const stmts2 = Array.from({ length: 1 + g.int(3) }, () => statement(g));
  return `import { xdp, tracepoint, hashMap, arrayMap, ringBuf, global, log2Hist, range, bpf, u8, u16, u32, u64, i8, i16, i32, i64, htons, ntohs, XdpAction, type FixedArray, type CStr } from 'tsbpf/dsl';
import { EthHdr, IpHdr, UdpHdr } from 'tsbpf/dsl/net';
export const m = arrayMap<u64>({ maxEntries: ${odd(g, '4', ['1', '0', '65536', '4294967296'])} });
export interface K { a: u32; b: u8 }
export interface Ev { pid: u32; ts: u64; comm: CStr<${odd(g, '16', ['1', '0', '4096'])}> }
export const h = hashMap<K, u64>({ maxEntries: 64 });
export const events = ringBuf<Ev>({ size: ${odd(g, '256 * 1024', ['4096', '3', '0'])} });
export const counter = global<u64>(0);
export const hist = log2Hist();
function clampf(v: u32): u32 { return v > 1000 ? 1000 : v; }
export const p = xdp((ctx) => {
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null) return XdpAction.PASS;
  const len = ctx.packet.length;
  let a: u32 = len;
  let b: u32 = 3;
  ${stmts.join('\n  ')}
  return u32((a ^ b) & 0xff);
});
${g.int(2) ? `export const t = tracepoint('syscalls/sys_enter_openat', (ctx) => {
  let a: u32 = 1;
  let b: u32 = 2;
  const len: u32 = 3;
  ${stmts2.join('\n  ').replace(/ctx\.packet[^;]*;/g, '').replace(/ip\.\w+/g, 'a').replace(/XdpAction\.\w+/g, '0')}
  return 0;
});` : ''}
`;
}

function generate(g: Gen): FuzzInput {
  const seeds = seedModules();
  switch (g.int(10)) {
    case 0: case 1: case 2:
      return { variant: 'bpf.ts', data: generated(g) };
    case 3:
      return { variant: 'bpf.ts', data: mutateText(g, generated(g), dict(), seeds) };
    case 4:
      return { variant: 'bpf.ts', data: g.pick(seeds) };
    default:
      return { variant: 'bpf.ts', data: mutateText(g, g.pick(seeds), dict(), seeds) };
  }
}

const disk = new Map<string, string | undefined>();

/** Files come from memory (the module, which may also import itself as ./other.js) or from disk (the DSL, read once). */
function host(source: string): CompileHost {
  const fromDisk = (path: string) => {
    if (!disk.has(path)) disk.set(path, nodeHost.readFile(path));
    return disk.get(path);
  };
  return {
    readFile: (path) => (path === ENTRY || path === `${DIR}/other.ts` ? source : path.startsWith(`${DIR}/`) ? undefined : fromDisk(path)),
    tracepointFormat: nodeHost.tracepointFormat!,
  };
}

function execute(input: FuzzInput): Outcome {
  try {
    writeObject(compile({ entry: ENTRY, host: host(asText(input.data)), dslRoot }));
    return 'ok';
  } catch (e) {
    if (!(e instanceof CompileError)) throw e;
    if (!e.diagnostics.length) throw new FuzzFinding('CompileError with no diagnostics', { cause: e });
    for (const d of e.diagnostics) {
      if (d.code === 'TSBPF_INTERNAL') throw new FuzzFinding(`internal compiler error: ${d.file}:${d.line}:${d.column}: ${d.message}`, { cause: e });
      if (!d.file || !(d.line > 0) || !(d.column > 0) || !/^(TSBPF_[A-Z0-9_]+|TS\d+)$/.test(d.code)) {
        throw new FuzzFinding(`diagnostic without file:line:col or code: ${JSON.stringify(d)}`, { cause: e });
      }
    }
    return 'rejected';
  }
}

export const compilerTarget: FuzzTarget = { name: 'compiler', timeoutMs: 30_000, chunk: 2_000, generate, execute };
