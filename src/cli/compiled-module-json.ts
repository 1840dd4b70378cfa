/**
 * A compiled module as JSON text (bigints and byte arrays tagged), for the
 * build cache and for the compiler's start-up snapshot, which compiles in a
 * process of its own and hands the module back as text.
 *
 * The CO-RE part (`kernel`) is a graph: kernel structs point at each other,
 * relocations at their roots, and the object writer keys BTF ids by those
 * objects. It travels as tables with indexes and comes back as one object per
 * struct, so identity holds. The compiler's syntax nodes stay behind.
 */
import type { CompiledModule } from '../dsl/compiler/compile.js';
import type { CoreRef, KernelEnum, KernelStruct, KernelTypesOutput, KStep, KType, LocalLayout } from '../dsl/compiler/kernel-types.js';

type PlainKType =
  | Exclude<KType, { kind: 'ptr' } | { kind: 'array' } | { kind: 'struct' }>
  | { kind: 'ptr' }
  | { kind: 'array'; element: PlainKType; length: number; cstr: boolean }
  | { kind: 'struct'; s: number };

interface PlainKernel {
  structs: Array<{ name: string; union: boolean; used: Array<[string, PlainKType]>; layout: { offsets: Array<[string, number]>; size: number; align: number } }>;
  enums: Array<{ name: string; int: KernelEnum['int']; used: Array<[string, bigint]> }>;
  relocations: Array<{ kind: CoreRef['kind']; root: { struct: number } | { enum: number }; path: Array<{ s: number; name: string } | { index: number; element: PlainKType }>; accessString: string; localValue: bigint }>;
}

function plainKernel(k: KernelTypesOutput): PlainKernel {
  const structIndex = new Map(k.structs.map((s, i) => [s, i]));
  const enumIndex = new Map(k.enums.map((e, i) => [e, i]));
  const ktype = (t: KType): PlainKType => {
    switch (t.kind) {
      case 'ptr': return { kind: 'ptr' };
      case 'array': return { kind: 'array', element: ktype(t.element), length: t.length, cstr: t.cstr };
      case 'struct': return { kind: 'struct', s: structIndex.get(t.s)! };
      default: return t;
    }
  };
  return {
    structs: k.structs.map((s) => {
      const l = k.layout(s);
      return { name: s.name, union: s.union, used: [...s.used].map(([n, t]) => [n, ktype(t)]), layout: { offsets: [...l.offsets], size: l.size, align: l.align } };
    }),
    enums: k.enums.map((e) => ({ name: e.name, int: e.int, used: [...e.used] })),
    relocations: k.relocations.map((r) => ({
      kind: r.ref.kind,
      root: 'union' in r.ref.root ? { struct: structIndex.get(r.ref.root)! } : { enum: enumIndex.get(r.ref.root)! },
      path: r.ref.path.map((st) => ('s' in st ? { s: structIndex.get(st.s)!, name: st.name } : { index: st.index, element: ktype(st.element) })),
      accessString: r.accessString,
      localValue: r.localValue,
    })),
  };
}

function kernelFrom(p: PlainKernel): KernelTypesOutput {
  // The compiler's syntax node is not needed past compilation (the writer reads names, members and layouts).
  const structs: KernelStruct[] = p.structs.map((s) => ({ name: s.name, union: s.union, node: undefined as unknown as KernelStruct['node'], used: new Map() }));
  const ktype = (t: PlainKType): KType => {
    switch (t.kind) {
      case 'ptr': return { kind: 'ptr', pointee: undefined };
      case 'array': return { kind: 'array', element: ktype(t.element), length: t.length, cstr: t.cstr };
      case 'struct': return { kind: 'struct', s: structs[t.s]! };
      default: return t;
    }
  };
  p.structs.forEach((s, i) => s.used.forEach(([n, t]) => structs[i]!.used.set(n, ktype(t))));
  const layouts = new Map<KernelStruct, LocalLayout>(p.structs.map((s, i) => [structs[i]!, { offsets: new Map(s.layout.offsets), size: s.layout.size, align: s.layout.align }]));
  const enums: KernelEnum[] = p.enums.map((e) => ({ name: e.name, int: e.int, used: new Map(e.used) }));
  return {
    structs,
    enums,
    layout: (s) => layouts.get(s)!,
    relocations: p.relocations.map((r) => ({
      ref: {
        kind: r.kind,
        root: 'struct' in r.root ? structs[r.root.struct]! : enums[r.root.enum]!,
        path: r.path.map((st): KStep => ('s' in st ? { s: structs[st.s]!, name: st.name } : { index: st.index, element: ktype(st.element) })),
      },
      accessString: r.accessString,
      localValue: r.localValue,
    })),
  };
}

export function serializeModule(mod: CompiledModule): string {
  const plain = mod.kernel ? { ...mod, kernel: plainKernel(mod.kernel) } : mod;
  return JSON.stringify(plain, (k, v) => {
    if (typeof v === 'bigint') return { $bigint: v.toString() };
    if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('hex') };
    // A kernel pointer's type (a map key `Ptr<sock>`) names its pointee by syntax node, for the compiler only: it stays a pointer.
    if (k === 'pointee' && v !== null && typeof v === 'object') return null;
    return v;
  });
}

export function deserializeModule(text: string): CompiledModule {
  const mod = JSON.parse(text, (_k, v) => {
    if (v && typeof v === 'object' && '$bigint' in v) return BigInt(v.$bigint);
    if (v && typeof v === 'object' && '$bytes' in v) return new Uint8Array(Buffer.from(v.$bytes, 'hex'));
    return v;
  }) as Omit<CompiledModule, 'kernel'> & { kernel?: PlainKernel };
  return mod.kernel ? { ...mod, kernel: kernelFrom(mod.kernel) } : (mod as CompiledModule);
}
