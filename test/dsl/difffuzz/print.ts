/**
 * Prints an abstract unit (ast.ts) as module source: one XDP program with
 * its structs, headers, maps, ring buffer, globals and module functions,
 * every name prefixed so that many units share one module. The printer
 * resolves each `n` against what is in scope and keeps the program inside
 * the language (docs/language.md): casts where a local would narrow or a
 * literal would not fit, constant divisors and shift amounts in range, no
 * reference used after its release, no early exit that leaks an event.
 * Integer typing follows the contract's rules (the reference evaluator's
 * ints.ts is their executable form).
 */
import { common, exact, I64, INTS, type IntT, promote, shift, shiftType, shiftWidth, swapBytes, typeByValue, U16, U32, U64, wrap, arith } from '../../../src/dsl/eval/ints.js';
import { type ACond, type AExpr, type AFunc, type AMap, type AStmt, type AUnit, type AValue, type FieldType, INT_NAMES, type IntName } from './ast.js';

interface TE {
  s: string;
  t: IntT;
  /** A compile-time constant's value. */
  c?: bigint;
  /** An untyped constant (a literal, exact and typed by its value). */
  lit?: boolean;
  /** TypeScript gives it a literal type (comparing two of those is a TypeScript error). */
  tsLit?: boolean;
}

interface Field {
  name: string;
  type: FieldType;
  off: number;
  size: number;
}

export interface StructInfo {
  name: string;
  /** The header layout's name, for ctx.packet.at. */
  header: string;
  fields: Field[];
  size: number;
}

interface IntVar {
  name: string;
  t: IntT;
  mutable: boolean;
  c?: bigint;
  lit?: boolean;
  tsLit?: boolean;
}

interface RefVar {
  name: string;
  s: StructInfo;
  kind: 'map' | 'header' | 'event' | 'local' | 'param';
  /** The map it points into (struct-valued maps). */
  map?: number;
  alive: boolean;
  loopDepth: number;
}

interface Scope {
  ints: IntVar[];
  refs: RefVar[];
}

interface Cx {
  /** The enclosing function: the program (has ctx) or a module function. */
  fn: { program: true } | { program: false; ret: IntT | null; hasRefParams: boolean; releases: Set<number> };
  loopDepth: number;
  /** Inside a reserved event's block: nothing may leave it early. */
  inEvent: boolean;
  /** Loops and switches opened inside the current region (what break and continue may target). */
  loops: number;
  switches: number;
}

const SIZE: Record<FieldType, number> = { u8: 1, i8: 1, u16: 2, i16: 2, be16: 2, u32: 4, i32: 4, be32: 4, u64: 8, i64: 8 };

export function layout(name: string, header: string, types: Array<[string, FieldType]>): StructInfo {
  let off = 0;
  let align = 1;
  const fields: Field[] = [];
  for (const [fname, type] of types) {
    const size = SIZE[type];
    off = Math.ceil(off / size) * size;
    fields.push({ name: fname, type, off, size });
    off += size;
    align = Math.max(align, size);
  }
  return { name, header, fields, size: Math.ceil(off / align) * align };
}

/** Headers from tsbpf/dsl/net whose fields are all integers. */
const NET_HEADERS: StructInfo[] = [
  layout('IpHdr', 'IpHdr', [['versionIhl', 'u8'], ['tos', 'u8'], ['totLen', 'be16'], ['id', 'be16'], ['fragOff', 'be16'], ['ttl', 'u8'], ['protocol', 'u8'], ['check', 'be16'], ['saddr', 'be32'], ['daddr', 'be32']]),
  layout('UdpHdr', 'UdpHdr', [['source', 'be16'], ['dest', 'be16'], ['len', 'be16'], ['check', 'be16']]),
  layout('TcpHdr', 'TcpHdr', [['source', 'be16'], ['dest', 'be16'], ['seq', 'be32'], ['ackSeq', 'be32'], ['doff', 'u8'], ['flags', 'u8'], ['window', 'be16'], ['check', 'be16'], ['urgPtr', 'be16']]),
];

/** Padding bytes of a struct (bytes no field covers), for comparing events whose padding the kernel leaves unset. */
export function paddingMask(s: StructInfo): boolean[] {
  const covered = new Array<boolean>(s.size).fill(false);
  for (const f of s.fields) for (let i = 0; i < f.size; i++) covered[f.off + i] = true;
  return covered.map((c) => !c);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const isSafe = (v: bigint) => v >= -MAX_SAFE && v <= MAX_SAFE;
const intT = (t: FieldType): IntT => INTS[t]!;
/** The cast function for a field type (be16 → u16). */
const castName = (t: IntT): IntName => (t.name === 'be16' ? 'u16' : t.name === 'be32' ? 'u32' : t.name === 'bool' ? 'u8' : (t.name as IntName));
const operandType = (e: TE): IntT => (e.lit ? typeByValue(e.c!) : e.t);

/**
 * A name or field compared with a literal by `===` (or switched on) is
 * narrowed by TypeScript to that literal's type, and a later comparison
 * with another literal in that branch is a TypeScript error: such an
 * operand goes through a cast to its own type, which TypeScript does not narrow.
 */
function unnarrowed(e: TE): TE {
  if (!/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)?$/.test(e.s)) return e;
  return { ...e, s: `${castName(e.t)}(${e.s})` };
}

export interface PrintedUnit {
  /** Module-level declarations and the program, to put after the shared imports. */
  source: string;
  program: string;
  packets: Uint8Array[];
  /** Ring buffer name and its event layout, when the unit has one. */
  ring?: { name: string; struct: StructInfo };
  maps: string[];
  globals: string[];
}

export const MODULE_IMPORTS = `import { xdp, hashMap, arrayMap, perCpuHash, perCpuArray, ringBuf, header, global, range, UpdateFlags, u8, u16, u32, u64, i8, i16, i32, i64, htons, ntohs, htonl, ntohl, type be16, type be32 } from 'tsbpf/dsl';
import { IpHdr, UdpHdr, TcpHdr } from 'tsbpf/dsl/net';
`;

export function printUnit(u: AUnit, prefix: string): PrintedUnit {
  return new UnitPrinter(u, prefix).print();
}

class UnitPrinter {
  readonly structs: StructInfo[];
  readonly headers: StructInfo[];
  readonly out: string[] = [];
  readonly scopes: Scope[] = [];
  readonly funcs: Array<{ name: string; f: AFunc; params: Array<{ k: 'int'; t: IntT } | { k: 'ref'; s: StructInfo }>; ret: IntT | null; releases: Set<number>; noinline: boolean }> = [];
  readonly maps: Array<AMap & { name: string; keyT: IntT | StructInfo; valueT: IntT | StructInfo }>;
  readonly ringName: string;
  readonly globals: Array<{ name: string; t: IntT }>;
  #names = 0;
  #indent = 1;

  constructor(
    readonly u: AUnit,
    readonly p: string,
  ) {
    this.structs = u.structs.map((s, i) => layout(`${p}S${i}`, `${p}H${i}`, s.fields.map((t, j) => [`f${j}`, t])));
    this.headers = [...this.structs, ...NET_HEADERS];
    this.maps = u.maps.map((m, i) => {
      const isArray = m.kind === 'array' || m.kind === 'percpu_array';
      const keyT = isArray ? U32 : typeof m.key === 'number' ? this.structs[m.key % this.structs.length]! : intT(m.key);
      const valueT = typeof m.value === 'number' ? this.structs[m.value % this.structs.length]! : intT(m.value);
      return { ...m, name: `${p}m${i}`, keyT, valueT };
    });
    this.ringName = `${p}ev`;
    this.globals = u.globals.map((g, i) => ({ name: `${p}g${i}`, t: intT(g.t) }));
  }

  get ring(): StructInfo | undefined {
    return this.u.ring === null ? undefined : this.structs[this.u.ring % this.structs.length];
  }

  print(): PrintedUnit {
    const decl: string[] = [];
    for (const s of this.structs) {
      decl.push(`export interface ${s.name} { ${s.fields.map((f) => `${f.name}: ${f.type};`).join(' ')} }`);
      decl.push(`const ${s.header} = header<${s.name}>('${s.name}', ${s.size});`);
    }
    const typeName = (t: IntT | StructInfo) => ('fields' in t ? t.name : t.name);
    const factory = { hash: 'hashMap', array: 'arrayMap', percpu_hash: 'perCpuHash', percpu_array: 'perCpuArray' } as const;
    for (const m of this.maps) {
      const isArray = m.kind === 'array' || m.kind === 'percpu_array';
      decl.push(`const ${m.name} = ${factory[m.kind]}<${isArray ? '' : `${typeName(m.keyT)}, `}${typeName(m.valueT)}>({ maxEntries: ${m.maxEntries} });`);
    }
    if (this.ring) decl.push(`const ${this.ringName} = ringBuf<${this.ring.name}>({ size: 4096 });`);
    this.u.globals.forEach((g, i) => {
      const v = wrap(g.initial, intT(g.t));
      decl.push(`const ${this.globals[i]!.name} = global<${g.t}>(${isSafe(v) ? v : `${g.t}(${v}n)`});`);
    });
    for (const [i, f] of this.u.funcs.entries()) decl.push(this.#func(f, i));
    // The program.
    this.out.length = 0;
    this.#indent = 1;
    const cx: Cx = { fn: { program: true }, loopDepth: 0, inEvent: false, loops: 0, switches: 0 };
    this.scopes.push({ ints: [], refs: [] });
    if (!this.#block(this.u.body, cx)) this.#line(`return ${this.expr(this.u.result, cx).s};`);
    this.scopes.pop();
    const program = `${this.p}prog`;
    decl.push(`export const ${program} = xdp((ctx) => {\n${this.out.join('\n')}\n});`);
    return {
      source: `${decl.join('\n')}\n`,
      program,
      packets: this.u.packets,
      ...(this.ring ? { ring: { name: this.ringName, struct: this.ring } } : {}),
      maps: this.maps.map((m) => m.name),
      globals: this.globals.map((g) => g.name),
    };
  }

  // ------------------------------------------------------------ functions

  #func(f: AFunc, i: number): string {
    const name = `${this.p}f${i}`;
    const params = f.params.map((pa) => (pa.k === 'int' ? { k: 'int' as const, t: intT(pa.t) } : { k: 'ref' as const, s: this.structs[pa.s % this.structs.length]! }));
    // Without a declared type every return is cast to one type, as the contract asks.
    const inferred = INTS[(['u32', 'u64', 'i32', 'i64'] as const)[f.params.length % 4]]!;
    const ret = f.ret === 'void' ? null : f.ret === null ? inferred : intT(f.ret);
    const releases = new Set<number>();
    const cx: Cx = { fn: { program: false, ret, hasRefParams: params.some((x) => x.k === 'ref'), releases }, loopDepth: 0, inEvent: false, loops: 0, switches: 0 };
    this.out.length = 0;
    this.#indent = 1;
    const scope: Scope = { ints: [], refs: [] };
    const sig = params.map((pa, j) => {
      const pn = `a${j}`;
      if (pa.k === 'int') scope.ints.unshift({ name: pn, t: pa.t, mutable: true });
      else scope.refs.unshift({ name: pn, s: pa.s, kind: 'param', alive: true, loopDepth: 0 });
      return `${pn}: ${pa.k === 'int' ? pa.t.name : pa.s.name}`;
    });
    this.scopes.push(scope);
    const ends = this.#block(f.body, cx);
    if (ret && !ends) {
      const r = this.expr(f.result, cx);
      this.#line(`return ${f.ret === null ? `${ret.name}(${r.s})` : this.#store(r, ret).s};`);
    }
    this.scopes.pop();
    this.funcs.push({ name, f, params, ret, releases, noinline: f.noinline });
    const retType = f.ret === null ? '' : `: ${ret ? ret.name : 'void'}`;
    const body = this.out.join('\n');
    const tag = f.noinline ? '/** @noinline */\n' : '';
    return tag + (f.arrow ? `const ${name} = (${sig.join(', ')})${retType} => {\n${body}\n};` : `function ${name}(${sig.join(', ')})${retType} {\n${body}\n}`);
  }

  // ------------------------------------------------------------ scopes

  #name(prefix: string): string {
    return `${prefix}${this.#names++}`;
  }

  #line(s: string): void {
    this.out.push(`${'  '.repeat(this.#indent)}${s}`);
  }

  #ints(): IntVar[] {
    const all: IntVar[] = [];
    for (let i = this.scopes.length - 1; i >= 0; i--) all.push(...this.scopes[i]!.ints);
    return all;
  }

  #refs(pred: (r: RefVar) => boolean = () => true): RefVar[] {
    const all: RefVar[] = [];
    for (let i = this.scopes.length - 1; i >= 0; i--) all.push(...this.scopes[i]!.refs.filter((r) => r.alive && pred(r)));
    return all;
  }

  #top(): Scope {
    return this.scopes[this.scopes.length - 1]!;
  }

  #nested(body: () => void): void {
    this.scopes.push({ ints: [], refs: [] });
    this.#indent++;
    body();
    this.#indent--;
    this.scopes.pop();
  }

  /** Whether map `m` may release its values here: no reference into it from outside the innermost loop (a later iteration would use it). */
  #mayRelease(m: number, cx: Cx): boolean {
    if (!cx.fn.program && cx.fn.hasRefParams) return false;
    return this.#refs((r) => r.map === m).every((r) => r.loopDepth === cx.loopDepth);
  }

  #release(m: number, cx: Cx): void {
    for (const s of this.scopes) for (const r of s.refs) if (r.map === m) r.alive = false;
    if (!cx.fn.program) cx.fn.releases.add(m);
  }

  #releasesHash(m: number): boolean {
    const map = this.maps[m]!;
    return (map.kind === 'hash' || map.kind === 'percpu_hash') && 'fields' in map.valueT;
  }

  // ------------------------------------------------------------ expressions

  #lit(v: bigint, style: number): TE {
    if (style >= 7) {
      const t = INTS[INT_NAMES[(style + Number(BigInt.asUintN(3, v))) % 8]!]!;
      return { s: `${t.name}(${isSafe(v) ? v : `${v}n`})`, t, c: wrap(v, t) };
    }
    if (!isSafe(v)) {
      const t = v < 0n ? I64 : U64;
      return { s: `${t.name}(${v}n)`, t, c: wrap(v, t) };
    }
    const text = style >= 5 && v >= 0n ? `0x${v.toString(16)}` : `${v}`;
    return { s: v < 0n ? `(${text})` : text, t: typeByValue(v), c: v, lit: true, tsLit: true };
  }

  #var(n: number): TE {
    const vars = this.#ints();
    if (vars.length === 0) return this.#lit(BigInt(n % 5), 0);
    const v = vars[n % vars.length]!;
    return { s: v.name, t: v.t, ...(v.c !== undefined ? { c: v.c } : {}), ...(v.lit ? { lit: true } : {}), ...(v.tsLit ? { tsLit: true } : {}) };
  }

  expr(a: AExpr, cx: Cx): TE {
    switch (a.k) {
      case 'lit':
        return this.#lit(a.v, a.style);
      case 'var':
        return this.#var(a.n);
      case 'cast': {
        const e = this.expr(a.e, cx);
        const t = INTS[a.t]!;
        return { s: `${a.t}(${e.s})`, t, ...(e.c !== undefined ? { c: wrap(e.c, t) } : {}) };
      }
      case 'bin':
        return this.#bin(a.op, this.expr(a.l, cx), this.expr(a.r, cx));
      case 'shift':
        return this.#shift(a.op, this.expr(a.l, cx), this.expr(a.r, cx));
      case 'un': {
        const e = this.expr(a.e, cx);
        const t = promote(operandType(e));
        const s = `(${a.op}(${e.s}))`;
        if (e.c === undefined) return { s, t };
        const v = a.op === '-' ? -e.c : ~e.c;
        return e.lit ? { s, t: typeByValue(v), c: v, lit: true } : { s, t, c: wrap(v, t) };
      }
      case 'cond': {
        const c = this.cond(a.c, cx);
        const x = this.expr(a.a, cx);
        const y = this.expr(a.b, cx);
        // Two literal arms give TypeScript a union of literal types.
        return { s: `(${c} ? ${x.s} : ${y.s})`, t: common(operandType(x), operandType(y)), ...(x.tsLit && y.tsLit ? { tsLit: true } : {}) };
      }
      case 'logic': {
        const x = this.expr(a.a, cx);
        const y = this.expr(a.b, cx);
        if (x.c !== undefined) return y;
        // `n && 5` is `0 | 5` to TypeScript.
        return { s: `(${x.s} ${a.op} ${y.s})`, t: common(operandType(x), operandType(y)), ...(a.op === '&&' && y.tsLit ? { tsLit: true } : {}) };
      }
      case 'field': {
        const refs = this.#refs();
        if (refs.length === 0) return this.#var(a.n);
        const r = refs[a.n % refs.length]!;
        const f = r.s.fields[a.f % r.s.fields.length]!;
        return { s: `${r.name}.${f.name}`, t: intT(f.type) };
      }
      case 'call': {
        const fns = this.funcs.filter((f) => f.ret !== null && f.releases.size === 0);
        if (fns.length === 0) return this.#var(a.n);
        const f = fns[a.n % fns.length]!;
        const args = this.#args(f.params, a.args, cx, f.noinline);
        if (args === undefined) return this.#var(a.n);
        return { s: `${f.name}(${args.join(', ')})`, t: f.ret! };
      }
      case 'len':
        return cx.fn.program ? { s: 'ctx.packet.length', t: U32 } : this.#lit(64n, 0);
      case 'byte':
        return cx.fn.program ? { s: `ctx.packet.byte(${this.#offset(this.expr(a.e, cx), 1)})`, t: I64 } : this.expr(a.e, cx);
      case 'swap': {
        const e = this.expr(a.e, cx);
        const t = a.fn === 'ntohs' ? U16 : a.fn === 'ntohl' ? U32 : a.fn === 'htons' ? INTS.be16! : INTS.be32!;
        return { s: `${a.fn}(${e.s})`, t, ...(e.c !== undefined ? { c: swapBytes(e.c, a.fn.endsWith('s') ? 16 : 32) } : {}) };
      }
      case 'global': {
        if (this.globals.length === 0) return this.#var(a.n);
        const g = this.globals[a.n % this.globals.length]!;
        return { s: `${g.name}.get()`, t: g.t };
      }
    }
  }

  #bin(op: Exclude<AExpr & { k: 'bin' }, never>['op'], l: TE, r0: TE): TE {
    let r = r0;
    if ((op === '/' || op === '%') && r.c === 0n) r = this.#bin('|', r, this.#lit(1n, 0));
    const s = `(${l.s} ${op} ${r.s})`;
    if (l.c !== undefined && r.c !== undefined) {
      if (l.lit && r.lit) {
        const v = exact(op, l.c, r.c);
        if (isSafe(v)) return { s, t: typeByValue(v), c: v, lit: true };
        // Beyond what a TypeScript number holds exactly: compute in u64 instead.
        return this.#bin(op, { s: `u64(${l.s})`, t: U64, c: wrap(l.c, U64) }, r);
      }
      const t = common(operandType(l), operandType(r));
      return { s, t, c: arith(op, wrap(l.c, t), wrap(r.c, t), t) };
    }
    return { s, t: common(operandType(l), operandType(r)) };
  }

  #shift(op: '<<' | '>>' | '>>>', l: TE, r0: TE): TE {
    let r = r0;
    const lt = operandType(l);
    const width = BigInt(shiftWidth(lt));
    if (r.c !== undefined && (r.c < 0n || r.c >= width)) r = this.#lit(((r.c % width) + width) % width, 0);
    const s = `(${l.s} ${op} ${r.s})`;
    const t = shiftType(op, lt);
    if (l.c !== undefined && r.c !== undefined) {
      const v = shift(op, l.c, r.c, lt);
      return l.lit && r.lit ? { s, t: typeByValue(v), c: v, lit: true } : { s, t, c: v };
    }
    return { s, t };
  }

  cond(c: ACond, cx: Cx): string {
    switch (c.k) {
      case 'cmp': {
        let l = this.expr(c.l, cx);
        let r = this.expr(c.r, cx);
        // TypeScript rejects comparing two literal types that differ ('This comparison appears to be unintentional').
        if (l.tsLit && r.tsLit) r = { ...r, s: `${castName(operandType(r))}(${r.s})`, tsLit: false };
        if (c.op === '===' || c.op === '!==') {
          l = r.tsLit ? unnarrowed(l) : l;
          r = l.tsLit ? unnarrowed(r) : r;
        }
        return `(${l.s} ${c.op} ${r.s})`;
      }
      case 'not':
        return `!${this.cond(c.c, cx)}`;
      case 'and':
      case 'or':
        return `(${this.cond(c.a, cx)} ${c.k === 'and' ? '&&' : '||'} ${this.cond(c.b, cx)})`;
      case 'truthy': {
        const e = this.expr(c.e, cx);
        return e.c !== undefined ? `(${e.s} > 0)` : e.s;
      }
    }
  }

  /** An integer converted for a store into memory of type `to`: a literal must fit. */
  #store(e: TE, to: IntT): TE {
    if (e.lit && wrap(e.c!, to) !== e.c) return { s: `${castName(to)}(${e.s})`, t: to, c: wrap(e.c!, to) };
    return e;
  }

  /** An integer converted for a local of type `to`: narrowing needs a cast (typed constants included). */
  #local(e: TE, to: IntT): TE {
    if (e.lit) return this.#store(e, to);
    if (e.t.bits > to.bits) return { s: `${castName(to)}(${e.s})`, t: to, ...(e.c !== undefined ? { c: wrap(e.c, to) } : {}) };
    return e;
  }

  #args(params: Array<{ k: 'int'; t: IntT } | { k: 'ref'; s: StructInfo }>, given: AExpr[], cx: Cx, noinline = false): string[] | undefined {
    const out: string[] = [];
    for (const [i, pa] of params.entries()) {
      const g = given[i];
      if (pa.k === 'int') out.push(this.#store(g ? this.expr(g, cx) : this.#lit(BigInt(i), 0), pa.t).s);
      else {
        // A ring-buffer event stays in the function that reserves it: a @noinline function is not given one (TSBPF_NOINLINE),
        // nor a parameter of the calling function (which may be one).
        const refs = this.#refs((r) => r.s === pa.s && !(noinline && (r.kind === 'event' || r.kind === 'param')));
        if (refs.length === 0) return undefined;
        out.push(refs[(g?.k === 'var' ? g.n : 0) % refs.length]!.name);
      }
    }
    return out;
  }

  /** A packet offset: a constant one must lie in 0…65535 - size (TSBPF_PACKET_OFFSET). */
  #offset(e: TE, size: number): string {
    if (e.c === undefined || (e.c >= 0n && e.c <= BigInt(65535 - size))) return e.s;
    return String(BigInt.asUintN(6, e.c));
  }

  /** A key or value: an integer, a struct literal or a reference of the struct's type. */
  #value(v: AValue, to: IntT | StructInfo, cx: Cx): string {
    if (!('fields' in to)) {
      const e = v.k === 'int' ? v.e : v.k === 'lit' && v.fields[0] ? v.fields[0] : { k: 'var' as const, n: v.k === 'ref' ? v.n : 0 };
      return this.#store(this.expr(e, cx), to).s;
    }
    if (v.k === 'ref') {
      const refs = this.#refs((r) => r.s === to);
      if (refs.length > 0) return refs[v.n % refs.length]!.name;
    }
    const exprs = v.k === 'lit' ? v.fields : v.k === 'int' ? [v.e] : [];
    return this.#literal(exprs, to, cx);
  }

  /** A struct literal: TypeScript wants every field, so the ones not given are 0. */
  #literal(exprs: AExpr[], to: StructInfo, cx: Cx): string {
    const parts = to.fields.map((f, i) => `${f.name}: ${exprs[i] ? this.#store(this.expr(exprs[i]!, cx), intT(f.type)).s : '0'}`);
    return `{ ${parts.join(', ')} }`;
  }

  // ------------------------------------------------------------ statements

  /** Prints statements up to one that always returns (TypeScript does not type the unreachable rest). Whether it ends so. */
  #block(stmts: AStmt[], cx: Cx): boolean {
    for (const s of stmts) if (this.#stmt(s, cx)) return true;
    return false;
  }

  #declareInt(kind: 'let' | 'const', t: IntT | null, e: TE, prefix = 'x'): IntVar {
    const name = this.#name(prefix);
    if (t) {
      const v = this.#local(e, t);
      this.#line(`${kind} ${name}: ${t.name} = ${v.s};`);
      const iv: IntVar = { name, t, mutable: kind === 'let', ...(kind === 'const' && v.c !== undefined ? { c: wrap(v.c, t) } : {}) };
      this.#top().ints.unshift(iv);
      return iv;
    }
    // TypeScript may keep a literal type for `let x = <literal-typed>`: say the type.
    const annotation = kind === 'let' && e.tsLit ? `: ${castName(operandType(e))}` : '';
    this.#line(`${kind} ${name}${annotation} = ${e.s};`);
    const iv: IntVar = kind === 'const' && e.c !== undefined
      ? { name, t: e.t, mutable: false, c: e.c, ...(e.lit ? { lit: true } : {}), ...(e.tsLit ? { tsLit: true } : {}) }
      : { name, t: operandType(e), mutable: kind === 'let', ...(kind === 'const' && e.tsLit ? { tsLit: true } : {}) };
    this.#top().ints.unshift(iv);
    return iv;
  }

  /** `target op= e` for an integer of type `t`: constant divisors and shift amounts kept legal. */
  #compound(op: string, t: IntT, e: TE): TE {
    const base = op.slice(0, -1);
    if ((base === '/' || base === '%') && e.c === 0n) return this.#lit(3n, 0);
    if (base === '<<' || base === '>>' || base === '>>>') {
      const width = BigInt(shiftWidth(t));
      if (e.c !== undefined && (e.c < 0n || e.c >= width)) return this.#lit(((e.c % width) + width) % width, 0);
    }
    return e;
  }

  #result(call: string, to: AStmt & { to: unknown }, cx: Cx): void {
    if (to.to === 'decl') {
      const name = this.#name('r');
      this.#line(`const ${name} = ${call};`);
      this.#top().ints.unshift({ name, t: I64, mutable: false });
      return;
    }
    if (to.to === 'assign') {
      const target = this.#ints().find((v) => v.mutable);
      if (target) {
        this.#line(`${target.name} = ${this.#local({ s: call, t: I64 }, target.t).s};`);
        return;
      }
    }
    this.#line(`${call};`);
    void cx;
  }

  /** Prints a statement; true when it always returns. */
  #stmt(a: AStmt, cx: Cx): boolean {
    switch (a.k) {
      case 'decl': {
        const e = this.expr(a.e, cx);
        this.#declareInt(a.kind, a.t ? INTS[a.t]! : null, e);
        return false;
      }
      case 'assign': {
        const targets = this.#ints().filter((v) => v.mutable);
        const e = this.expr(a.e, cx);
        if (targets.length === 0) {
          this.#declareInt('let', null, e);
          return false;
        }
        const v = targets[a.n % targets.length]!;
        if (a.op === '=') {
          this.#line(`${v.name} = ${this.#local(e, v.t).s};`);
        } else {
          this.#line(`${v.name} ${a.op} ${this.#compound(a.op, v.t, e).s};`);
        }
        return false;
      }
      case 'incdec': {
        const targets = this.#ints().filter((v) => v.mutable);
        if (targets.length === 0) return false;
        const v = targets[a.n % targets.length]!;
        this.#line(a.prefix ? `${a.op}${v.name};` : `${v.name}${a.op};`);
        return false;
      }
      case 'store': {
        const refs = this.#refs();
        if (refs.length === 0) return false;
        const r = refs[a.n % refs.length]!;
        const f = r.s.fields[a.f % r.s.fields.length]!;
        const ft = intT(f.type);
        if (a.op === '++' || a.op === '--') this.#line(`${r.name}.${f.name}${a.op};`);
        else {
          const e = this.expr(a.e, cx);
          this.#line(`${r.name}.${f.name} ${a.op} ${a.op === '=' ? this.#store(e, ft).s : this.#compound(a.op, ft, e).s};`);
        }
        return false;
      }
      case 'if': {
        this.#line(`if (${this.cond(a.c, cx)}) {`);
        let ends = false;
        this.#nested(() => (ends = this.#block(a.then, cx)));
        if (a.else) {
          this.#line('} else {');
          this.#nested(() => (ends = this.#block(a.else!, cx) && ends));
        } else ends = false;
        this.#line('}');
        return ends;
      }
      case 'switch': {
        let e = unnarrowed(this.expr(a.e, cx));
        if (e.tsLit) e = { s: `u32(${e.s})`, t: U32 };
        this.#line(`switch (${e.s}) {`);
        const inner: Cx = { ...cx, switches: cx.switches + 1 };
        const clauses: Array<{ label: string; body: AStmt[]; brk: boolean }> = a.cases.map((c) => ({ label: `case ${c.v < 0n ? `(${c.v})` : c.v}:`, body: c.body, brk: c.brk }));
        if (a.dflt) clauses.splice(a.dfltAt % (clauses.length + 1), 0, { label: 'default:', body: a.dflt.body, brk: a.dflt.brk });
        this.#indent++;
        for (const c of clauses) {
          this.#line(`${c.label} {`);
          this.#nested(() => this.#block(c.body, inner));
          this.#line(c.brk ? '} break;' : '}');
        }
        this.#indent--;
        this.#line('}');
        return false;
      }
      case 'loop': {
        const to = cx.loopDepth > 0 ? a.to % 6 : a.to;
        const from = Math.min(a.from, to);
        const name = this.#name('j');
        this.#line(`for (const ${name} of range(${from === 0 ? to : `${from}, ${to}`})) {`);
        const inner: Cx = { ...cx, loopDepth: cx.loopDepth + 1, loops: cx.loops + 1 };
        this.#nested(() => {
          this.#top().ints.unshift({ name, t: U32, mutable: false });
          this.#block(a.body, inner);
        });
        this.#line('}');
        return false;
      }
      case 'jump': {
        if (a.which === 'break' ? cx.loops + cx.switches === 0 : cx.loops === 0) return false;
        this.#line(`if (${this.cond(a.c, cx)}) ${a.which};`);
        return false;
      }
      case 'return': {
        if (cx.inEvent) return false;
        let value = '';
        if (cx.fn.program) value = ` ${this.expr(a.e, cx).s}`;
        else if (cx.fn.ret) value = ` ${this.#returned(this.expr(a.e, cx), cx)}`;
        this.#line(a.c ? `if (${this.cond(a.c, cx)}) return${value};` : `return${value};`);
        return a.c === null;
      }
      case 'header': {
        if (!cx.fn.program) return this.#block(a.body, cx);
        const h = this.headers[a.h % this.headers.length]!;
        const off = typeof a.off === 'number' ? String(a.off) : this.#offset(this.expr(a.off, cx), h.size);
        const name = this.#name('h');
        this.#line(`const ${name} = ctx.packet.at(${h.header}, ${off});`);
        const ref: RefVar = { name, s: h, kind: 'header', alive: true, loopDepth: cx.loopDepth };
        if (a.orReturn && !cx.inEvent) {
          this.#line(`if (${name} === null) return ${this.expr(a.orReturn, cx).s};`);
          this.#top().refs.unshift(ref);
          return this.#block(a.body, cx);
        }
        this.#line(`if (${name} !== null) {`);
        this.#nested(() => {
          this.#top().refs.unshift(ref);
          this.#block(a.body, cx);
        });
        this.#line('}');
        return false;
      }
      case 'lookup': {
        if (this.maps.length === 0) return this.#block(a.body, cx);
        const mi = a.m % this.maps.length;
        const m = this.maps[mi]!;
        const name = this.#name('v');
        this.#line(`const ${name} = ${m.name}.lookup(${this.#value(a.key, m.keyT, cx)});`);
        const bind = () => {
          if ('fields' in m.valueT) this.#top().refs.unshift({ name, s: m.valueT, kind: 'map', map: mi, alive: true, loopDepth: cx.loopDepth });
          else this.#top().ints.unshift({ name, t: m.valueT, mutable: false });
        };
        const canReturn = !cx.inEvent && (cx.fn.program || cx.fn.ret !== null);
        if (a.orReturn && canReturn && !a.orElse) {
          const e = this.expr(a.orReturn, cx);
          this.#line(`if (${name} === null) return ${cx.fn.program ? e.s : this.#returned(e, cx)};`);
          bind();
          return this.#block(a.body, cx);
        }
        this.#line(`if (${name} !== null) {`);
        this.#nested(() => {
          bind();
          this.#block(a.body, cx);
        });
        if (a.orElse) {
          this.#line('} else {');
          this.#nested(() => this.#block(a.orElse!, cx));
        }
        this.#line('}');
        return false;
      }
      case 'update': {
        if (this.maps.length === 0) return false;
        const mi = a.m % this.maps.length;
        const m = this.maps[mi]!;
        const releases = this.#releasesHash(mi);
        if (releases && !this.#mayRelease(mi, cx)) return false;
        const key = this.#value(a.key, m.keyT, cx);
        const value = this.#value(a.value, m.valueT, cx);
        const flags = a.flags === null ? '' : typeof a.flags === 'number' ? `, ${['UpdateFlags.ANY', 'UpdateFlags.NOEXIST', 'UpdateFlags.EXIST'][a.flags]}` : `, ${this.expr(a.flags, cx).s}`;
        if (releases) this.#release(mi, cx);
        this.#result(`${m.name}.update(${key}, ${value}${flags})`, a, cx);
        return false;
      }
      case 'delete': {
        if (this.maps.length === 0) return false;
        const mi = a.m % this.maps.length;
        const m = this.maps[mi]!;
        const releases = this.#releasesHash(mi);
        if (releases && !this.#mayRelease(mi, cx)) return false;
        const key = this.#value(a.key, m.keyT, cx);
        if (releases) this.#release(mi, cx);
        this.#result(`${m.name}.delete(${key})`, a, cx);
        return false;
      }
      case 'increment': {
        const ints = this.maps.map((m, i) => [m, i] as const).filter(([m]) => !('fields' in m.valueT));
        if (ints.length === 0) return false;
        const [m] = ints[a.m % ints.length]!;
        const key = this.#value(a.key, m.keyT, cx);
        this.#line(a.by ? `${m.name}.increment(${key}, ${this.#store(this.expr(a.by, cx), m.valueT as IntT).s});` : `${m.name}.increment(${key});`);
        return false;
      }
      case 'event': {
        const s = this.ring;
        if (!s) return false;
        const name = this.#name('e');
        this.#line(`{`);
        this.#indent++;
        this.#line(`const ${name} = ${this.ringName}.reserve();`);
        this.#line(`if (${name} !== null) {`);
        const inner: Cx = { ...cx, inEvent: true, loops: 0, switches: 0 };
        this.#nested(() => {
          s.fields.forEach((f, i) => {
            const e = a.fields[i] ? this.expr(a.fields[i]!, cx) : this.#lit(BigInt(i), 0);
            this.#line(`${name}.${f.name} = ${this.#store(e, intT(f.type)).s};`);
          });
          this.#top().refs.unshift({ name, s, kind: 'event', alive: true, loopDepth: cx.loopDepth });
          this.#block(a.body, inner);
          if (typeof a.submit === 'boolean') this.#line(`${this.ringName}.${a.submit ? 'submit' : 'discard'}(${name});`);
          else {
            this.#line(`if (${this.cond(a.submit, cx)}) {`);
            this.#line(`  ${this.ringName}.submit(${name});`);
            this.#line('} else {');
            this.#line(`  ${this.ringName}.discard(${name});`);
            this.#line('}');
          }
        });
        this.#line('}');
        this.#indent--;
        this.#line('}');
        return false;
      }
      case 'output': {
        const s = this.ring;
        if (!s) return false;
        this.#result(`${this.ringName}.output(${this.#value(a.value, s, cx)})`, a, cx);
        return false;
      }
      case 'call': {
        if (this.funcs.length === 0) return false;
        const f = this.funcs[a.n % this.funcs.length]!;
        for (const m of f.releases) if (!this.#mayRelease(m, cx)) return false;
        const args = this.#args(f.params, a.args, cx, f.noinline);
        if (args === undefined) return false;
        for (const m of f.releases) this.#release(m, cx);
        this.#line(`${f.name}(${args.join(', ')});`);
        return false;
      }
      case 'local': {
        const s = this.structs[a.s % this.structs.length]!;
        const name = this.#name('k');
        if (a.init) this.#line(`const ${name}: ${s.name} = ${this.#literal(a.init, s, cx)};`);
        else this.#line(`let ${name}!: ${s.name};`);
        this.#top().refs.unshift({ name, s, kind: 'local', alive: true, loopDepth: cx.loopDepth });
        return false;
      }
      case 'swapFields': {
        const refs = this.#refs();
        if (refs.length === 0) return false;
        const r = refs[a.n % refs.length]!;
        const f1 = r.s.fields[a.f1 % r.s.fields.length]!;
        const f2 = r.s.fields[a.f2 % r.s.fields.length]!;
        const tmp = this.#name('s');
        this.#line(`const ${tmp} = ${r.name}.${f1.name};`);
        this.#line(`${r.name}.${f1.name} = ${r.name}.${f2.name};`);
        this.#line(`${r.name}.${f2.name} = ${tmp};`);
        this.#top().ints.unshift({ name: tmp, t: intT(f1.type), mutable: false });
        return false;
      }
      case 'gset': {
        if (this.globals.length === 0) return false;
        const g = this.globals[a.n % this.globals.length]!;
        this.#line(`${g.name}.set(${this.#store(this.expr(a.e, cx), g.t).s});`);
        return false;
      }
    }
  }

  /** A module function's return value: converted as a store, or cast to the one type of a function without a declared type. */
  #returned(e: TE, cx: Cx): string {
    if (cx.fn.program || !cx.fn.ret) return e.s;
    const inferred = this.u.funcs[this.funcs.length]?.ret === null;
    return inferred ? `${cx.fn.ret.name}(${e.s})` : this.#store(e, cx.fn.ret).s;
  }
}
