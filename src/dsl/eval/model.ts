/**
 * A module's kernel-side objects as the evaluator sees them: the exported
 * programs, and the maps, globals and header layouts their bodies use,
 * each found from its declaration (so aliases resolve to one object).
 */
import { type ArrowFunction, type CallExpression, type FunctionExpression, Node, type SourceFile } from 'ts-morph';
import { type IntT, U64 } from './ints.js';
import { type CT, EvalError, fail, type Resolver, sizeOfCT } from './resolve.js';
import { type MapKind, storeInt } from './state.js';

export type ProgramKind = 'xdp' | 'tc' | 'socket_filter' | 'cgroup_skb' | 'tracepoint' | 'raw_tracepoint' | 'kprobe' | 'kretprobe' | 'uprobe' | 'uretprobe' | 'perf_event';

export interface ProgramSpec {
  name: string;
  kind: ProgramKind;
  body: ArrowFunction | FunctionExpression;
}

export interface MapSpec {
  name: string;
  kind: MapKind;
  key?: CT;
  value: CT;
  maxEntries: number;
}

export interface GlobalSpec {
  name: string;
  section: 'rodata' | 'data';
  /** An integer, or a FixedArray or struct read and written through `get()`. */
  type: CT;
  /** An integer global's initial value (0 for the others). */
  initial: bigint;
  /** An array or struct global's initial bytes. */
  initialBytes?: Uint8Array;
}

const PROGRAM_FACTORIES: Record<string, ProgramKind> = {
  xdp: 'xdp', tc: 'tc', socketFilter: 'socket_filter', cgroupSkb: 'cgroup_skb', tracepoint: 'tracepoint', rawTracepoint: 'raw_tracepoint',
  kprobe: 'kprobe', kretprobe: 'kretprobe', uprobe: 'uprobe', uretprobe: 'uretprobe', perfEvent: 'perf_event',
};
const MAP_FACTORIES: Record<string, MapKind> = {
  hashMap: 'hash', arrayMap: 'array', perCpuHash: 'percpu_hash', perCpuArray: 'percpu_array', lruHash: 'lru_hash', ringBuf: 'ringbuf',
};

export class EvalModel {
  readonly programs = new Map<string, ProgramSpec>();
  readonly maps = new Map<Node, MapSpec>();
  readonly globals = new Map<Node, GlobalSpec>();
  readonly #headers = new Map<Node, CT>();

  constructor(
    readonly r: Resolver,
    entry: SourceFile,
    /** Evaluates a module-level constant expression (the typer's). */
    readonly constant: (node: Node) => bigint | undefined,
  ) {
    for (const [name, decls] of entry.getExportedDeclarations()) {
      for (const decl of decls) {
        const f = this.factoryOf(decl);
        if (!f) continue;
        const kind = PROGRAM_FACTORIES[f.name];
        if (kind) {
          const body = f.call.getArguments().at(-1);
          if (body && (Node.isArrowFunction(body) || Node.isFunctionExpression(body))) this.programs.set(name, { name, kind, body });
        } else if (f.name in MAP_FACTORIES) this.mapOf(decl);
        else if (f.name === 'rodata' || f.name === 'global') this.globalOf(decl);
      }
    }
  }

  /** The DSL factory a `const x = factory(…)` declaration calls. */
  factoryOf(decl: Node): { name: string; call: CallExpression } | undefined {
    if (!Node.isVariableDeclaration(decl)) return undefined;
    const init = decl.getInitializer();
    if (!init || !Node.isCallExpression(init)) return undefined;
    const name = this.r.dslName(init.getExpression());
    return name === undefined ? undefined : { name, call: init };
  }

  #name(decl: Node): string {
    return Node.isVariableDeclaration(decl) ? decl.getName() : 'anonymous';
  }

  #options(call: CallExpression): Map<string, Node> {
    const out = new Map<string, Node>();
    const arg = call.getArguments()[0];
    if (arg && Node.isObjectLiteralExpression(arg)) {
      for (const p of arg.getProperties()) if (Node.isPropertyAssignment(p)) out.set(p.getName(), p.getInitializerOrThrow());
    }
    return out;
  }

  mapOf(decl: Node): MapSpec | undefined {
    const known = this.maps.get(decl);
    if (known) return known;
    const f = this.factoryOf(decl);
    const kind = f && MAP_FACTORIES[f.name];
    if (!f || !kind) return undefined;
    const opts = this.#options(f.call);
    const num = (key: string): number => {
      const n = opts.get(key);
      const v = n ? this.constant(n) : undefined;
      if (v === undefined || v <= 0n) return fail(n ?? f.call, 'TSBPF_MAP_OPTIONS', `${key} must be a positive constant`);
      return Number(v);
    };
    const args = f.call.getTypeArguments();
    let spec: MapSpec;
    if (kind === 'ringbuf') {
      if (!args[0]) return fail(f.call, 'TSBPF_MAP_TYPE', 'ringBuf needs its event type');
      spec = { name: this.#name(decl), kind, value: this.r.layout(args[0]), maxEntries: num('size') };
    } else {
      const keyed = kind === 'hash' || kind === 'percpu_hash' || kind === 'lru_hash';
      const vNode = keyed ? args[1] : args[0];
      if (!vNode || (keyed && !args[0])) return fail(f.call, 'TSBPF_MAP_TYPE', `${f.name} needs explicit type arguments`);
      const key: CT = keyed ? this.r.layout(args[0]!) : { kind: 'int', t: { bits: 32, signed: false, name: 'u32' } };
      spec = { name: this.#name(decl), kind, key, value: this.r.layout(vNode), maxEntries: num('maxEntries') };
    }
    this.maps.set(decl, spec);
    return spec;
  }

  globalOf(decl: Node): GlobalSpec | undefined {
    const known = this.globals.get(decl);
    if (known) return known;
    const f = this.factoryOf(decl);
    if (!f || (f.name !== 'rodata' && f.name !== 'global')) return undefined;
    const tNode = f.call.getTypeArguments()[0];
    const ct: CT = tNode ? this.r.layout(tNode) : { kind: 'int', t: U64 };
    const initNode = f.call.getArguments()[0];
    const section = f.name === 'rodata' ? 'rodata' : 'data';
    if (ct.kind !== 'int') {
      const bytes = new Uint8Array(sizeOfCT(ct));
      if (initNode) this.#initialise(ct, initNode, bytes, 0);
      const spec: GlobalSpec = { name: this.#name(decl), section, type: ct, initial: 0n, initialBytes: bytes };
      this.globals.set(decl, spec);
      return spec;
    }
    const initial = initNode ? this.constant(initNode) : 0n;
    if (initial === undefined) return fail(initNode!, 'TSBPF_CONST', "a global's initial value must be a constant");
    const spec: GlobalSpec = { name: this.#name(decl), section, type: ct, initial };
    this.globals.set(decl, spec);
    return spec;
  }

  /** Writes an array or object literal of constants (docs/language.md, Globals); what is not given stays 0. */
  #initialise(t: CT, node: Node, out: Uint8Array, at: number): void {
    const n = Node.isParenthesizedExpression(node) || Node.isAsExpression(node) || Node.isSatisfiesExpression(node) ? node.getExpression() : node;
    if (t.kind === 'int') {
      const v = this.constant(n);
      if (v === undefined) return fail(n, 'TSBPF_CONST', "a global's initial value must be a constant");
      storeInt(out, at, t.t, v);
      return;
    }
    if (t.kind === 'array') {
      if (!Node.isArrayLiteralExpression(n)) return fail(n, 'TSBPF_CONST', 'an array global is initialised with an array literal');
      const elements = n.getElements();
      if (elements.length > t.length) return fail(elements[t.length]!, 'TSBPF_CONST', 'too many elements');
      elements.forEach((e, i) => this.#initialise(t.elem, e, out, at + i * sizeOfCT(t.elem)));
      return;
    }
    if (!Node.isObjectLiteralExpression(n)) return fail(n, 'TSBPF_CONST', 'a struct global is initialised with an object literal');
    for (const p of n.getProperties()) {
      const init = Node.isPropertyAssignment(p) ? p.getInitializer() : Node.isShorthandPropertyAssignment(p) ? p.getNameNode() : undefined;
      const f = init && (Node.isPropertyAssignment(p) || Node.isShorthandPropertyAssignment(p)) ? t.fields.find((x) => x.name === p.getName()) : undefined;
      if (!init || !f) return fail(p, 'TSBPF_CONST', 'a struct global is initialised with plain properties of its fields');
      this.#initialise(f.type, init, out, at + f.offset);
    }
  }

  /** The struct of a `const H = header<T>(…)` declaration (DSL headers included). */
  headerOf(decl: Node): CT | undefined {
    const known = this.#headers.get(decl);
    if (known) return known;
    const f = this.factoryOf(decl);
    if (!f || f.name !== 'header') return undefined;
    const t = f.call.getTypeArguments()[0];
    if (!t) throw new EvalError('TSBPF_HEADER', 'header<T>() needs its interface as a type argument');
    const ct = this.r.layout(t);
    this.#headers.set(decl, ct);
    return ct;
  }

  static sizeOf = sizeOfCT;
}
