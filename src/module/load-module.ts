/* eslint-disable @typescript-eslint/no-explicit-any -- handles by name hold maps of any key and value type */
/**
 * `loadModule(mod)`: typed handles on a module from user space, with no
 * code generation. `mod` is the module itself (`import * as mod from
 * './x.bpf.ts'`); its factories recorded the file that made them, which is
 * compiled (through the build cache), loaded and attached. Handles decode
 * keys, values and events by the module's own types.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CompiledMap, CompiledModule } from '../dsl/compiler/compile.js';
import type { CType } from '../dsl/compiler/ctypes.js';
import type { BpfMap } from '../kernel/map.js';
import { RingBufReader } from '../kernel/ringbuf-reader.js';
import { UpdateFlags } from '../syscall/index.js';
import { type Attached, attachProgram } from '../cli/dsl-attach.js';
import { compileCached } from '../cli/dsl-cache.js';
import { type LiveModule as LoadedModule, loadCompiledModule } from '../cli/dsl-live.js';
import { type Decoded as Plain, decodeValue, encodeValue, sumPerCpu } from '../cli/dsl-values.js';
import { formatHistogram, formatLog2Bcc, readHistogram } from './histogram.js';
import type { EventStream, GlobalNames, GlobalSettingOf, HistogramFormat, HistogramHandle, LiveModule, MapHandle, ProgramHandle, StackHandle } from './types.js';
import { type Frame, KernelSymbolizer, ProcessSymbolizer } from '../kernel/symbolize.js';
import type { GlobalSetting } from '../cli/global-settings.js';

/** Options of `loadModule`: globals to set before load, the interface and cgroup to attach to, whether to attach at once, the build cache and the verifier log level. */
export interface LoadModuleOptions<M = unknown> {
  /** Globals by name, written before load (`rodata` ones are then frozen). */
  set?: { readonly [K in GlobalNames<M>]?: GlobalSettingOf<M, K> };
  /** Interface for XDP and tc programs. */
  iface?: string;
  /** cgroup v2 directory for cgroup programs (default: the cgroup2 root). */
  cgroup?: string;
  /** Attach every program at load (default true); otherwise call `live.programs.x.attach()`. */
  attach?: boolean;
  /** The module's source file, when it cannot be found from `mod` (a bundle, a module without descriptors). */
  source?: string;
  /** Use the build cache (default true). */
  cache?: boolean;
  /** Verifier log level for every program (the log is then on `live.programs.x.raw.verifierLog`). */
  logLevel?: number;
}

/** A compiled module and its live objects: what `loadModule` builds its handles on (`tsbpf run` uses it too). */
export interface ModuleInternals {
  compiled: CompiledModule;
  loaded: LoadedModule;
}

const internals = new WeakMap<object, ModuleInternals>();

/** The compiled module and live objects behind handles made by `loadModule` (for `tsbpf run`). */
export function internalsOf(live: object): ModuleInternals | undefined {
  return internals.get(live);
}

/**
 * Compiles, loads and (unless `attach: false`) attaches a module, and gives
 * typed handles on its maps, histograms, events, programs and globals.
 *
 * @example
 * ```ts
 * import { loadModule } from 'tsbpf';
 * import * as opensnoop from './opensnoop.bpf.ts';
 *
 * await using live = await loadModule(opensnoop, { set: { targetPid: 0 } });
 * for await (const e of live.events.opens) console.log(e.comm, e.filename);
 * ```
 */
export async function loadModule<M extends object>(mod: M, options: LoadModuleOptions<M> = {}): Promise<LiveModule<M>> {
  const source = options.source ?? sourceOf(mod);
  const { module: compiled } = await compileCached(source, { cache: options.cache !== false });
  const loaded = loadCompiledModule(compiled, {
    ...(options.set ? { rodata: options.set as Record<string, GlobalSetting> } : {}),
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
  });
  try {
    const live = moduleHandles(compiled, loaded, options);
    if (options.attach !== false) {
      try {
        for (const p of Object.values(live.programs)) p.attach();
      } catch (e) {
        live.close();
        throw e;
      }
    }
    internals.set(live, { compiled, loaded });
    return live as unknown as LiveModule<M>;
  } catch (e) {
    loaded.close();
    throw e;
  }
}

/**
 * The module file that made `mod`'s descriptors: its `.ts` source, also when `mod` is a compiled `.js`.
 * @example
 * import * as mod from './opensnoop.bpf.js';
 * sourceOf(mod);   // '/path/to/opensnoop.bpf.ts'
 */
export function sourceOf(mod: object): string {
  const where = Object.values(mod).map((v) => (v && typeof v === 'object' ? (v as { definedIn?: unknown }).definedIn : undefined)).find((d): d is string => typeof d === 'string');
  if (!where) throw new TypeError('loadModule: this object has no maps or programs made by tsbpf/dsl (pass the module namespace: import * as mod from "./x.bpf.ts"), or give { source }');
  const file = where.startsWith('file:') ? fileURLToPath(where) : where;
  if (!/\.[cm]?js$/.test(file)) return file;
  const sibling = file.replace(/\.[cm]?js$/, '.ts');
  if (existsSync(sibling)) return sibling;
  // tsc's output: the source map names the .ts it came from.
  try {
    const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources?: string[]; sourceRoot?: string };
    const src = map.sources?.[0];
    if (src) {
      const path = resolve(dirname(file), map.sourceRoot ?? '', src);
      if (existsSync(path)) return path;
    }
  } catch {
    // no source map
  }
  throw new TypeError(`loadModule: cannot find the TypeScript source of ${file} (give { source })`);
}

/** Handles of any module, by name (what `loadModule` types by the module, and `tsbpf run` hands to main). */
export interface ModuleHandles extends Disposable, AsyncDisposable {
  maps: Record<string, MapHandle<any, any>>;
  histograms: Record<string, HistogramHandle<any>>;
  events: Record<string, EventStream<any>>;
  stacks: Record<string, StackHandle>;
  programs: Record<string, ProgramHandle>;
  globals: Record<string, number>;
  close(): void;
}

/** Handles on a loaded module; nothing is attached until a program handle's attach(). Closing them closes `loaded`. */
export function moduleHandles(compiled: CompiledModule, loaded: LoadedModule, options: { iface?: string; cgroup?: string } = {}): ModuleHandles {
  const maps: Record<string, unknown> = {};
  const histograms: Record<string, unknown> = {};
  const events: Record<string, unknown> = {};
  const stacks: Record<string, StackHandle> = {};
  const programs: Record<string, unknown> = {};
  const readers: RingBufReader[] = [];
  const links = new Map<string, Attached>();

  for (const spec of compiled.maps) {
    const raw = loaded.maps.get(spec.name)!;
    if (spec.histogram) histograms[spec.name] = histogramHandle(spec, raw);
    else if (spec.kind === 'ringbuf') events[spec.name] = eventStream(spec, raw, readers);
    else if (spec.kind === 'stack_trace') stacks[spec.name] = stackHandle(spec, raw);
    else maps[spec.name] = mapHandle(spec, raw);
  }
  const defaults = { ...(options.iface ? { iface: options.iface } : {}), ...(options.cgroup ? { cgroup: options.cgroup } : {}) };
  for (const p of compiled.programs) {
    const raw = loaded.programs.get(p.name);
    if (!raw) continue;
    programs[p.name] = {
      name: p.name,
      raw,
      get attachedTo() {
        return links.get(p.name)?.where;
      },
      attach(opts: { iface?: string; cgroup?: string } = {}) {
        if (links.has(p.name)) return;
        links.set(p.name, attachProgram(p, raw, { ...defaults, ...opts }));
      },
      detach() {
        links.get(p.name)?.close();
        links.delete(p.name);
      },
    };
  }
  const globals = globalsHandle(compiled, loaded);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const l of [...links.values()].reverse()) l.close();
    links.clear();
    for (const r of readers) r.close();
    loaded.close();
  };
  return {
    maps: maps as ModuleHandles['maps'], histograms: histograms as ModuleHandles['histograms'], events: events as ModuleHandles['events'], stacks,
    programs: programs as ModuleHandles['programs'], globals: globals as ModuleHandles['globals'],
    close,
    [Symbol.dispose]: close,
    [Symbol.asyncDispose]: async () => close(),
  };
}

/** 64-bit values that decodeValue kept as bigint become numbers, as the handle types promise. */
function plain(v: Plain): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

const decode = (bytes: Uint8Array, t: CType): unknown => plain(decodeValue(bytes, t));

const FLAGS = { any: UpdateFlags.ANY, noexist: UpdateFlags.NOEXIST, exist: UpdateFlags.EXIST } as const;

function mapHandle(spec: CompiledMap, raw: BpfMap) {
  const keyType = spec.key!;
  const valueType = spec.value;
  const isArray = spec.kind === 'array' || spec.kind === 'percpu_array';
  const key = (k: unknown) => encodeValue(k, keyType, `${spec.name} key`);
  const one = (v: Uint8Array) => v.subarray(0, spec.valueSize);
  const summed = (v: Uint8Array) => (raw.isPerCpu ? sumPerCpu(raw.splitPerCpu(v).map(one), valueType) : one(v));
  const split = (v: Uint8Array) => raw.splitPerCpu(v).map((p) => decode(one(p), valueType));
  const valueBytes = (v: unknown) => {
    const bytes = encodeValue(v, valueType, `${spec.name} value`);
    if (!raw.isPerCpu) return bytes;
    const out = new Uint8Array(raw.userValueSize);
    for (let i = 0; i < out.length; i += raw.perCpuStride) out.set(bytes, i);
    return out;
  };
  function* entries(): IterableIterator<[unknown, unknown]> {
    for (const [k, v] of raw) yield [decode(k, keyType), decode(summed(v), valueType)];
  }
  return {
    name: spec.name,
    raw,
    get(k: unknown) {
      const v = raw.lookup(key(k));
      return v === undefined ? undefined : decode(summed(v), valueType);
    },
    getPerCpu(k: unknown) {
      const v = raw.lookup(key(k));
      return v === undefined ? undefined : split(v);
    },
    set(k: unknown, v: unknown, flags: keyof typeof FLAGS = 'any') {
      raw.update(key(k), valueBytes(v), FLAGS[flags]);
    },
    delete(k: unknown) {
      if (!isArray) return raw.delete(key(k));
      const had = raw.lookup(key(k)) !== undefined;
      if (had) raw.update(key(k), new Uint8Array(raw.userValueSize));
      return had;
    },
    has(k: unknown) {
      return raw.lookup(key(k)) !== undefined;
    },
    entries,
    [Symbol.iterator]: entries,
    *keys() {
      for (const [k] of raw) yield decode(k, keyType);
    },
    *values() {
      for (const [, v] of entries()) yield v;
    },
    *entriesPerCpu() {
      for (const [k, v] of raw) yield [decode(k, keyType), split(v)];
    },
    clear() {
      const keys = [...raw].map(([k]) => k);
      for (const k of keys) {
        if (isArray) raw.update(k, new Uint8Array(raw.userValueSize));
        else raw.delete(k);
      }
    },
  };
}

function histogramHandle(spec: CompiledMap, raw: BpfMap) {
  return {
    name: spec.name,
    raw,
    read: () => readHistogram(raw, spec).map((g) => ({ key: g.key === undefined ? undefined : plain(g.key), buckets: g.buckets })),
    format(options: HistogramFormat<unknown> = {}) {
      const groups = readHistogram(raw, spec);
      if (options.style !== 'bcc') return formatHistogram(spec.name, groups);
      if (spec.histogram!.kind !== 'log2') throw new TypeError(`${spec.name}: bcc's format is for log2 histograms`);
      const label = options.label;
      return groups.map((g) => `${label && g.key !== undefined ? `${label(plain(g.key))}\n` : ''}${formatLog2Bcc(g.buckets, options.unit ?? '')}`).join('\n');
    },
    clear() {
      const keys = [...raw].map(([k]) => k);
      for (const k of keys) raw.delete(k);
    },
  };
}

let kernelSymbols: KernelSymbolizer | undefined;

function stackHandle(spec: CompiledMap, raw: BpfMap): StackHandle {
  const get = (id: number): bigint[] | undefined => {
    if (!Number.isInteger(id) || id < 0) return undefined;
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, id, true);
    const v = raw.lookup(key);
    if (v === undefined) return undefined;
    const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
    const out: bigint[] = [];
    for (let at = 0; at + 8 <= v.byteLength; at += 8) {
      const ip = view.getBigUint64(at, true);
      if (ip === 0n) break;
      out.push(ip);
    }
    return out;
  };
  const kernel = (id: number) => {
    kernelSymbols ??= new KernelSymbolizer();
    return get(id)?.map((ip) => kernelSymbols!.resolve(ip));
  };
  const user = (id: number, pid: number) => {
    const process = new ProcessSymbolizer(pid);
    return get(id)?.map((ip) => process.resolve(ip));
  };
  return {
    name: spec.name,
    raw,
    get,
    kernel,
    user,
    describe(sample, options = {}) {
      const kernelNames = options.only !== 'user' ? frames(sample.kernelStack, () => kernel(sample.kernelStack)) : [];
      const userNames = options.only !== 'kernel' ? frames(sample.userStack, () => user(sample.userStack, sample.pid)) : [];
      const delimiter = options.delimited === true && kernelNames.length > 0 && userNames.length > 0;
      const missed = (id: number, what: string) => (id < 0 && id !== EFAULT ? [`[Missed ${what} Stack]`] : []);
      const lines = [
        ...(options.only !== 'user' ? [...missed(sample.kernelStack, 'Kernel'), ...kernelNames] : []),
        ...(delimiter ? ['--'] : []),
        ...(options.only !== 'kernel' ? [...missed(sample.userStack, 'User'), ...userNames] : []),
      ];
      const folded = [sample.comm, ...[...userNames].reverse(), ...(delimiter ? ['-'] : []), ...[...kernelNames].reverse()].join(';');
      return { lines, folded };
    },
    clear() {
      const keys = [...raw.keys()];
      for (const k of keys) raw.delete(k);
    },
  };
}

/** -EFAULT from getId: no stack of that kind (the kernel's while in user mode, a kernel thread's user stack). */
const EFAULT = -14;

/** A stack's frames by name (`[file]` for an address in a file without a symbol for it, `[unknown]` outside every mapping). */
function frames(id: number, get: () => Frame[] | undefined): string[] {
  if (id < 0) return [];
  return (get() ?? []).map((f) => f.symbol ?? (f.module ? `[${f.module.split('/').pop()}]` : '[unknown]'));
}

function eventStream(spec: CompiledMap, raw: BpfMap, readers: RingBufReader[]) {
  let reader: RingBufReader | undefined;
  const open = () => {
    if (!reader) {
      reader = new RingBufReader(raw);
      readers.push(reader);
    }
    return reader;
  };
  return {
    name: spec.name,
    drain(cb: (e: unknown) => void) {
      return open().consume((bytes) => cb(decode(bytes, spec.value)));
    },
    close() {
      reader?.close();
    },
    async *[Symbol.asyncIterator]() {
      for await (const bytes of open()) yield decode(bytes, spec.value);
    },
  };
}

function globalsHandle(compiled: CompiledModule, loaded: LoadedModule): Record<string, unknown> {
  const out = {};
  for (const d of compiled.data) {
    const map = loaded.maps.get(d.name)!;
    for (const v of d.variables) {
      Object.defineProperty(out, v.name, {
        enumerable: true,
        get: () => decode(map.lookup(new Uint8Array(4))!.subarray(v.offset, v.offset + v.size), v.type),
        set: (value: number | bigint) => {
          if (d.name === '.rodata') throw new TypeError(`${v.name} is a rodata global: set it before load (loadModule(mod, { set: { ${v.name}: … } }))`);
          const bytes = map.lookup(new Uint8Array(4))!.slice();
          encodeValue(value, v.type, v.name, bytes, v.offset);
          map.update(new Uint8Array(4), bytes);
        },
      });
    }
  }
  return out;
}
