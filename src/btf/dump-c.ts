/**
 * A vmlinux.h-style C header from BTF, in the shape bpftool writes: types in
 * dependency order (a struct's by-value members defined before it, pointers
 * satisfied by forward declarations), anonymous types inline, bitfields,
 * explicit padding and `packed` where the layout needs it, and the
 * preserve_access_index pragma so that clang emits CO-RE relocations.
 */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { alignOf, sizeOf } from './navigate.js';
import type { BtfType, EnumType, Enum64Type, StructType } from './types.js';

export interface CHeaderOptions {
  /** Only these types (by name) and what they need. Default: every type. */
  roots?: string[];
  /** Include guard macro. Default __VMLINUX_H__. */
  guard?: string;
  /** Wrap in the preserve_access_index pragma (default true). */
  preserveAccessIndex?: boolean;
}

const NONE = 0;
const BUSY = 1;
const DONE = 2;
const MAX_DEPTH = 64;

class CWriter {
  private readonly out: string[] = [];
  private readonly state: Uint8Array;
  private readonly fwdDone = new Set<number>();
  private readonly protosDone = new Set<number>();
  private readonly tagNames = new Map<number, string>();
  private readonly tagOwner = new Map<string, number>();
  private readonly identNames = new Map<string, number>();
  private readonly typedefNames = new Map<number, string>();
  private readonly enumValueNames = new Map<string, string>();
  private readonly inlineStack = new Set<number>();
  private inlined = 0;
  private readonly inlineBudget: number;
  /** Anonymous types that some other type embeds (emitted inline there). */
  readonly referenced: Uint8Array;

  constructor(private readonly btf: Btf) {
    this.state = new Uint8Array(btf.typeCount);
    this.referenced = new Uint8Array(btf.typeCount);
    this.inlineBudget = 4 * btf.typeCount + 10000;
  }

  text(): string {
    return this.out.join('');
  }

  markReferences(): void {
    const btf = this.btf;
    const mark = (id: number) => {
      if (id > 0 && id < btf.typeCount) this.referenced[id] = 1;
    };
    for (let id = 1; id < btf.typeCount; id++) {
      const t = btf.type(id);
      switch (t.kind) {
        case 'struct':
        case 'union':
          for (const m of t.members) mark(m.type);
          break;
        case 'ptr':
        case 'typedef':
        case 'const':
        case 'volatile':
        case 'restrict':
        case 'type_tag':
        case 'array':
          mark(t.type);
          break;
        case 'func_proto':
          mark(t.returnType);
          for (const p of t.params) mark(p.type);
          break;
        default:
          break;
      }
    }
  }

  /** Emits whatever `id` needs to be named (complete: usable by value). */
  ensure(id: number, complete: boolean, depth = 0): void {
    if (depth > MAX_DEPTH || id === 0) return;
    const t = this.btf.type(id);
    switch (t.kind) {
      case 'ptr':
        return this.ensure(t.type, false, depth + 1);
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
        return this.ensure(t.type, complete, depth + 1);
      case 'array':
        return this.ensure(t.type, true, depth + 1);
      case 'func_proto':
        // Its needs do not depend on `complete`: once is enough, and a prototype that names itself ends here.
        if (this.protosDone.has(id)) return;
        this.protosDone.add(id);
        this.ensure(t.returnType, false, depth + 1);
        for (const p of t.params) this.ensure(p.type, false, depth + 1);
        return;
      case 'struct':
      case 'union':
        if (t.name === '') {
          if (this.state[id] !== NONE) return;
          this.state[id] = BUSY;
          for (const m of t.members) this.ensure(m.type, true, depth + 1);
          this.state[id] = DONE;
          return;
        }
        if (complete) return this.defineComposite(id, depth);
        return this.declareForward(id);
      case 'enum':
      case 'enum64':
        if (t.name !== '') this.defineEnum(id);
        return;
      case 'fwd':
        return this.declareForward(id);
      case 'typedef':
        this.defineTypedef(id, depth);
        if (complete) this.ensure(t.type, true, depth + 1);
        return;
      default:
        return;
    }
  }

  declareForward(id: number): void {
    const t = this.btf.type(id);
    if (this.state[id] === DONE || this.fwdDone.has(id)) return;
    this.fwdDone.add(id);
    const kw = t.kind === 'fwd' ? (t.union ? 'union' : 'struct') : t.kind;
    this.out.push(`${kw} ${this.tagName(id)};\n\n`);
  }

  defineComposite(id: number, depth: number): void {
    if (this.state[id] !== NONE) return;
    this.state[id] = BUSY;
    const t = this.btf.type(id) as StructType;
    for (const m of t.members) this.ensure(m.type, true, depth + 1);
    this.out.push(`${t.kind} ${this.tagName(id)} ${this.body(id, t, 0)}${this.packed(id, t) ? ' __attribute__((packed))' : ''};\n\n`);
    this.state[id] = DONE;
  }

  defineEnum(id: number): void {
    if (this.state[id] !== NONE) return;
    this.state[id] = DONE;
    const t = this.btf.type(id) as EnumType | Enum64Type;
    const head = t.name === '' ? 'enum' : `enum ${this.tagName(id)}`;
    this.out.push(`${head} ${this.enumBody(t, 0)}${enumSizeAttribute(t)};\n\n`);
  }

  defineTypedef(id: number, depth: number): void {
    if (this.state[id] !== NONE) return;
    // The compiler predefines it; redefining is an error.
    if (this.btf.type(id).name === '__builtin_va_list') {
      this.state[id] = DONE;
      return;
    }
    this.state[id] = BUSY;
    const t = this.btf.type(id) as { type: number };
    this.ensure(t.type, false, depth + 1);
    this.out.push(`typedef ${this.decl(t.type, this.typedefName(id), 0)};\n\n`);
    this.state[id] = DONE;
  }

  topLevel(id: number): void {
    const t = this.btf.type(id);
    switch (t.kind) {
      case 'struct':
      case 'union':
        if (t.name !== '') this.defineComposite(id, 0);
        return;
      case 'enum':
      case 'enum64':
        if (t.name !== '' || !this.referenced[id]) this.defineEnum(id);
        return;
      case 'typedef':
        this.defineTypedef(id, 0);
        return;
      case 'fwd':
        this.declareForward(id);
        return;
      default:
        return;
    }
  }

  // Naming: struct/union/enum tags share one namespace, typedefs and
  // enumerators another; a clash gets libbpf's `___N` suffix.
  tagName(id: number): string {
    const hit = this.tagNames.get(id);
    if (hit !== undefined) return hit;
    const t = this.btf.type(id);
    let name = t.name;
    if (t.kind !== 'fwd') {
      const owner = this.tagOwner.get(name);
      if (owner === undefined) this.tagOwner.set(name, id);
      else if (owner !== id) name = this.freshName(name, (n) => this.tagOwner.has(n), (n) => this.tagOwner.set(n, id));
    }
    this.tagNames.set(id, name);
    return name;
  }

  typedefName(id: number): string {
    const hit = this.typedefNames.get(id);
    if (hit !== undefined) return hit;
    const base = this.btf.type(id).name;
    const name = this.identNames.has(base) ? this.freshName(base, (n) => this.identNames.has(n), () => {}) : base;
    this.identNames.set(name, id);
    this.typedefNames.set(id, name);
    return name;
  }

  private freshName(base: string, taken: (n: string) => boolean, claim: (n: string) => void): string {
    for (let i = 2; ; i++) {
      const n = `${base}___${i}`;
      if (!taken(n)) {
        claim(n);
        return n;
      }
    }
  }

  private enumeratorName(name: string): string {
    if (!this.identNames.has(name)) {
      this.identNames.set(name, 0);
      return name;
    }
    return this.freshName(name, (n) => this.identNames.has(n), (n) => this.identNames.set(n, 0));
  }

  /** Whether a struct needs __attribute__((packed)) to get BTF's layout. */
  packed(id: number, t: StructType): boolean {
    if (t.kind !== 'struct') return false;
    return safeAlign(this.btf, id) === 1 && t.members.some((m) => safeAlign(this.btf, m.type) > 1);
  }

  body(id: number, t: StructType, indent: number): string {
    const btf = this.btf;
    const pad = '\t'.repeat(indent + 1);
    const lines: string[] = [];
    const packed = this.packed(id, t);
    let cur = 0;
    let maxAlign = 1;
    for (const m of t.members) {
      const a = packed ? 1 : safeAlign(btf, m.type);
      maxAlign = Math.max(maxAlign, a);
      if (t.kind === 'struct') {
        const natural = m.bitfieldSize ? cur : alignUp(cur, a * 8);
        if (m.bitOffset > natural) this.padding(lines, pad, cur, m.bitOffset);
        cur = m.bitOffset;
      }
      const d = this.decl(m.type, m.name, indent + 1);
      lines.push(`${pad}${d}${m.bitfieldSize ? `: ${m.bitfieldSize}` : ''};`);
      const width = m.bitfieldSize || safeSize(btf, m.type) * 8;
      if (t.kind === 'struct') cur += width;
    }
    if (t.kind === 'struct') {
      const end = packed ? alignUp(cur, 8) : alignUp(cur, maxAlign * 8);
      if (t.size * 8 > end) this.padding(lines, pad, cur, t.size * 8);
    } else if (t.members.length) {
      const largest = Math.max(...t.members.map((m) => safeSize(btf, m.type)));
      if (t.size > alignUp(largest, maxAlign)) lines.push(`${pad}char __tsbpf_pad[${t.size}];`);
    }
    if (lines.length === 0) return '{}';
    return `{\n${lines.join('\n')}\n${'\t'.repeat(indent)}}`;
  }

  /** Unnamed bitfields filling [from, to) bits: they never change alignment. */
  private padding(lines: string[], pad: string, from: number, to: number): void {
    let cur = from;
    while (cur < to) {
      const gap = to - cur;
      // Big holes as one byte array rather than thousands of bitfields.
      if (cur % 8 === 0 && gap >= 8 * 4096) {
        const bytes = Math.floor(gap / 8);
        lines.push(`${pad}char __pad_${cur / 8}[${bytes}];`);
        cur += bytes * 8;
        continue;
      }
      let unit: [string, number];
      if (cur % 64 === 0 && gap >= 64) unit = ['long', 64];
      else if (cur % 32 === 0 && gap >= 32) unit = ['int', 32];
      else if (cur % 16 === 0 && gap >= 16) unit = ['short', 16];
      else unit = ['char', Math.min(gap, 8 - (cur % 8))];
      lines.push(`${pad}${unit[0]}: ${unit[1]};`);
      cur += unit[1];
    }
  }

  enumBody(t: EnumType | Enum64Type, indent: number): string {
    const pad = '\t'.repeat(indent + 1);
    const lines = t.values.map((v) => `${pad}${this.enumeratorName(v.name)} = ${enumLiteral(t, v.value)},`);
    if (lines.length === 0) return '{}';
    return `{\n${lines.join('\n')}\n${'\t'.repeat(indent)}}`;
  }

  /** A C declaration of `inner` with type `id`: handles pointers, arrays, function types. */
  decl(id: number, inner: string, indent: number, nest = 0): string {
    const btf = this.btf;
    if (nest > MAX_DEPTH) throw new BtfError('TYPE_LOOP', 'function prototypes nest too deeply (a loop?)', { section: btf.section, typeId: id });
    let quals: string[] = [];
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const t: BtfType = btf.type(id);
      switch (t.kind) {
        case 'const':
        case 'volatile':
        case 'restrict':
          if (!quals.includes(t.kind)) quals.push(t.kind);
          id = t.type;
          continue;
        case 'type_tag':
          id = t.type;
          continue;
        case 'ptr':
          inner = `*${quals.length ? `${quals.join(' ')} ` : ''}${inner}`;
          quals = [];
          id = t.type;
          continue;
        case 'array':
          if (inner.startsWith('*')) inner = `(${inner})`;
          inner = `${inner}[${t.nelems}]`;
          id = t.type;
          continue;
        case 'func_proto': {
          if (inner.startsWith('*')) inner = `(${inner})`;
          if ((this.inlined += t.params.length) > this.inlineBudget)
            throw new BtfError('TOO_COMPLEX', 'function prototypes are nested too often to print', { section: btf.section, typeId: id });
          const params = t.params.map((p, i) => (p.type === 0 && i === t.params.length - 1 ? '...' : this.decl(p.type, '', indent, nest + 1)));
          inner = `${inner}(${params.length ? params.join(', ') : 'void'})`;
          quals = [];
          id = t.returnType;
          continue;
        }
        default: {
          const parts = [...quals, this.specifier(id, t, indent)];
          if (inner) parts.push(inner);
          return parts.join(' ');
        }
      }
    }
    return `void ${inner}`;
  }

  private specifier(id: number, t: BtfType, indent: number): string {
    switch (t.kind) {
      case 'void':
        return 'void';
      case 'int':
        return t.name || `${t.signed ? '' : 'unsigned '}${intBySize(t.size)}`;
      case 'float':
        return t.name || 'double';
      case 'struct':
      case 'union': {
        if (t.name !== '') return `${t.kind} ${this.tagName(id)}`;
        // Anonymous types are printed where used: guard against cycles and blow-up in broken BTF.
        if (this.inlineStack.has(id)) throw new BtfError('TYPE_LOOP', `anonymous ${t.kind} contains itself`, { section: this.btf.section, typeId: id });
        if (++this.inlined > this.inlineBudget)
          throw new BtfError('TOO_COMPLEX', 'anonymous types are nested too often to print', { section: this.btf.section, typeId: id });
        this.inlineStack.add(id);
        const text = `${t.kind} ${this.body(id, t, indent)}${this.packed(id, t) ? ' __attribute__((packed))' : ''}`;
        this.inlineStack.delete(id);
        return text;
      }
      case 'enum':
      case 'enum64':
        if (t.name !== '') return `enum ${this.tagName(id)}`;
        return `enum ${this.enumBody(t, indent)}${enumSizeAttribute(t)}`;
      case 'fwd':
        return `${t.union ? 'union' : 'struct'} ${this.tagName(id)}`;
      case 'typedef':
        return this.typedefName(id);
      default:
        return 'void';
    }
  }
}

/** An enum's size follows its values in C; force BTF's size where they differ. */
function enumSizeAttribute(t: EnumType | Enum64Type): string {
  if (t.values.length === 0) return '';
  if (t.size === 1) return ' __attribute__((packed))';
  if (t.size === 2) return ' __attribute__((mode(HI)))';
  if (t.size === 8) {
    const wide = t.values.some((v) => BigInt(v.value) > 0xffffffffn || BigInt(v.value) < -0x80000000n);
    return wide ? '' : ' __attribute__((mode(word)))';
  }
  return '';
}

function intBySize(size: number): string {
  return size === 1 ? 'char' : size === 2 ? 'short' : size === 4 ? 'int' : size === 16 ? '__int128' : 'long';
}

function enumLiteral(t: EnumType | Enum64Type, value: number | bigint): string {
  const v = BigInt(value);
  if (t.kind === 'enum') return v.toString();
  if (t.signed) return v < -0x80000000n || v > 0x7fffffffn ? `${v}LL` : v.toString();
  return v > 0x7fffffffn ? `${v}ULL` : v.toString();
}

const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;

const alignCache = new WeakMap<Btf, Map<number, number>>();

function safeAlign(btf: Btf, id: number): number {
  let cache = alignCache.get(btf);
  if (!cache) alignCache.set(btf, (cache = new Map()));
  let a = cache.get(id);
  if (a !== undefined) return a;
  try {
    a = alignOf(btf, id);
  } catch {
    a = 1;
  }
  cache.set(id, a);
  return a;
}

function safeSize(btf: Btf, id: number): number {
  try {
    return sizeOf(btf, id);
  } catch {
    return 0;
  }
}

/** The whole header. */
export function toCHeader(btf: Btf, options: CHeaderOptions = {}): string {
  const w = new CWriter(btf);
  if (options.roots && options.roots.length) {
    for (const name of options.roots) for (const id of btf.findAllByName(name)) w.ensure(id, true);
  } else {
    // Anonymous enums nobody embeds are printed at top level (their constants).
    w.markReferences();
    for (let id = 1; id < btf.typeCount; id++) w.topLevel(id);
  }
  const guard = options.guard ?? '__VMLINUX_H__';
  const pai = options.preserveAccessIndex !== false;
  const head = `#ifndef ${guard}\n#define ${guard}\n\n` + (pai ? '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n' : '');
  const tail = (pai ? '#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n' : '') + `#endif /* ${guard} */\n`;
  return head + w.text() + tail;
}
