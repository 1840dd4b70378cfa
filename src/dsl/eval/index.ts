/**
 * tsbpf/eval: runs a module's programs in Node under the language's
 * contract (docs/language.md), with an in-memory packet, maps, ring buffers
 * and globals. For unit tests of a module without a kernel, and the oracle
 * the compiler is fuzzed against (it shares nothing with the compiler but
 * the parsed TypeScript).
 *
 *   const ev = ModuleEvaluator.open(nodeCompileOptions('m.bpf.ts'));   // or openModuleEvaluator(path) from tsbpf/eval/node
 *   const state = ev.newState();
 *   const { r0, packet } = ev.run('prog', { packet: bytes, state });
 *   state.mapEntries('counts'); state.events('events'); state.global('limit');
 *
 * Pure like the compiler: files come from the CompileHost.
 */
import { type CompileOptions, openModule } from '../compiler/compile.js';
import { CompileError } from '../compiler/diagnostics.js';
import { Machine, type RunEnv } from './machine.js';
import { EvalModel, type GlobalSpec, type MapSpec, type ProgramSpec } from './model.js';
import { type CT, Resolver, sizeOfCT } from './resolve.js';
import { EvalMap, EvalRing, type Life, type Mem, storeInt } from './state.js';
import { Checker, Typer } from './typer.js';

export { EvalError } from './resolve.js';
export type { ProgramSpec, MapSpec, GlobalSpec } from './model.js';

export interface RunInput {
  /** The packet of a packet program (xdp, tc); copied, the result has the packet after the run. */
  packet?: Uint8Array;
  /** Maps, ring buffers and globals; a fresh state when omitted. */
  state?: EvalState;
  /** Steps before the run is abandoned (EVAL_BUDGET). */
  budget?: number;
}

export interface RunResult {
  /** The program's return value, as its type holds it (the kernel reads the low 32 bits). */
  r0: bigint;
  /** The packet after the run (packet programs). */
  packet?: Uint8Array;
}

/** A value user space gives a global: an integer, an array of them, a struct's fields (nested). */
export type GlobalValue = bigint | number | readonly GlobalValue[] | { readonly [field: string]: GlobalValue };

function encodeGlobal(t: CT, v: GlobalValue, out: Uint8Array, at: number, where: string): void {
  if (t.kind === 'int') {
    if (typeof v !== 'bigint' && typeof v !== 'number') throw new TypeError(`${where}: expected an integer`);
    storeInt(out, at, t.t, BigInt(v));
  } else if (t.kind === 'array') {
    const items = Array.isArray(v) ? (v as readonly GlobalValue[]) : [v as GlobalValue];
    if (items.length > t.length) throw new RangeError(`${where}: ${items.length} elements, the array holds ${t.length}`);
    items.forEach((x, i) => encodeGlobal(t.elem, x, out, at + i * sizeOfCT(t.elem), `${where}[${i}]`));
  } else {
    if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${where}: expected the fields of ${t.name}`);
    for (const [name, x] of Object.entries(v as Record<string, GlobalValue>)) {
      const f = t.fields.find((y) => y.name === name);
      if (!f) throw new TypeError(`${where}: ${t.name} has no field ${name}`);
      encodeGlobal(f.type, x, out, at + f.offset, `${where}.${name}`);
    }
  }
}

/** Maps, ring buffers and globals, persisting across runs. */
export class EvalState {
  readonly #maps = new Map<string, EvalMap | EvalRing>();
  readonly #globals = new Map<string, { v: bigint }>();
  readonly #memories = new Map<string, Mem>();

  constructor(
    readonly evaluator: ModuleEvaluator,
    rodata: Record<string, GlobalValue> = {},
  ) {
    for (const spec of evaluator.maps()) this.#map(spec);
    for (const g of evaluator.globals()) {
      const given = rodata[g.name];
      if (g.type.kind === 'int') {
        if (given !== undefined && typeof given !== 'bigint' && typeof given !== 'number') throw new TypeError(`${g.name} holds an integer`);
        this.#globals.set(g.name, { v: BigInt(given ?? g.initial) });
        continue;
      }
      const bytes = g.initialBytes!.slice();
      if (given !== undefined) {
        bytes.fill(0);
        encodeGlobal(g.type, given, bytes, 0, g.name);
      }
      this.#memories.set(g.name, { bytes, life: {}, what: `global ${g.name}` });
    }
    // Fields set by path (`cfg.limit`), as tsbpf run --set takes them.
    for (const [name, value] of Object.entries(rodata)) {
      const [root, ...path] = name.split('.');
      const mem = path.length ? this.#memories.get(root!) : undefined;
      const g = mem ? evaluator.globals().find((x) => x.name === root) : undefined;
      if (!mem || !g) continue;
      let t = g.type;
      let at = 0;
      for (const field of path) {
        const f = t.kind === 'struct' ? t.fields.find((x) => x.name === field) : undefined;
        if (!f) throw new TypeError(`${name}: no such field`);
        t = f.type;
        at += f.offset;
      }
      encodeGlobal(t, value, mem.bytes, at, name);
    }
  }

  /** @internal The memory of an array or struct global. */
  globalMem(spec: GlobalSpec): Mem {
    let m = this.#memories.get(spec.name);
    if (!m) {
      m = { bytes: spec.initialBytes!.slice(), life: {}, what: `global ${spec.name}` };
      this.#memories.set(spec.name, m);
    }
    return m;
  }

  #map(spec: MapSpec): EvalMap | EvalRing {
    let m = this.#maps.get(spec.name);
    if (!m) {
      m = spec.kind === 'ringbuf'
        ? new EvalRing(spec.name, spec.maxEntries, sizeOfCT(spec.value))
        : new EvalMap(spec.name, spec.kind, sizeOfCT(spec.key!), sizeOfCT(spec.value), spec.maxEntries);
      this.#maps.set(spec.name, m);
    }
    return m;
  }

  /** @internal */
  mapFor(spec: MapSpec): EvalMap | EvalRing {
    return this.#map(spec);
  }

  /** @internal */
  globalSlot(spec: GlobalSpec): { v: bigint } {
    let g = this.#globals.get(spec.name);
    if (!g) {
      g = { v: spec.initial };
      this.#globals.set(spec.name, g);
    }
    return g;
  }

  /** A key/value map's entries (arrays: every slot), keys and values as bytes. */
  mapEntries(name: string): Array<[Uint8Array, Uint8Array]> {
    const m = this.#maps.get(name);
    if (!m || m instanceof EvalRing) throw new Error(`no key/value map ${name}`);
    return m.entries();
  }

  /** The events submitted to a ring buffer since the last call, in order. */
  events(name: string): Uint8Array[] {
    const m = this.#maps.get(name);
    if (!(m instanceof EvalRing)) throw new Error(`no ring buffer ${name}`);
    return m.drain();
  }

  /** A global's value (an integer global). */
  global(name: string): bigint {
    const g = this.#globals.get(name);
    if (!g) throw new Error(`no integer global ${name}`);
    return g.v;
  }

  /** An array or struct global's bytes. */
  globalBytes(name: string): Uint8Array {
    const m = this.#memories.get(name);
    if (!m) throw new Error(`no array or struct global ${name}`);
    return m.bytes.slice();
  }

  get mapNames(): string[] {
    return [...this.#maps.keys()];
  }

  get globalNames(): string[] {
    return [...this.#globals.keys()];
  }
}

/** XDP_PACKET_HEADROOM: what xdpAdjustHead may grow the packet by. */
const HEADROOM = 256;
const TAILROOM = 256;
const MIN_PACKET = 14;

export class ModuleEvaluator {
  readonly #model: EvalModel;
  readonly #typer: Typer;
  readonly #checker: Checker;

  private constructor(resolver: Resolver, entry: import('ts-morph').SourceFile) {
    this.#typer = new Typer(resolver);
    this.#model = new EvalModel(resolver, entry, (n) => this.#typer.constant(n));
    this.#typer.model = this.#model;
    this.#checker = new Checker(this.#typer);
  }

  /**
   * Opens a module. Throws CompileError when TypeScript finds errors in it
   * (the evaluator runs only well-typed modules).
   */
  static open(opts: CompileOptions): ModuleEvaluator {
    const { project, dsl, entry, userFiles } = openModule(opts);
    const program = project.getProgram().compilerObject;
    // Type errors only when the syntax is right, as tsc reports them.
    const syntax = userFiles.flatMap((sf) => program.getSyntacticDiagnostics(sf.compilerNode)).filter((d) => d.category === 1);
    const errors = syntax.length > 0 ? syntax : userFiles.flatMap((sf) => program.getSemanticDiagnostics(sf.compilerNode)).filter((d) => d.category === 1);
    if (errors.length > 0) {
      throw new CompileError(errors.map((d) => {
        const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
        const text = typeof d.messageText === 'string' ? d.messageText : d.messageText.messageText;
        return { file: d.file?.fileName ?? opts.entry, line: pos.line + 1, column: pos.character + 1, code: `TS${d.code}`, message: text };
      }));
    }
    return new ModuleEvaluator(new Resolver(project, dsl), entry);
  }

  programs(): ProgramSpec[] {
    return [...this.#model.programs.values()];
  }

  /** The maps the module's programs use (found by checking every program) and the exported ones. */
  maps(): MapSpec[] {
    this.#checkAll();
    return [...this.#model.maps.values()];
  }

  globals(): GlobalSpec[] {
    this.#checkAll();
    return [...this.#model.globals.values()];
  }

  #checked = false;

  #checkAll(): void {
    if (this.#checked) return;
    this.#checked = true;
    for (const p of this.#model.programs.values()) this.#checker.function(p.body);
  }

  /** Checks a program against the contract's compile-time rules; throws EvalError with the compiler's code. */
  check(program: string): void {
    const p = this.#program(program);
    this.#checker.function(p.body);
  }

  #program(name: string): ProgramSpec {
    const p = this.#model.programs.get(name);
    if (!p) throw new Error(`the module has no program ${name}`);
    return p;
  }

  newState(rodata?: Record<string, GlobalValue>): EvalState {
    return new EvalState(this, rodata);
  }

  /** Runs a program once. Throws EvalError when the program breaks the contract (a use after release, …). */
  run(program: string, input: RunInput = {}): RunResult {
    const p = this.#program(program);
    this.#checker.function(p.body);
    const state = input.state ?? this.newState();
    let packetMem: Mem | undefined = input.packet ? { bytes: input.packet.slice(), life: {}, what: 'the packet' } : undefined;
    let headroom = HEADROOM;
    let tailroom = TAILROOM;
    const env: RunEnv = {
      get packet() {
        return packetMem ? { mem: packetMem } : undefined;
      },
      map: (spec) => state.mapFor(spec),
      global: (spec) => state.globalSlot(spec) as { v: bigint },
      globalMem: (spec) => state.globalMem(spec),
      adjustPacket: (head, tail) => {
        if (!packetMem) return -22;
        const old = packetMem.bytes;
        const length = old.length - head + tail;
        if (headroom + head < 0 || tailroom - tail < 0 || length < MIN_PACKET) return -22;
        const next = new Uint8Array(length);
        const from = Math.max(0, head);
        const to = Math.min(old.length, old.length + tail);
        if (to > from) next.set(old.subarray(from, to), Math.max(0, -head));
        headroom += head;
        tailroom -= tail;
        // Headers into the old packet are released (docs/language.md, Lifetimes).
        (packetMem.life as Life).released = 'invalidated by a helper that moves packet data';
        packetMem = { bytes: next, life: {}, what: 'the packet' };
        return 0;
      },
      budget: input.budget ?? 10_000_000,
      headersAreCopies: p.kind === 'socket_filter',
    };
    const machine = new Machine(this.#model, this.#typer, env);
    const r0 = machine.runProgram(p.body);
    return { r0, ...(packetMem ? { packet: packetMem.bytes } : {}) };
  }
}

export { EvalMap, EvalRing };
