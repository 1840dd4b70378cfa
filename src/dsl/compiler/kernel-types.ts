/**
 * Kernel types seen from a module: interfaces that extend
 * `KernelType<'struct task_struct'>` (tsbpf/dsl/kernel, or a file written by
 * `tsbpf btf dump --format ts`), the type aliases and type literals they use,
 * and `Ptr<T>`. The module's object carries, as clang's does, a local BTF
 * type for each kernel struct with only the members the module reads; its
 * layout is the compiler's own (the kernel's offsets come from the CO-RE
 * relocations at load), fixed once every program is lowered.
 */
import { Node, type TypeNode, ts } from 'ts-morph';
import type { CoreReloKind } from '../../btf/ext.js';
import type { CompilerContext } from './context.js';
import { INT_TYPES, type IntType } from './ctypes.js';

export interface KernelStruct {
  /** The C name ('task_struct'); '' for an anonymous member type (a type literal). */
  name: string;
  union: boolean;
  node: Node;
  /** Members the module uses, in first-use order: the local BTF type's members. */
  used: Map<string, KType>;
}

export interface KernelEnum {
  name: string;
  int: IntType;
  /** Enumerators the module uses, with their values in the declarations. */
  used: Map<string, bigint>;
}

export type KType =
  | { kind: 'int'; int: IntType; enumName?: string }
  /** A pointer; the pointee is resolved when first needed (kernel types point at each other). */
  | { kind: 'ptr'; pointee: TypeNode | undefined }
  | { kind: 'array'; element: KType; length: number; cstr: boolean }
  | { kind: 'struct'; s: KernelStruct }
  /** A type with no layout the module can read (function pointers, floats, `unknown`). */
  | { kind: 'opaque'; text: string };

/** One step of a CO-RE access path: a member of a struct, or an array element. */
export type KStep = { s: KernelStruct; name: string } | { index: number; element: KType };

export interface CoreRef {
  kind: CoreReloKind;
  root: KernelStruct | KernelEnum;
  path: KStep[];
}

export interface LocalLayout {
  offsets: Map<string, number>;
  size: number;
  align: number;
}

/** What the object writer needs: local BTF types, and each relocation's access string and local value. */
export interface KernelTypesOutput {
  structs: KernelStruct[];
  enums: KernelEnum[];
  layout(s: KernelStruct): LocalLayout;
  relocations: Array<{ ref: CoreRef; accessString: string; localValue: bigint }>;
}

const POINTER_INT: IntType = { kind: 'int', bits: 64, signed: false, name: 'u64' };

export class KernelTypes {
  readonly #structs = new Map<Node, KernelStruct>();
  readonly #enums = new Map<Node, KernelEnum>();
  readonly relocations: CoreRef[] = [];
  readonly #pointerTypes = new Map<string, IntType>();

  constructor(readonly cx: CompilerContext) {}

  /** The integer type of a pointer whose pointee is `pointee` (a u64 that remembers what it points to). */
  pointerType(pointee: Node | undefined, btf = false): IntType {
    const key = `${pointee ? `${pointee.getSourceFile().getFilePath()}:${pointee.getStart()}` : ''}${btf ? ':btf' : ''}`;
    let t = this.#pointerTypes.get(key);
    if (!t) {
      t = { ...POINTER_INT, name: `Ptr<${pointee?.getText() ?? 'unknown'}>`, pointee: pointee ?? null, ...(btf ? { btfPointer: true } : {}) };
      this.#pointerTypes.set(key, t);
    }
    return t;
  }

  /** What a pointer points to: its type annotation, or an interface. */
  resolvePointee(p: Node): KType {
    const s = this.structOfInterface(p);
    if (s) return { kind: 'struct', s };
    return Node.isTypeNode(p) ? this.resolve(p) : { kind: 'opaque', text: p.getText() };
  }

  /** The kernel struct an interface declares, when it extends KernelType<'struct x'>. */
  structOfInterface(decl: Node): KernelStruct | undefined {
    const hit = this.#structs.get(decl);
    if (hit) return hit;
    if (!Node.isInterfaceDeclaration(decl)) return undefined;
    for (const h of decl.getExtends()) {
      if (this.cx.dslRef(h.getExpression())?.name !== 'KernelType') continue;
      const arg = h.getTypeArguments()[0];
      const lit = arg ? this.cx.literalOf(arg) : undefined;
      const m = typeof lit === 'string' ? /^(struct|union) (\w+)$/.exec(lit) : null;
      if (!m) return undefined;
      const s: KernelStruct = { name: m[2]!, union: m[1] === 'union', node: decl, used: new Map() };
      this.#structs.set(decl, s);
      return s;
    }
    return undefined;
  }

  /** The kernel type a type annotation names. */
  resolve(node: TypeNode, depth = 0): KType {
    if (depth > 64) return { kind: 'opaque', text: node.getText() };
    if (Node.isTypeLiteral(node)) {
      let s = this.#structs.get(node);
      if (!s) {
        // An anonymous struct or union member; which one does not matter to CO-RE (both are composites).
        s = { name: '', union: false, node, used: new Map() };
        this.#structs.set(node, s);
      }
      return { kind: 'struct', s };
    }
    if (node.getKind() === ts.SyntaxKind.BooleanKeyword) return { kind: 'int', int: INT_TYPES.bool! };
    if (Node.isTypeReference(node)) {
      const name = node.getTypeName();
      const ref = this.cx.dslRef(name);
      const args = node.getTypeArguments();
      if (ref?.module === 'index') {
        const int = INT_TYPES[ref.name];
        if (int) return { kind: 'int', int };
        if (ref.name === 'Ptr') return { kind: 'ptr', pointee: args[0] };
        if (ref.name === 'CStr' || ref.name === 'FixedArray') {
          const lenNode = ref.name === 'CStr' ? args[0] : args[1];
          const len = lenNode ? this.cx.literalOf(lenNode) : undefined;
          const element: KType = ref.name === 'CStr' ? { kind: 'int', int: INT_TYPES.u8! } : args[0] ? this.resolve(args[0], depth + 1) : { kind: 'opaque', text: '?' };
          if (typeof len === 'number' && Number.isInteger(len) && len >= 0) return { kind: 'array', element, length: len, cstr: ref.name === 'CStr' };
        }
      }
      const decls = this.cx.resolvedSymbol(name)?.getDeclarations() ?? [];
      for (const d of decls) {
        const s = this.structOfInterface(d);
        if (s) return { kind: 'struct', s };
        if (Node.isTypeAliasDeclaration(d)) {
          const t = d.getTypeNode();
          if (!t) continue;
          const inner = this.resolve(t, depth + 1);
          // `export type e = u32` next to `export const e = { … }`: how btf dump writes a C enum.
          if (inner.kind === 'int' && this.enumConst(d) !== undefined) return { ...inner, enumName: d.getName() };
          return inner;
        }
      }
    }
    return { kind: 'opaque', text: node.getText() };
  }

  /** The `export const e = { A: 0, … }` that goes with an enum's type alias. */
  enumConst(alias: Node): Node | undefined {
    if (!Node.isTypeAliasDeclaration(alias)) return undefined;
    const v = alias.getSourceFile().getVariableDeclaration(alias.getName());
    const init = v?.getInitializer();
    const inner = init && Node.isAsExpression(init) ? init.getExpression() : init;
    return inner && Node.isObjectLiteralExpression(inner) ? v : undefined;
  }

  /** A kernel enum from its `export const` (for enum value relocations). */
  enumOfConst(decl: Node): KernelEnum | undefined {
    const hit = this.#enums.get(decl);
    if (hit) return hit;
    if (!Node.isVariableDeclaration(decl)) return undefined;
    const alias = decl.getSourceFile().getTypeAlias(decl.getName());
    const t = alias?.getTypeNode();
    const k = t ? this.resolve(t) : undefined;
    if (!alias || k?.kind !== 'int' || !this.enumConst(alias)) return undefined;
    const e: KernelEnum = { name: decl.getName(), int: k.int, used: new Map() };
    this.#enums.set(decl, e);
    return e;
  }

  /** A member's type, or undefined when the struct has no such member. */
  member(s: KernelStruct, name: string): KType | undefined {
    const node = s.node;
    const prop = Node.isInterfaceDeclaration(node) || Node.isTypeLiteral(node) ? node.getProperty(name) : undefined;
    const t = prop?.getTypeNode();
    return t ? this.resolve(t) : undefined;
  }

  /** Records a relocation; its index goes on the instruction that carries the value. */
  add(ref: CoreRef): number {
    if ('union' in ref.root) for (const st of ref.path) if ('s' in st && !st.s.used.has(st.name)) st.s.used.set(st.name, this.member(st.s, st.name)!);
    this.relocations.push(ref);
    return this.relocations.length - 1;
  }

  /** Fixes the local layouts (nothing is added after this) and computes every relocation's access string and local value. */
  finish(): KernelTypesOutput {
    const layouts = new Map<KernelStruct, LocalLayout>();
    const layout = (s: KernelStruct): LocalLayout => {
      let l = layouts.get(s);
      if (l) return l;
      const offsets = new Map<string, number>();
      let size = 0;
      let align = 1;
      for (const [name, t] of s.used) {
        const a = alignOf(t);
        const off = s.union ? 0 : Math.ceil(size / a) * a;
        offsets.set(name, off);
        size = s.union ? Math.max(size, sizeOf(t)) : off + sizeOf(t);
        align = Math.max(align, a);
      }
      l = { offsets, size: Math.ceil(size / align) * align, align };
      layouts.set(s, l);
      return l;
    };
    const sizeOf = (t: KType): number => {
      switch (t.kind) {
        case 'int': return t.int.bits / 8;
        case 'ptr': return 8;
        case 'array': return sizeOf(t.element) * t.length;
        case 'struct': return layout(t.s).size;
        case 'opaque': return 0;
      }
    };
    const alignOf = (t: KType): number => {
      switch (t.kind) {
        case 'int': return t.int.bits / 8;
        case 'ptr': return 8;
        case 'array': return alignOf(t.element);
        case 'struct': return layout(t.s).align;
        case 'opaque': return 1;
      }
    };
    const structs = new Set<KernelStruct>();
    const enums = new Set<KernelEnum>();
    const visit = (t: KType) => {
      if (t.kind === 'array') visit(t.element);
      if (t.kind === 'struct' && !structs.has(t.s)) {
        structs.add(t.s);
        for (const m of t.s.used.values()) visit(m);
      }
    };
    const relocations = this.relocations.map((ref) => {
      if (!('union' in ref.root)) {
        // An enumerator: access string = its index in the local enum.
        const e = ref.root;
        enums.add(e);
        const name = (ref.path[0] as { name: string }).name;
        return { ref, accessString: String([...e.used.keys()].indexOf(name)), localValue: ref.kind === 'enumvalValue' ? e.used.get(name)! : 1n };
      }
      visit({ kind: 'struct', s: ref.root });
      const raw = [0];
      let offset = 0;
      let last: KType | undefined = 'union' in ref.root ? { kind: 'struct', s: ref.root } : undefined;
      for (const st of ref.path) {
        if ('s' in st) {
          raw.push([...st.s.used.keys()].indexOf(st.name));
          offset += layout(st.s).offsets.get(st.name)!;
          last = st.s.used.get(st.name)!;
        } else {
          raw.push(st.index);
          offset += st.index * sizeOf(st.element);
          last = st.element;
        }
      }
      let localValue: bigint;
      let accessString = raw.join(':');
      switch (ref.kind) {
        case 'fieldByteOffset': localValue = BigInt(offset); break;
        case 'fieldByteSize': localValue = BigInt(last ? sizeOf(last) : 0); break;
        case 'typeSize': localValue = BigInt(last ? sizeOf(last) : 0); accessString = '0'; break;
        default: localValue = 1n; if (ref.kind === 'typeExists') accessString = '0';
      }
      return { ref, accessString, localValue };
    });
    return { structs: [...structs], enums: [...enums], layout, relocations };
  }
}

const registries = new WeakMap<CompilerContext, KernelTypes>();

/** The kernel types of one compilation. */
export function kernelTypes(cx: CompilerContext): KernelTypes {
  let k = registries.get(cx);
  if (!k) {
    k = new KernelTypes(cx);
    registries.set(cx, k);
  }
  return k;
}

/** Size in bytes of a kernel type as the module reads it (its local size). */
export function readSize(t: KType): number | undefined {
  switch (t.kind) {
    case 'int': return t.int.bits / 8;
    case 'ptr': return 8;
    case 'array': {
      const e = readSize(t.element);
      return e === undefined ? undefined : e * t.length;
    }
    default: return undefined;
  }
}

export function describeKType(t: KType): string {
  switch (t.kind) {
    case 'int': return t.enumName ?? t.int.name;
    case 'ptr': return `Ptr<${t.pointee?.getText() ?? 'unknown'}>`;
    case 'array': return t.cstr ? `CStr<${t.length}>` : `FixedArray<${describeKType(t.element)}, ${t.length}>`;
    case 'struct': return t.s.name ? `${t.s.union ? 'union' : 'struct'} ${t.s.name}` : 'an anonymous struct';
    case 'opaque': return t.text;
  }
}
