/**
 * TypeScript declarations of BTF types, for CO-RE access from the module
 * language (tsbpf/dsl). The shape, kept simple on purpose:
 *
 * - struct/union `foo` → `export interface foo extends KernelType<'struct foo'>
 *   { field: T; … }` (the brand keeps the C name for the compiler; a union's
 *   members overlap in memory; anonymous members are flattened into their
 *   parent, as C lets you access them); a doc comment gives sizes/offsets.
 * - integers → `u8…u64` / `i8…i64`, `_Bool` → `bool`, 128-bit → `FixedArray<u64, 2>`,
 *   floats → `number`.
 * - `char x[N]` → `CStr<N>`, other arrays → `FixedArray<T, N>`.
 * - pointers → `Ptr<T>` (tsbpf/dsl's: a kernel address whose pointee is
 *   read with CO-RE); pointers to functions and `void *` → `Ptr<unknown>`.
 * - typedef → `export type name = T`; enum `e` → `export type e = u32` plus
 *   `export const e = { A: 0, … } as const` (bigint literals past 2^53);
 *   anonymous enums → one `export const` per enumerator.
 * - bitfields keep their integer type with a `bitfield: N bits` comment.
 * - names that clash (C has separate tag and typedef namespaces, TypeScript
 *   one) get libbpf's `___N` suffix; reserved type names get a trailing `_`.
 *
 * With `roots`, only the named types and what they hold by value (and their
 * typedefs) are emitted; pointers to anything else become `Ptr<unknown>`
 * unless `followPointers` is set.
 */
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import { type BtfType, type Enum64Type, type EnumType, isComposite, isModifier, type Member, type StructType } from './types.js';

export interface TypeScriptOptions {
  roots?: string[];
  followPointers?: boolean;
  /** Module the integer types come from (default 'tsbpf/dsl'). */
  dslModule?: string;
}

const RESERVED_TYPE_NAMES = new Set([
  'any', 'unknown', 'never', 'number', 'string', 'boolean', 'symbol', 'object', 'bigint', 'void', 'undefined', 'null',
  'this', 'Ptr', 'KernelType', 'FixedArray', 'CStr', 'u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64', 'bool', 'Function', 'Object', 'Array',
]);
/** Words that cannot name a type or a const (JavaScript reserved words and TS type keywords). */
const RESERVED_WORDS = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if import in ' +
    'instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface ' +
    'package private protected public await type declare namespace module keyof infer is asserts readonly abstract global unique')
    .split(' '),
);
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MAX_DEPTH = 64;

class TsWriter {
  private readonly names = new Map<number, string>();
  private readonly taken = new Set<string>();
  private readonly valueNames = new Set<string>();
  private readonly out: string[] = [];
  private readonly included: Set<number> | undefined;

  constructor(
    private readonly btf: Btf,
    private readonly options: TypeScriptOptions,
  ) {
    if (options.roots && options.roots.length) {
      this.included = new Set();
      for (const r of options.roots) for (const id of btf.findAllByName(r)) this.include(id, 0);
    }
  }

  /** The closure of a root: by-value parts, typedefs, and pointees if asked. */
  private include(id: number, depth: number): void {
    const inc = this.included!;
    if (id === 0 || inc.has(id) || depth > 4096) return;
    const t = this.btf.type(id);
    inc.add(id);
    switch (t.kind) {
      case 'struct':
      case 'union':
        for (const m of t.members) this.include(m.type, depth + 1);
        break;
      case 'ptr':
        if (this.options.followPointers) this.include(t.type, depth + 1);
        else {
          // Typedefs and qualifiers on the way to the pointee are still needed for the name.
          inc.delete(id);
        }
        break;
      case 'typedef':
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
      case 'array':
        this.include(t.type, depth + 1);
        break;
      default:
        break;
    }
  }

  private defs: Map<string, number> | undefined;
  private readonly inlineStack = new Set<number>();
  private inlined = 0;

  /** Anonymous types print where used: bound the work on broken BTF. */
  private spend(id: number): void {
    if (++this.inlined > 4 * this.btf.typeCount + 10000)
      throw new BtfError('TOO_COMPLEX', 'anonymous types are nested too often to print', { section: this.btf.section, typeId: id });
  }

  /** First struct/union of each name. */
  private definitions(): Map<string, number> {
    if (this.defs) return this.defs;
    const defs = new Map<string, number>();
    for (let id = 1; id < this.btf.typeCount; id++) {
      const k = this.btf.kindNumber(id);
      if (k !== 4 && k !== 5) continue;
      const name = this.btf.nameOf(id);
      if (name && !defs.has(name)) defs.set(name, id);
    }
    this.defs = defs;
    return defs;
  }

  private wanted(id: number): boolean {
    return !this.included || this.included.has(id);
  }

  typeName(id: number): string {
    const hit = this.names.get(id);
    if (hit) return hit;
    const t = this.btf.type(id);
    let base = t.name.replace(/[^A-Za-z0-9_$]/g, '_');
    if (!IDENT.test(base)) base = `_${base}`;
    if (RESERVED_TYPE_NAMES.has(base) || RESERVED_WORDS.has(base)) base = `${base}_`;
    let name = base;
    for (let i = 2; this.taken.has(name); i++) name = `${base}___${i}`;
    this.taken.add(name);
    this.names.set(id, name);
    return name;
  }

  private valueName(name: string): string | undefined {
    if (!IDENT.test(name)) return undefined;
    let n = RESERVED_WORDS.has(name) ? `${name}_` : name;
    for (let i = 2; this.valueNames.has(n); i++) n = `${name}___${i}`;
    if (RESERVED_WORDS.has(n)) n = `${n}_`;
    this.valueNames.add(n);
    return n;
  }

  /** A TypeScript type expression for BTF type `id`. */
  expr(id: number, indent: number, depth = 0): string {
    if (depth > MAX_DEPTH) return 'unknown';
    const t: BtfType = this.btf.type(id);
    switch (t.kind) {
      case 'void':
        return 'void';
      case 'int':
        if (t.bool) return 'bool';
        if (t.size > 8) return `FixedArray<u64, ${Math.ceil(t.size / 8)}>`;
        return `${t.signed ? 'i' : 'u'}${t.size * 8}`;
      case 'float':
        return 'number';
      case 'ptr': {
        const target = this.stripQualifiers(t.type);
        const pt = this.btf.type(target);
        if (pt.kind === 'func_proto' || target === 0) return 'Ptr<unknown>';
        if (pt.kind !== 'void' && pt.kind !== 'int' && pt.kind !== 'float' && !this.wanted(target) && !this.options.followPointers)
          return `Ptr<unknown /* ${describe(pt)} */>`;
        return `Ptr<${this.expr(t.type, indent, depth + 1)}>`;
      }
      case 'array': {
        const elem = this.btf.type(this.stripQualifiers(t.type));
        if (elem.kind === 'int' && elem.size === 1 && !elem.bool) return `CStr<${t.nelems}>`;
        return `FixedArray<${this.expr(t.type, indent, depth + 1)}, ${t.nelems}>`;
      }
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
        return this.expr(t.type, indent, depth + 1);
      case 'typedef':
        return this.typeName(id);
      case 'struct':
      case 'union': {
        if (t.name) return this.typeName(id);
        this.spend(id);
        if (this.inlineStack.has(id)) throw new BtfError('TYPE_LOOP', `anonymous ${t.kind} contains itself`, { section: this.btf.section, typeId: id });
        this.inlineStack.add(id);
        const text = this.body(t, indent, depth + 1);
        this.inlineStack.delete(id);
        return text;
      }
      case 'enum':
      case 'enum64':
        if (t.name) return this.typeName(id);
        return enumStorage(t);
      case 'fwd':
        return this.typeName(id);
      case 'func_proto':
        return 'unknown';
      default:
        return 'unknown';
    }
  }

  private stripQualifiers(id: number): number {
    for (let i = 0; i < MAX_DEPTH; i++) {
      const t = this.btf.type(id);
      if (!isModifier(t) && t.kind !== 'typedef') return id;
      if (t.kind === 'typedef' && this.btf.type(t.type).kind !== 'int') return id;
      id = t.type;
    }
    return id;
  }

  /** Fields of a struct, anonymous members flattened (offsets made absolute). */
  private fields(t: StructType, baseBits: number, out: Array<{ m: Member; bits: number }>, depth: number): void {
    for (const m of t.members) {
      if (m.name === '' && depth < MAX_DEPTH) {
        const innerId = this.stripAll(m.type);
        const inner = this.btf.type(innerId);
        if (isComposite(inner) && !this.inlineStack.has(innerId)) {
          this.spend(innerId);
          this.inlineStack.add(innerId);
          this.fields(inner, baseBits + m.bitOffset, out, depth + 1);
          this.inlineStack.delete(innerId);
          continue;
        }
      }
      out.push({ m, bits: baseBits + m.bitOffset });
    }
  }

  private stripAll(id: number): number {
    for (let i = 0; i < MAX_DEPTH; i++) {
      const t = this.btf.type(id);
      if (!isModifier(t) && t.kind !== 'typedef') return id;
      id = t.type;
    }
    return id;
  }

  body(t: StructType, indent: number, depth: number): string {
    const list: Array<{ m: Member; bits: number }> = [];
    this.fields(t, 0, list, depth);
    if (list.length === 0) return '{}';
    const pad = '  '.repeat(indent + 1);
    const seen = new Set<string>();
    const lines: string[] = [];
    for (const { m, bits } of list) {
      if (!m.name || seen.has(m.name)) continue;
      seen.add(m.name);
      const key = IDENT.test(m.name) && m.name !== 'new' && m.name !== 'constructor' ? m.name : JSON.stringify(m.name);
      if (m.bitfieldSize) {
        // Declared as its integer type, a module would read the whole storage unit: wrong bits and no error.
        // Until the compiler emits clang's bitfield relocations, a bitfield is named here but not declared.
        lines.push(`${pad}// ${key}: bit offset ${bits}, bitfield: ${m.bitfieldSize} bits (bitfields cannot be read from modules yet)`);
        continue;
      }
      lines.push(`${pad}/** offset ${bits / 8} */`);
      lines.push(`${pad}${key}: ${this.expr(m.type, indent + 1, depth + 1)};`);
    }
    return `{\n${lines.join('\n')}\n${'  '.repeat(indent)}}`;
  }

  emit(id: number): void {
    const t = this.btf.type(id);
    switch (t.kind) {
      case 'struct':
      case 'union':
        if (!t.name) return;
        // The brand names the C type even when the TypeScript name had to change.
        const brand = t.members.some((m) => m.name === '__btf') ? '' : ` extends KernelType<'${t.kind} ${t.name}'>`;
        this.out.push(`/** ${t.kind} ${t.name}: ${t.size} bytes */\nexport interface ${this.typeName(id)}${brand} ${this.body(t, 0, 0)}\n`);
        return;
      case 'fwd':
        // An alias of the definition when there is one, else an opaque interface.
        const def = this.definitions().get(t.name);
        if (def !== undefined && this.wanted(def)) this.out.push(`export type ${this.typeName(id)} = ${this.typeName(def)};\n`);
        else this.out.push(`/** ${t.union ? 'union' : 'struct'} ${t.name}: declared only */\nexport interface ${this.typeName(id)} {}\n`);
        return;
      case 'typedef':
        this.out.push(`export type ${this.typeName(id)} = ${this.expr(t.type, 0)};\n`);
        return;
      case 'enum':
      case 'enum64':
        this.emitEnum(id, t);
        return;
      default:
        return;
    }
  }

  private emitEnum(id: number, t: EnumType | Enum64Type): void {
    const lit = (v: number | bigint) =>
      typeof v === 'bigint' ? (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? v.toString() : `${v}n`) : String(v);
    if (t.name) {
      const name = this.typeName(id);
      const entries = t.values.filter((v) => IDENT.test(v.name)).map((v) => `  ${v.name}: ${lit(v.value)},`);
      let text = `/** enum ${t.name} (${t.size} bytes) */\nexport type ${name} = ${enumStorage(t)};\n`;
      if (!this.valueNames.has(name)) {
        this.valueNames.add(name);
        text += `export const ${name} = {\n${entries.join('\n')}\n} as const;\n`;
      }
      this.out.push(text);
      return;
    }
    const lines: string[] = [];
    for (const v of t.values) {
      const n = this.valueName(v.name);
      if (n) lines.push(`export const ${n} = ${lit(v.value)};`);
    }
    if (lines.length) this.out.push(`${lines.join('\n')}\n`);
  }

  text(): string {
    const dsl = this.options.dslModule ?? 'tsbpf/dsl';
    const head =
      `// Generated by tsbpf from BTF: kernel types for CO-RE access in tsbpf modules.\n` +
      `import type { u8, u16, u32, u64, i8, i16, i32, i64, bool, FixedArray, CStr, Ptr, KernelType } from '${dsl}';\n` +
      `export type { Ptr, KernelType };\n\n`;
    return head + this.out.join('\n');
  }

  run(): string {
    for (let id = 1; id < this.btf.typeCount; id++) if (this.wanted(id)) this.emit(id);
    return this.text();
  }
}

function describe(t: BtfType): string {
  if (t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum') return `${t.kind} ${t.name || '(anon)'}`;
  if (t.kind === 'fwd') return `${t.union ? 'union' : 'struct'} ${t.name}`;
  return t.name || t.kind;
}

function enumStorage(t: EnumType | Enum64Type): string {
  const size = Math.min(Math.max(t.size, 1), 8);
  const bits = size >= 8 ? 64 : size >= 4 ? 32 : size >= 2 ? 16 : 8;
  return `${t.signed ? 'i' : 'u'}${bits}`;
}

/** TypeScript declarations for the types of `btf` (or `roots` and what they hold). */
export function toTypeScript(btf: Btf, options: TypeScriptOptions = {}): string {
  return new TsWriter(btf, options).run();
}
