/**
 * The module's kernel-side objects, found through the checker: programs
 * (exported factory calls), the maps and globals they use (exported or not),
 * each keyed by its declaration so that aliases resolve to one object.
 */
import { type CallExpression, Node, type SourceFile, type TypeNode } from 'ts-morph';
import type { CompilerContext } from './context.js';
import { alignOf, type CType, INT_TYPES, type IntType, MAX_PERCPU_VALUE_SIZE, sizeOf, spinLocks, STACK_LIMIT, typeName, U64 } from './ctypes.js';
import { initialBytes } from './global-init.js';
import { type ProgramKind, sectionName } from './program-kinds.js';
import { HISTOGRAM_FACTORIES, type HistogramKind, type HistogramSpec, histogramMap } from './histogram-model.js';
import { lpmKey, mapOfKind } from './map-kinds-model.js';
import { KEY_VALUE_KINDS, type MapKind, SPIN_LOCK_KINDS } from './map-kinds.js';
import { formatStringVariable, ringbufDropsVariable } from './hidden-variables.js';


export interface MapInfo {
  name: string;
  kind: MapKind;
  key?: CType;
  value: CType;
  maxEntries: number;
  /** Set when `pinning: 'byName'`. */
  pinByName?: boolean;
  /** Histograms: the key before the bucket, and the linear buckets (see histogram-model.ts). */
  histogram?: HistogramSpec;
  /** The `metric` option as decl tags (`tsbpf.metric.type=counter`, ...), for the engine's metrics. */
  metricTags?: string[];
  /** map_flags (BPF_F_NO_PREALLOC for LPM tries). */
  flags?: number;
  /** map_extra (a bloom filter's number of hashes). */
  mapExtra?: number;
  /** Perf event arrays: the type of the events; one slot per possible CPU when maxEntries is 0. */
  event?: CType;
  /** Maps of maps: the inner map's template. */
  inner?: MapInfo;
  /** Prog arrays: the module's programs that fill the slots, by index (their declarations; names are resolved once all programs are known). */
  programDecls?: Array<{ decl: Node; node: Node }>;
  /** An inner map found at run time (a map-of-maps lookup): the register holding it, instead of the map's own fd. */
  fdReg?: number;
  decl: Node;
  /** Its declaration has a diagnostic: uses of the map give none of their own. */
  invalid?: boolean;
}


export interface GlobalInfo {
  name: string;
  section: '.rodata' | '.data';
  /** An integer, or a FixedArray or struct (whose `get()` is a reference into the section). */
  type: CType;
  offset: number;
  /** Its bytes before user space sets it. */
  initial: Uint8Array;
  decl: Node;
  /** Its declaration has a diagnostic: uses give none of their own. */
  invalid?: boolean;
}

export interface ProgramInfo {
  name: string;
  kind: ProgramKind;
  section: string;
  target?: string;
  binary?: string;
  body: Node;
  decl: Node;
}

const MAP_FACTORIES: Record<string, MapKind> = {
  hashMap: 'hash', arrayMap: 'array', perCpuHash: 'percpu_hash', perCpuArray: 'percpu_array', lruHash: 'lru_hash', ringBuf: 'ringbuf',
  lpmTrie: 'lpm_trie', queueMap: 'queue', stackMap: 'stack', bloomFilter: 'bloom_filter', perfEventArray: 'perf_event_array',
  progArray: 'prog_array', stackTraceMap: 'stack_trace', devMap: 'devmap', devMapHash: 'devmap_hash', cpuMap: 'cpumap', xskMap: 'xskmap',
  arrayOfMaps: 'array_of_maps', hashOfMaps: 'hash_of_maps',
  taskStorage: 'task_storage', skStorage: 'sk_storage', inodeStorage: 'inode_storage', cgroupStorage: 'cgrp_storage',
  ...HISTOGRAM_FACTORIES,
};
const PROGRAM_FACTORIES: Record<string, ProgramKind> = {
  xdp: 'xdp', tc: 'tc', socketFilter: 'socket_filter', cgroupSkb: 'cgroup_skb', tracepoint: 'tracepoint', rawTracepoint: 'raw_tracepoint',
  kprobe: 'kprobe', kretprobe: 'kretprobe', uprobe: 'uprobe', uretprobe: 'uretprobe', perfEvent: 'perf_event',
  tpBtf: 'tp_btf', fentry: 'fentry', fexit: 'fexit', fmodRet: 'fmod_ret', lsm: 'lsm',
};

/** The integer type of a global that holds an integer (places are made only for those). */
export function globalIntType(g: GlobalInfo): IntType {
  if (g.type.kind !== 'int') throw new Error(`internal: global ${g.name} is not an integer`);
  return g.type;
}

export const isProgramFactory = (name: string | undefined): boolean => name !== undefined && name in PROGRAM_FACTORIES;

export class ModuleModel {
  readonly maps = new Map<Node, MapInfo>();
  readonly globals = new Map<Node, GlobalInfo>();
  /** Per ring buffer used in a program: the hidden .data counter of its failed reserves and outputs. */
  readonly ringbufDrops = new Map<MapInfo, GlobalInfo>();
  /** Format strings of bpf.snprintf, by text: hidden .rodata strings, one per distinct text. */
  readonly formatStrings = new Map<string, GlobalInfo>();
  readonly programs: ProgramInfo[] = [];
  #sectionSize = { '.rodata': 0, '.data': 0 };

  constructor(readonly cx: CompilerContext) {}

  /** Which DSL factory a variable declaration's initializer calls. */
  factoryOf(decl: Node): { name: string; call: CallExpression } | undefined {
    if (!Node.isVariableDeclaration(decl)) return undefined;
    const init = decl.getInitializer();
    if (!init || !Node.isCallExpression(init)) return undefined;
    const ref = this.cx.dslRef(init.getExpression());
    return ref?.module === 'index' ? { name: ref.name, call: init } : undefined;
  }

  /** Finds exported programs of the entry file (re-exports included). */
  discover(entry: SourceFile): void {
    for (const [exportName, decls] of entry.getExportedDeclarations()) {
      for (const decl of decls) {
        const f = this.factoryOf(decl);
        if (!f) continue;
        if (f.name in PROGRAM_FACTORIES) this.#addProgram(exportName, PROGRAM_FACTORIES[f.name]!, f.call, decl);
        else if (f.name in MAP_FACTORIES) this.mapOf(decl);
        else if (f.name === 'rodata' || f.name === 'global') this.globalOf(decl);
      }
    }
    if (this.programs.length === 0) this.cx.report(entry, 'TSBPF_NO_PROGRAMS', 'the module exports no programs (export const p = xdp(…), tracepoint(…), …)');
  }

  #addProgram(name: string, kind: ProgramKind, call: CallExpression, decl: Node): void {
    const args = call.getArguments();
    const body = args[args.length - 1];
    if (!body || !(Node.isArrowFunction(body) || Node.isFunctionExpression(body))) {
      this.cx.report(call, 'TSBPF_PROGRAM_BODY', 'the last argument of a program factory must be an arrow function or function expression');
      return;
    }
    const str = (n: Node | undefined): string | undefined => {
      if (!n) return undefined;
      if (Node.isStringLiteral(n) || Node.isNoSubstitutionTemplateLiteral(n)) return n.getLiteralValue();
      const lit = this.cx.literalOf(n);
      if (typeof lit === 'string') return lit;
      this.cx.report(n, 'TSBPF_CONST_STRING', 'this argument must be a string known at compile time');
      return undefined;
    };
    let target: string | undefined;
    let binary: string | undefined;
    if (kind === 'uprobe' || kind === 'uretprobe') {
      binary = str(args[0]);
      target = str(args[1]);
    } else if (args.length > 1) {
      target = str(args[0]);
    }
    if (kind === 'tracepoint' && target !== undefined && !/^[\w-]+\/[\w-]+$/.test(target)) {
      this.cx.report(args[0]!, 'TSBPF_TRACEPOINT', `tracepoint name '${target}' must be 'group/name'`);
    }
    if ((kind === 'tc' || kind === 'cgroup_skb') && target !== 'ingress' && target !== 'egress') {
      this.cx.report(args[0]!, 'TSBPF_DIRECTION', `direction must be 'ingress' or 'egress'`);
    }
    this.programs.push({
      name, kind, body, decl,
      section: sectionName(kind, target, binary),
      ...(target !== undefined ? { target } : {}),
      ...(binary !== undefined ? { binary } : {}),
    });
  }

  #nameOf(decl: Node): string {
    return Node.isVariableDeclaration(decl) ? decl.getName() : 'anonymous';
  }

  #options(call: CallExpression): Map<string, Node> {
    const out = new Map<string, Node>();
    const arg = call.getArguments()[0];
    // No argument at all: the factory's own type says whether options are required (histograms default them).
    if (!arg) return out;
    if (Node.isObjectLiteralExpression(arg)) {
      for (const p of arg.getProperties()) {
        if (Node.isPropertyAssignment(p)) {
          const init = p.getInitializer();
          if (init) out.set(p.getName(), init);
        }
      }
    } else {
      this.cx.report(call, 'TSBPF_MAP_OPTIONS', 'map options must be an object literal');
    }
    return out;
  }

  /** The map a declaration makes (created on first use). */
  mapOf(decl: Node): MapInfo | undefined {
    const known = this.maps.get(decl);
    if (known) return known;
    const f = this.factoryOf(decl);
    if (!f || !(f.name in MAP_FACTORIES)) return undefined;
    const diagnostics = this.cx.diagnostics.length;
    const info = this.mapFromCall(this.#nameOf(decl), f.name, f.call, decl);
    if (this.cx.diagnostics.length > diagnostics) info.invalid = true;
    this.maps.set(decl, info);
    return info;
  }

  /** Whether `name` is a DSL map factory. */
  isMapFactory(name: string): boolean {
    return name in MAP_FACTORIES;
  }

  /** The map a factory call describes (also inner-map templates, which have no declaration of their own). */
  mapFromCall(name: string, factory: string, call: CallExpression, decl: Node): MapInfo {
    const f = { name: factory, call };
    const kind = MAP_FACTORIES[f.name]!;
    const typeArgs = f.call.getTypeArguments();
    const opts = this.#options(f.call);
    const num = (key: string): number | undefined => {
      const n = opts.get(key);
      if (!n) return undefined;
      const v = this.cx.constantOf(n);
      if (v === undefined || v <= 0n || v > 0xffffffffn) {
        this.cx.report(n, 'TSBPF_MAP_OPTIONS', `${key} must be a positive constant`);
        return undefined;
      }
      return Number(v);
    };
    const info: MapInfo = { name, kind, value: U64, maxEntries: 1, decl };
    const pin = opts.get('pinning');
    if (pin && Node.isStringLiteral(pin) && pin.getLiteralValue() === 'byName') info.pinByName = true;
    const metric = opts.get('metric');
    if (metric) info.metricTags = this.#metricTags(metric);
    try {
      if (kind === 'log2hist' || kind === 'linearhist') {
        Object.assign(info, histogramMap(this.cx, kind, f.call, typeArgs[0], opts, num));
      } else if (kind === 'ringbuf') {
        const size = num('size') ?? 4096;
        if ((size & (size - 1)) !== 0 || size % 4096 !== 0) this.cx.report(opts.get('size') ?? f.call, 'TSBPF_MAP_OPTIONS', 'ring buffer size must be a power of two and a multiple of 4096');
        info.maxEntries = size;
        if (!typeArgs[0]) this.cx.fail(f.call, 'TSBPF_MAP_TYPE', 'ringBuf needs its event type: ringBuf<Event>({ size })');
        info.value = this.cx.ctypeOf(typeArgs[0]!);
        if (sizeOf(info.value) + 8 > size) this.cx.report(typeArgs[0]!, 'TSBPF_SIZE', `an event of ${sizeOf(info.value)} bytes (plus its 8-byte header) does not fit a ring buffer of ${size} bytes`);
      } else if (!KEY_VALUE_KINDS.has(kind)) {
        mapOfKind(this, info, f.call, typeArgs, opts, num);
      } else {
        info.maxEntries = num('maxEntries') ?? 1;
        const keyed = kind === 'hash' || kind === 'percpu_hash' || kind === 'lru_hash' || kind === 'lpm_trie';
        const kNode = keyed ? typeArgs[0] : undefined;
        const vNode = keyed ? typeArgs[1] : typeArgs[0];
        if (!vNode || (keyed && !kNode)) this.cx.fail(f.call, 'TSBPF_MAP_TYPE', `${f.name} needs explicit type arguments: ${keyed ? `${f.name}<Key, Value>` : `${f.name}<Value>`}(…)`);
        info.key = kNode ? this.cx.ctypeOf(kNode) : INT_TYPES.u32!;
        info.value = this.cx.ctypeOf(vNode!);
        if (sizeOf(info.value) === 0 || sizeOf(info.key) === 0) this.cx.report(f.call, 'TSBPF_MAP_TYPE', 'map keys and values must not be empty');
        // The kernel's own limits (E2BIG at map creation), reported where the type is written.
        if (kNode && sizeOf(info.key) > STACK_LIMIT) this.cx.report(kNode, 'TSBPF_SIZE', `a map key is built on the stack: ${typeName(info.key)} is ${sizeOf(info.key)} bytes, the limit is ${STACK_LIMIT}`);
        if (kind.startsWith('percpu') && sizeOf(info.value) > MAX_PERCPU_VALUE_SIZE) this.cx.report(vNode!, 'TSBPF_SIZE', `a per-CPU map value is at most ${MAX_PERCPU_VALUE_SIZE} bytes; ${typeName(info.value)} is ${sizeOf(info.value)}`);
        if (kind === 'lpm_trie') lpmKey(this.cx, info, kNode!);
      }
      this.#checkSpinLocks(info, f.call, typeArgs);
    } catch (e) {
      if (!(e instanceof Error && e.name === 'Abandon')) throw e;
    }
    return info;
  }

  /** The kernel's rules for bpf_spin_lock in maps: one, a top-level field of the value, in a hash, array or local storage map. */
  #checkSpinLocks(info: MapInfo, call: CallExpression, typeArgs: TypeNode[]): void {
    const at = typeArgs[typeArgs.length - 1] ?? call;
    if (info.key && spinLocks(info.key).count > 0) this.cx.report(typeArgs[0] ?? call, 'TSBPF_LOCK', 'a map key cannot hold a SpinLock');
    const locks = spinLocks(info.value);
    if (locks.count === 0) return;
    if (!SPIN_LOCK_KINDS.has(info.kind)) this.cx.report(at, 'TSBPF_LOCK', `a SpinLock can be in the values of hashMap, arrayMap and local storage maps, not of ${info.kind} maps`);
    else if (locks.count > 1) this.cx.report(at, 'TSBPF_LOCK', `a map value holds at most one SpinLock; ${typeName(info.value)} has ${locks.count}`);
    else if (locks.nested) this.cx.report(at, 'TSBPF_LOCK', 'a SpinLock must be a top-level field of the map value (the kernel does not look inside nested structs or arrays)');
  }

  /** `metric: { type, name?, help?, labels?, buckets?, multiplier? }` with constant values, as decl tag strings. */
  #metricTags(node: Node): string[] {
    if (!Node.isObjectLiteralExpression(node)) {
      this.cx.report(node, 'TSBPF_METRIC', 'metric must be an object literal: { type: \'counter\', help: \'...\' }');
      return [];
    }
    const tags: string[] = [];
    const text = (n: Node): string | undefined => {
      const v = Node.isStringLiteral(n) || Node.isNoSubstitutionTemplateLiteral(n) ? n.getLiteralValue() : this.cx.literalOf(n);
      return typeof v === 'string' ? v : undefined;
    };
    for (const p of node.getProperties()) {
      const init = Node.isPropertyAssignment(p) ? p.getInitializer() : undefined;
      if (!init || !Node.isPropertyAssignment(p)) {
        this.cx.report(p, 'TSBPF_METRIC', 'metric options are plain `key: value` properties');
        continue;
      }
      const key = p.getName();
      let value: string | undefined;
      switch (key) {
        case 'type':
          value = text(init);
          if (value !== 'counter' && value !== 'gauge' && value !== 'histogram') this.cx.report(init, 'TSBPF_METRIC', "metric type must be 'counter', 'gauge' or 'histogram'");
          break;
        case 'name':
          value = text(init);
          if (value !== undefined && !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(value)) this.cx.report(init, 'TSBPF_METRIC', 'a metric name is letters, digits and _');
          break;
        case 'help':
          value = text(init);
          break;
        case 'labels':
          if (Node.isArrayLiteralExpression(init)) {
            const names = init.getElements().map(text);
            if (names.some((x) => x === undefined || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(x))) this.cx.report(init, 'TSBPF_METRIC', 'labels are constant names of letters, digits and _');
            else value = names.join(',');
          } else this.cx.report(init, 'TSBPF_METRIC', "labels must be an array literal: ['port']");
          break;
        case 'buckets':
        case 'multiplier': {
          const n = this.cx.constantOf(init);
          if (n === undefined || n <= 0n) this.cx.report(init, 'TSBPF_METRIC', `${key} must be a positive constant`);
          else value = n.toString();
          break;
        }
        default:
          this.cx.report(p, 'TSBPF_METRIC', `unknown metric option '${key}' (type, name, help, labels, buckets, multiplier)`);
      }
      if (value === undefined) {
        if (key === 'type' || key === 'name' || key === 'help') this.cx.report(init, 'TSBPF_METRIC', `${key} must be a string known at compile time`);
        continue;
      }
      tags.push(`tsbpf.metric.${key}=${value}`);
    }
    if (!tags.some((t) => t.startsWith('tsbpf.metric.type='))) this.cx.report(node, 'TSBPF_METRIC', "a metric needs its type: { type: 'counter' }");
    return tags;
  }

  /** The global a declaration makes (laid out on first use). */
  globalOf(decl: Node): GlobalInfo | undefined {
    const known = this.globals.get(decl);
    if (known) return known;
    const f = this.factoryOf(decl);
    if (!f || (f.name !== 'rodata' && f.name !== 'global')) return undefined;
    const diagnostics = this.cx.diagnostics.length;
    const section = f.name === 'rodata' ? '.rodata' : '.data';
    const tNode = f.call.getTypeArguments()[0];
    let type: CType = U64;
    if (tNode) {
      try {
        type = this.cx.ctypeOf(tNode);
      } catch (e) {
        if (!(e instanceof Error && e.name === 'Abandon')) throw e;
      }
    }
    if (tNode && spinLocks(type).count > 0) this.cx.report(tNode, 'TSBPF_LOCK', 'a SpinLock lives in a map value (hashMap, arrayMap, a local storage), not in a global');
    const initial = initialBytes(this.cx, type, f.call.getArguments()[0]);
    const align = alignOf(type);
    const offset = Math.ceil(this.#sectionSize[section] / align) * align;
    this.#sectionSize[section] = offset + sizeOf(type);
    const info: GlobalInfo = { name: this.#nameOf(decl), section, type, offset, initial, decl, ...(this.cx.diagnostics.length > diagnostics ? { invalid: true } : {}) };
    this.globals.set(decl, info);
    return info;
  }

  /**
   * The u64 in .data that counts `map`'s reserve()/output() calls that
   * failed (the ring was full): user space reports them as lost events,
   * which the kernel does not count for ring buffers.
   */
  ringbufDropCounter(map: MapInfo): GlobalInfo {
    const known = this.ringbufDrops.get(map);
    if (known) return known;
    const offset = Math.ceil(this.#sectionSize['.data'] / 8) * 8;
    this.#sectionSize['.data'] = offset + 8;
    const info: GlobalInfo = { name: ringbufDropsVariable(map.name), section: '.data', type: U64, offset, initial: new Uint8Array(8), decl: map.decl };
    this.ringbufDrops.set(map, info);
    return info;
  }

  /** The hidden NUL-terminated .rodata copy of a format string (shared by every use of the same text). */
  formatString(text: string, decl: Node): GlobalInfo {
    const known = this.formatStrings.get(text);
    if (known) return known;
    const bytes = new TextEncoder().encode(text);
    const initial = new Uint8Array(bytes.length + 1);
    initial.set(bytes);
    const offset = this.#sectionSize['.rodata'];
    this.#sectionSize['.rodata'] = offset + initial.length;
    const type: CType = { kind: 'array', element: INT_TYPES.u8!, length: initial.length, cstr: true };
    const info: GlobalInfo = { name: formatStringVariable(this.formatStrings.size), section: '.rodata', type, offset, initial, decl };
    this.formatStrings.set(text, info);
    return info;
  }

  sectionSize(section: '.rodata' | '.data'): number {
    return this.#sectionSize[section];
  }
}
