/**
 * The types of a loaded module's handles, computed from the module's own
 * declarations (`typeof import('./x.bpf.ts')`): no code generation. A map
 * declared `hashMap<CStr<16>, Stats>` gives `live.maps.name` keyed by
 * `string` with `{ …Stats fields as numbers and strings }` values.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- `any` matches every instantiation of a DSL generic. */
import type { FixedArray, Global, KeyValueMap, MapDescriptor, ProgramDescriptor, RingBuf, StackTraceMap } from '../dsl/index.js';
import type { Frame } from '../kernel/symbolize.js';
import type { BpfMap } from '../kernel/map.js';
import type { Program } from '../kernel/program.js';
import type { HistogramBuckets } from './histogram.js';

/**
 * A kernel-side type as user space sees it: integers as `number` (every
 * integer type of the module language is a `number` alias; 64-bit values
 * above 2^53 are rounded, read `.raw` for exact bytes), `CStr<N>` as a
 * string, fixed arrays as arrays, structs as plain objects.
 */
export type Decoded<T> = T extends number
  ? number
  : T extends boolean
    ? boolean
    : T extends bigint
      ? bigint
      : '__cstr' extends keyof T
        ? string
        : T extends FixedArray<infer E, number>
          ? Array<Decoded<E>>
          : { -readonly [K in keyof T]: Decoded<T[K]> };

/** A value handed to a map: strings for `CStr`, numbers or bigints for integers. */
export type Encodable<T> = T extends number
  ? number | bigint
  : T extends boolean
    ? boolean
    : '__cstr' extends keyof T
      ? string
      : T extends FixedArray<infer E, number>
        ? ReadonlyArray<Encodable<E>>
        : { readonly [K in keyof T]: Encodable<T[K]> };

/** A key/value map of a loaded module, typed by the module's key and value types. */
export interface MapHandle<K, V> extends Iterable<[Decoded<K>, Decoded<V>]> {
  readonly name: string;
  /** The kernel map (raw bytes, pinning, batch operations). */
  readonly raw: BpfMap;
  /** The value under `key` (per-CPU maps: summed over CPUs), or undefined. */
  get(key: Encodable<K>): Decoded<V> | undefined;
  /** Stores `value` under `key` (per-CPU maps: the same value on every CPU). */
  set(key: Encodable<K>, value: Encodable<V>, flags?: 'any' | 'noexist' | 'exist'): void;
  /** Removes `key`; false when it was not there (array maps: zeroes the slot). */
  delete(key: Encodable<K>): boolean;
  has(key: Encodable<K>): boolean;
  keys(): IterableIterator<Decoded<K>>;
  values(): IterableIterator<Decoded<V>>;
  entries(): IterableIterator<[Decoded<K>, Decoded<V>]>;
  /** Removes every entry (array maps: zeroes every slot). */
  clear(): void;
}

/** A per-CPU map: `get` sums over CPUs, `getPerCpu` gives one value per possible CPU. */
export interface PerCpuMapHandle<K, V> extends MapHandle<K, V> {
  getPerCpu(key: Encodable<K>): Array<Decoded<V>> | undefined;
  entriesPerCpu(): IterableIterator<[Decoded<K>, Array<Decoded<V>>]>;
}

/** A histogram map (`log2Hist`, `linearHist`): buckets per key, printed as bpftrace prints hist()/lhist(). */
export interface HistogramHandle<K> {
  readonly name: string;
  readonly raw: BpfMap;
  /** Buckets with their counts (summed over CPUs), per key; keyless histograms have the single key `undefined`. */
  read(): Array<{ key: [K] extends [never] ? undefined : Decoded<K>; buckets: HistogramBuckets }>;
  /**
   * The histogram as bpftrace prints it, or (`style: 'bcc'`, log2 only) as
   * bcc's tools print it: slots `0 -> 1`, `2 -> 3`, … under a `unit`
   * header, each key's section after the line `label(key)` gives.
   */
  format(options?: HistogramFormat<[K] extends [never] ? undefined : Decoded<K>>): string;
  clear(): void;
}

/** How `HistogramHandle.format` prints. */
export interface HistogramFormat<K> {
  style?: 'bpftrace' | 'bcc';
  /** bcc: the value column's name ('usecs'). */
  unit?: string;
  /** bcc: the line before a key's section ('disk = sda'). */
  label?: (key: K) => string;
}

/** Events of a ring buffer, decoded: `for await (const e of live.events.x)`. */
export interface EventStream<T> extends AsyncIterable<Decoded<T>> {
  readonly name: string;
  /** Reads what is there now without waiting; returns how many events `cb` saw. */
  drain(cb: (event: Decoded<T>) => void): number;
  /** Ends the iteration of every `for await` on this stream. */
  close(): void;
}

/** A stack-trace map (`stackTraceMap`): the stacks programs recorded with `getId`, by id, raw or symbolized. */
export interface StackHandle {
  readonly name: string;
  readonly raw: BpfMap;
  /** The return addresses of stack `id`, innermost first, or undefined when there is no such stack. */
  get(id: number): bigint[] | undefined;
  /** Stack `id` as kernel frames, named through /proc/kallsyms. */
  kernel(id: number): Frame[] | undefined;
  /** Stack `id` (recorded with `StackFlags.USER`) as frames of process `pid`, named through its mappings and their ELF symbols (the process must still run). */
  user(id: number, pid: number): Frame[] | undefined;
  /**
   * A sample's stacks as bcc's profile and offcputime print them: `lines`
   * (kernel frames innermost first, `--` with `delimited`, then user frames;
   * `[Missed Kernel Stack]` for an id that is an error other than -EFAULT)
   * and `folded` (`comm;user…;-;kernel…`, outermost first). `only` leaves
   * out the other kind.
   */
  describe(sample: StackSample, options?: { only?: 'user' | 'kernel'; delimited?: boolean }): { lines: string[]; folded: string };
  /** Removes every stack. */
  clear(): void;
}

/** What a tool recorded per sample: its stack ids (negative: none) and whose they are. */
export interface StackSample {
  kernelStack: number;
  userStack: number;
  pid: number;
  comm: string;
}

/** A program of a loaded module. */
export interface ProgramHandle {
  readonly name: string;
  readonly raw: Program;
  /** Where it is attached ("tracepoint syscalls/sys_enter_openat"), or undefined. */
  readonly attachedTo: string | undefined;
  /** Attaches as the module declares it (XDP/tc on `iface`, cgroup programs on `cgroup`); a no-op when attached. */
  attach(options?: { iface?: string; cgroup?: string }): void;
  /** Detaches; the program stays loaded. */
  detach(): void;
}

type Keys<M, D> = { [K in keyof M]: M[K] extends D ? K : never }[keyof M];

/** Log2Hist and LinearHist (the only maps with `record`), keyed or not (`record` takes one argument without a key, two with). */
type HistogramLike = MapDescriptor & { readonly record: (...args: any[]) => void };
type HistogramKey<X extends HistogramLike> = Parameters<X['record']>['length'] extends 1 ? never : Parameters<X['record']>[0];

type MapOf<X> = X extends KeyValueMap<infer K, infer V> ? (X extends { readonly __perCpu?: true } ? PerCpuMapHandle<K, V> : MapHandle<K, V>) : never;

/** What `loadModule(mod)` gives for a module `M` (`typeof import('./x.bpf.ts')`). */
export interface LiveModule<M> extends Disposable, AsyncDisposable {
  readonly maps: { readonly [K in Keys<M, KeyValueMap<any, any>>]: MapOf<M[K]> };
  readonly histograms: { readonly [K in Keys<M, HistogramLike>]: M[K] extends HistogramLike ? HistogramHandle<HistogramKey<M[K]>> : never };
  readonly events: { readonly [K in Keys<M, RingBuf<any>>]: M[K] extends RingBuf<infer T> ? EventStream<T> : never };
  readonly stacks: { readonly [K in Keys<M, StackTraceMap>]: StackHandle };
  readonly programs: { readonly [K in Keys<M, ProgramDescriptor<any>>]: ProgramHandle };
  /** Module globals by name: `.data` globals read and written live, `rodata` read (set them with `set` at load). */
  readonly globals: { -readonly [K in Keys<M, Global<any>>]: M[K] extends Global<infer T> ? (T extends number ? number : GlobalValueOf<T>) : never };
  /** Detaches every program and closes every map, reader and program. */
  close(): void;
}

/** Names of the module's globals, for `set`. */
export type GlobalNames<M> = Keys<M, Global<any>>;

/** An array or struct global as user space reads and sets it: arrays as arrays, structs as objects of their fields. */
export type GlobalValueOf<T> = T extends number ? number | bigint : T extends FixedArray<infer E, number> ? ReadonlyArray<GlobalValueOf<E>> : { readonly [K in keyof T]?: GlobalValueOf<T[K]> };

/** What `set` takes for global `K` of module `M`. */
export type GlobalSettingOf<M, K extends keyof M> = M[K] extends Global<infer T> ? GlobalValueOf<T> : never;
