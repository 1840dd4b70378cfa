/**
 * tsbpf/dsl: the module author's surface. A `.bpf.ts` module imports these
 * declarations; the compiler (tsbpf/compiler) recognises them by symbol and
 * lowers their uses to eBPF. At run time in Node the factories only return
 * plain descriptors, so ordinary code can import a module to get typed
 * handles on its programs and maps; the program bodies never run in Node.
 */

import type { cgroup, inode, sock, task_struct } from './kernel.js';

// ---------------------------------------------------------------- integers

/** Unsigned 8-bit integer. */
export type u8 = number;
/** Unsigned 16-bit integer. */
export type u16 = number;
/** Unsigned 32-bit integer. */
export type u32 = number;
/** Unsigned 64-bit integer (values above 2^53 come from `u64(…n)`). */
export type u64 = number;
/** Signed 8-bit integer. */
export type i8 = number;
/** Signed 16-bit integer. */
export type i16 = number;
/** Signed 32-bit integer. */
export type i32 = number;
/** Signed 64-bit integer. */
export type i64 = number;
/** A boolean stored as one byte in structs. */
export type bool = boolean;
/** 16-bit value in network byte order (convert with ntohs/htons). */
export type be16 = number;
/** 32-bit value in network byte order (convert with ntohl/htonl). */
export type be32 = number;

/**
 * A cast takes an integer, or a kernel pointer (`u64(task.real_parent)`: its
 * address, to store in an integer field or compare with one).
 */
const wrap = (bits: number, signed: boolean) => (v: number | bigint | Ptr<unknown>): number => {
  const b = BigInt(typeof v === 'number' ? Math.trunc(v) : (v as unknown as bigint));
  return Number(signed ? BigInt.asIntN(bits, b) : BigInt.asUintN(bits, b));
};

/** Explicit truncation / conversion to u8 (also a cast inside programs). */
export const u8 = wrap(8, false);
export const u16 = wrap(16, false);
export const u32 = wrap(32, false);
/** u64 conversion; a bigint literal gives a full 64-bit constant: `u64(0xffff_ffff_ffff_ffffn)`. */
export const u64 = wrap(64, false);
export const i8 = wrap(8, true);
export const i16 = wrap(16, true);
export const i32 = wrap(32, true);
export const i64 = wrap(64, true);

/** A fixed-length array embedded in a struct (`FixedArray<u8, 6>`). */
export interface FixedArray<T, N extends number> {
  [index: number]: T;
  readonly length: N;
}

/**
 * A NUL-terminated string stored in N bytes (for comm, filenames…). Inside
 * programs `equals` and `startsWith` compare it, byte by byte up to the
 * first NUL (bounded by N), with a string literal or another CStr.
 */
export interface CStr<N extends number> extends FixedArray<u8, N> {
  readonly __cstr?: N;
  /** True when the string (up to its NUL) is exactly `other`. */
  equals(other: string | CStr<number>): boolean;
  /** True when the string begins with `prefix` (a literal or the string in another CStr). */
  startsWith(prefix: string | CStr<number>): boolean;
}

// ------------------------------------------------------------ kernel types

declare const ptrBrand: unique symbol;

/**
 * A kernel pointer to T (`Ptr<task_struct>`): a u64 address whose fields
 * read as T's, each through bpf_probe_read_kernel at an offset that is a
 * CO-RE relocation, so one object runs on every kernel that has the field.
 * `Ptr<u8>` (a `char *`) is an address usable where a u64 is.
 */
export type Ptr<T> = T & { readonly [ptrBrand]?: T };

/**
 * Marks an interface as the kernel's BTF type `Name` ('struct task_struct'):
 * the compiler emits its used fields as the local BTF type the CO-RE
 * relocations name. `tsbpf btf dump --format ts` writes such interfaces;
 * the common ones ship in `tsbpf/dsl/kernel`.
 */
export interface KernelType<Name extends string> {
  readonly __btf?: Name;
}

// ------------------------------------------------------------- spin locks

declare const spinLockBrand: unique symbol;

/**
 * A spin lock (struct bpf_spin_lock, 4 bytes) as a top-level field of a
 * hashMap, arrayMap or local storage value: `bpf.withLock(v.lock, () => …)`
 * holds it while the callback runs. It is never read or written otherwise.
 */
export interface SpinLock {
  readonly [spinLockBrand]?: true;
}

// ------------------------------------------------------------- byte order

const swap16 = (v: number): number => ((v & 0xff) << 8) | ((v >> 8) & 0xff);
const swap32 = (v: number): number => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;

/** Host to network order, 16 bits (folded at compile time for constants). */
export const htons = (v: u16): be16 => swap16(v);
export const ntohs = (v: be16): u16 => swap16(v);
export const htonl = (v: u32): be32 => swap32(v);
export const ntohl = (v: be32): u32 => swap32(v);

// ------------------------------------------------------------------- loops

/** Bounded loop: `for (const i of range(n))` with a constant n. */
export function range(end: number): Iterable<u32>;
export function range(start: number, end: number): Iterable<u32>;
export function* range(a: number, b?: number): Iterable<u32> {
  const [start, end] = b === undefined ? [0, a] : [a, b];
  for (let i = start; i < end; i++) yield i;
}

// ------------------------------------------------------------------- maps

/**
 * Serves a map as a Prometheus metric when the module runs in `tsbpf engine
 * --metrics` (written as BTF decl tags on the map, so C modules can declare
 * the same with __attribute__((btf_decl_tag("tsbpf.metric.type=counter")))).
 * Labels come from the key's fields; the value is the map value (per-CPU
 * values summed).
 */
export interface MetricOptions {
  /** counter (only goes up), gauge, or histogram (log2 buckets: the key's last field is the bucket index). */
  type: 'counter' | 'gauge' | 'histogram';
  /** Family name in snake_case, without the tsbpf_ prefix (default: the map's name; counters get _total). */
  name?: string;
  help?: string;
  /** Label names for the key's fields, in order (default: the field names; `key` for an integer key). */
  labels?: string[];
  /** histogram: bucket i (0..buckets-1) counts values ≤ 2^i × multiplier; key `buckets` may hold the sum. */
  buckets?: number;
  multiplier?: number;
}

/** Options common to every map. */
export interface MapOptions {
  maxEntries: number;
  /** Pin by name under /sys/fs/bpf when loaded. */
  pinning?: 'byName';
  /** Export the map as a Prometheus metric from `tsbpf engine --metrics`. */
  metric?: MetricOptions;
}

/** What the runtime descriptor of a map holds. */
export interface MapDescriptor {
  readonly kind: 'map';
  readonly mapType: MapKind;
  readonly options: Readonly<Partial<MapOptions> & { size?: number; min?: number; max?: number; step?: number; hashes?: number; depth?: number }>;
  /** The file (URL or path) whose top level made this map: how `loadModule` finds the module's source. */
  readonly definedIn?: string;
}

/**
 * The file that called a DSL factory, read from the call stack (a plain
 * `Error().stack`, so this works in browsers too): `loadModule(mod)` compiles
 * that file, so user space needs no code generation step.
 */
function definedIn(): string | undefined {
  const stack = new Error().stack ?? '';
  const own = /\/dsl\/index\.[cm]?[jt]s\b/;
  for (const line of stack.split('\n').slice(1)) {
    // Loaders that evaluate a module from a data: URL (tsx for CommonJS) name the file in a filePath parameter.
    const data = /^\s*at (?:.*\()?data:.*[?&]filePath=([^:&\s)]+)/.exec(line);
    if (data) return decodeURIComponent(data[1]!);
    const m = /[(\s]((?:file:\/\/)?\/[^\s()]+?):\d+:\d+\)?\s*$/.exec(line);
    if (m && !own.test(m[1]!)) return m[1];
  }
  return undefined;
}

export type MapKind =
  | 'hash' | 'array' | 'percpu_hash' | 'percpu_array' | 'lru_hash' | 'ringbuf' | 'log2hist' | 'linearhist'
  | 'lpm_trie' | 'queue' | 'stack' | 'bloom_filter' | 'perf_event_array' | 'prog_array' | 'stack_trace'
  | 'devmap' | 'devmap_hash' | 'cpumap' | 'xskmap' | 'array_of_maps' | 'hash_of_maps' | 'task_storage' | 'sk_storage' | 'inode_storage' | 'cgrp_storage';

/** Update flags as in the kernel: ANY, NOEXIST, EXIST. */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

declare const mapBrand: unique symbol;

/** A key/value map usable from programs; `lookup` gives a reference into the map or null. */
export interface KeyValueMap<K, V> extends MapDescriptor {
  readonly [mapBrand]?: [K, V];
  /** A reference to the stored value (writes go to the map), or null. */
  lookup(key: K): V | null;
  update(key: K, value: V, flags?: number): i64;
  delete(key: K): i64;
  /** Adds `by` (default 1) to an integer value, inserting 0 first when missing. */
  increment(key: K, by?: number): void;
}

/** Per-CPU maps hold one value per CPU; user space reads them summed or split (a type-level mark only). */
export interface PerCpuMap<K, V> extends KeyValueMap<K, V> {
  readonly __perCpu?: true;
}
/** Maps with one value per key (a type-level mark only). */
export interface SharedMap<K, V> extends KeyValueMap<K, V> {
  readonly __perCpu?: false;
}

/**
 * Maps bpf_for_each_map_elem walks (kernel 5.13+): hash, LRU hash, array,
 * per-CPU hash and per-CPU array maps.
 */
export interface ForEachMap<K, V> {
  /**
   * bpf_for_each_map_elem: calls `callback(key, value, ctx)` for each
   * element (arrays: every index; hash maps: in the kernel's order) until it
   * returns non-zero (true, 1: stop). An integer key or value is its value;
   * a struct key is a read-only reference into the map, a struct value a
   * reference (writes go to the map; per-CPU maps: this CPU's value). The
   * callback is a BPF function of its own: it reaches the caller's state
   * through `ctx`, a struct local. The result is the number of elements
   * visited (the one that stopped included).
   */
  forEachElem<C = undefined>(callback: (key: K, value: V, ctx: C) => number | boolean | void, ctx?: C): i64;
}

export interface HashMap<K, V> extends SharedMap<K, V>, ForEachMap<K, V> {}
export interface ArrayMap<V> extends SharedMap<u32, V>, ForEachMap<u32, V> {}
export interface PerCpuHash<K, V> extends PerCpuMap<K, V>, ForEachMap<K, V> {}
export interface PerCpuArray<V> extends PerCpuMap<u32, V>, ForEachMap<u32, V> {}
export interface LruHash<K, V> extends SharedMap<K, V>, ForEachMap<K, V> {}

/** A ring buffer carrying events of type T to user space. */
export interface RingBuf<T> extends MapDescriptor {
  readonly [mapBrand]?: [T];
  /** Space for one event, or null when the buffer is full; submit or discard it on every path. */
  reserve(): T | null;
  submit(event: T): void;
  discard(event: T): void;
  /** Copies a whole event into the buffer. */
  output(event: T): i64;
}

type FactoryOptions = Partial<MapOptions> & { size?: number; min?: number; max?: number; step?: number; hashes?: number; depth?: number; inner?: unknown; programs?: unknown[] };
const mapFactory = (mapType: MapKind) => (options: FactoryOptions = {}) => ({ kind: 'map', mapType, options, definedIn: definedIn() }) as never;

export const hashMap: <K, V>(options: MapOptions) => HashMap<K, V> = mapFactory('hash');
export const arrayMap: <V>(options: MapOptions) => ArrayMap<V> = mapFactory('array');
export const perCpuHash: <K, V>(options: MapOptions) => PerCpuHash<K, V> = mapFactory('percpu_hash');
export const perCpuArray: <V>(options: MapOptions) => PerCpuArray<V> = mapFactory('percpu_array');
export const lruHash: <K, V>(options: MapOptions) => LruHash<K, V> = mapFactory('lru_hash');
/** `size` in bytes: a power of two, multiple of the page size. */
export const ringBuf: <T>(options: { size: number }) => RingBuf<T> = mapFactory('ringbuf');

// ------------------------------------------------------- more map kinds

/**
 * A longest-prefix-match trie (BPF_MAP_TYPE_LPM_TRIE). The key is a struct
 * whose first field is the prefix length in bits (`prefixLen: u32`),
 * followed by the data matched most-significant byte first: an IPv4
 * address as `be32`, an IPv6 one as `FixedArray<u8, 16>`. `lookup` with a
 * full-length key gives the value of the longest stored prefix that matches.
 */
export interface LpmTrie<K extends { prefixLen: u32 }, V> extends SharedMap<K, V> {
  readonly __lpm?: true;
}
export const lpmTrie: <K extends { prefixLen: u32 }, V>(options: MapOptions) => LpmTrie<K, V> = mapFactory('lpm_trie');

/** A FIFO queue (BPF_MAP_TYPE_QUEUE) or LIFO stack (BPF_MAP_TYPE_STACK) of values. */
export interface QueueMap<V> extends MapDescriptor {
  readonly [mapBrand]?: [V];
  /** 0, or -E2BIG when full (with `UpdateFlags.EXIST` the oldest element is dropped to make room). */
  push(value: V, flags?: number): i64;
  /** Removes and gives the next element (a copy), or null when empty. */
  pop(): V | null;
  /** Gives the next element (a copy) without removing it, or null when empty. */
  peek(): V | null;
}
export const queueMap: <V>(options: MapOptions) => QueueMap<V> = mapFactory('queue');
export const stackMap: <V>(options: MapOptions) => QueueMap<V> = mapFactory('stack');

/** A bloom filter (BPF_MAP_TYPE_BLOOM_FILTER): `has` may say yes for values never added, never no for added ones. */
export interface BloomFilter<V> extends MapDescriptor {
  readonly [mapBrand]?: [V];
  add(value: V): i64;
  has(value: V): boolean;
}
/** `hashes`: number of hash functions, 1…15 (default 5, as the kernel). */
export const bloomFilter: <V>(options: MapOptions & { hashes?: number }) => BloomFilter<V> = mapFactory('bloom_filter');

/**
 * Events to user space through per-CPU perf buffers (BPF_MAP_TYPE_PERF_EVENT_ARRAY),
 * read with lost-sample counts. One slot per CPU: `maxEntries` may be left out.
 */
export interface PerfEventArray<T> extends MapDescriptor {
  readonly [mapBrand]?: [T];
  /** Copies `event` to this CPU's buffer: 0, or a negative errno (-ENOENT when user space reads no buffer on this CPU). */
  output(ctx: unknown, event: T): i64;
}
export const perfEventArray: <T>(options?: Partial<MapOptions>) => PerfEventArray<T> = mapFactory('perf_event_array');

/**
 * Programs of one kind by index (BPF_MAP_TYPE_PROG_ARRAY), for tail calls.
 * `programs` lists the module's programs that fill it, at their positions,
 * when user space loads the module; those programs are not attached.
 */
export interface ProgArray<C> extends MapDescriptor {
  readonly [mapBrand]?: [C];
  /** Jumps to the program at `index` (never returns then); falls through when the slot is empty. */
  tailCall(ctx: C, index: u32): void;
}
export const progArray: <C>(options: Partial<MapOptions> & { programs?: ProgramDescriptor<C>[] }) => ProgArray<C> = mapFactory('prog_array');

/** Flags of `getId`/`bpf.getStack`: the user stack instead of the kernel's, and what to do on a hash collision. */
export const StackFlags = { USER: 0x100, FAST_CMP: 0x200, REUSE: 0x400 } as const;

/** Stack traces by id (BPF_MAP_TYPE_STACK_TRACE): `depth` return addresses each (default 127). */
export interface StackTraceMap extends MapDescriptor {
  readonly [mapBrand]?: ['stack'];
  /** Records the current stack; its id (≥ 0) or a negative errno. */
  getId(ctx: unknown, flags?: number): i64;
}
export const stackTraceMap: (options: MapOptions & { depth?: number }) => StackTraceMap = mapFactory('stack_trace');

/** Redirect targets of XDP programs: network devices (devmap, devmapHash), CPUs (cpumap), AF_XDP sockets (xskmap). */
export interface RedirectMap<K> extends MapDescriptor {
  readonly [mapBrand]?: [K];
  /** The XDP verdict redirecting to the entry at `key`; when it is absent, the low two bits of `flags` (an XdpAction). */
  redirect(key: K, flags?: number): i64;
}
/** Interfaces by index: values are ifindexes, set from user space. */
export const devMap: (options: MapOptions) => RedirectMap<u32> = mapFactory('devmap');
/** Interfaces by any u32 key. */
export const devMapHash: (options: MapOptions) => RedirectMap<u32> = mapFactory('devmap_hash');
/** CPUs by index: values are queue sizes, set from user space. */
export const cpuMap: (options: MapOptions) => RedirectMap<u32> = mapFactory('cpumap');
/** AF_XDP sockets by receive queue: values are socket fds, set from user space. */
export const xskMap: (options: MapOptions) => RedirectMap<u32> = mapFactory('xskmap');

/**
 * Maps of maps: each slot holds a map shaped like `inner` (the same map
 * factory call, used only as a template). User space swaps inner maps;
 * a program looks one up and uses it as the inner map.
 */
export interface MapOfMaps<K, M> extends MapDescriptor {
  readonly [mapBrand]?: [K, M];
  /** The inner map at `key`, or null. */
  lookup(key: K): M | null;
}
/**
 * Local storage: a value of type V per kernel object of type O, freed with
 * the object. No `maxEntries`: one slot per object. The object is a pointer
 * the verifier knows by its BTF type: an argument of a tp_btf, fentry or
 * lsm program, or `bpf.currentTaskBtf()` for a task.
 */
export interface LocalStorage<O, V> extends MapDescriptor {
  readonly [mapBrand]?: [O, V];
  /** A reference to the object's value, or null; with `create`, a zeroed value is made when there is none. */
  get(owner: Ptr<O>, create?: boolean): V | null;
  /** Removes the object's value: 0, or -ENOENT. */
  delete(owner: Ptr<O>): i64;
}
/** A value per task (BPF_MAP_TYPE_TASK_STORAGE). */
export interface TaskStorage<V> extends LocalStorage<task_struct, V> {}
/**
 * A value per socket (BPF_MAP_TYPE_SK_STORAGE): in tp_btf, fentry/fexit and
 * lsm programs for a Ptr<sock> argument, in tc and cgroup skb programs for
 * the packet's socket (`ctx.sk`, or `bpf.skFullsock(ctx.sk)`).
 */
export interface SkStorage<V> extends LocalStorage<sock, V> {
  get(owner: Ptr<sock> | SockCommon, create?: boolean): V | null;
  delete(owner: Ptr<sock> | SockCommon): i64;
}
/** A value per inode (BPF_MAP_TYPE_INODE_STORAGE), in lsm programs only. */
export interface InodeStorage<V> extends LocalStorage<inode, V> {}
/** A value per cgroup v2 (BPF_MAP_TYPE_CGRP_STORAGE, Linux 6.2+), in tp_btf, fentry/fexit and lsm programs. */
export interface CgroupStorage<V> extends LocalStorage<cgroup, V> {}
export const taskStorage: <V>(options?: Partial<MapOptions>) => TaskStorage<V> = mapFactory('task_storage');
export const skStorage: <V>(options?: Partial<MapOptions>) => SkStorage<V> = mapFactory('sk_storage');
export const inodeStorage: <V>(options?: Partial<MapOptions>) => InodeStorage<V> = mapFactory('inode_storage');
export const cgroupStorage: <V>(options?: Partial<MapOptions>) => CgroupStorage<V> = mapFactory('cgrp_storage');
export const arrayOfMaps: <M extends MapDescriptor>(options: MapOptions & { inner: M }) => MapOfMaps<u32, M> = mapFactory('array_of_maps');
export const hashOfMaps: <K, M extends MapDescriptor>(options: MapOptions & { inner: M }) => MapOfMaps<K, M> = mapFactory('hash_of_maps');

// ------------------------------------------------------------- histograms

declare const histBrand: unique symbol;

/** Records a value: `h.record(v)`, or `h.record(key, v)` when the histogram is keyed. */
export type HistRecord<K> = [K] extends [never] ? (value: u64) => void : (key: K, value: u64) => void;

/**
 * A power-of-two histogram, as bpftrace's `hist()`: buckets (…, 0), [0], [1],
 * [2, 4), [4, 8), …; keyed by anything (`log2Hist<CStr<16>>()`) or not.
 * `tsbpf run` prints it as bpftrace does; user space reads it with `live.histograms.x`.
 */
export interface Log2Hist<K = never> extends MapDescriptor {
  readonly [histBrand]?: ['log2', K];
  readonly record: HistRecord<K>;
}

/** A linear histogram, as bpftrace's `lhist(v, min, max, step)`: buckets (…, min), [min, min+step), …, [max, …). */
export interface LinearHist<K = never> extends MapDescriptor {
  readonly [histBrand]?: ['linear', K];
  readonly record: HistRecord<K>;
}

/** Options of a histogram: how many (key, bucket) pairs it holds (default 10240). */
export interface HistogramOptions {
  maxEntries?: number;
}

export const log2Hist: <K = never>(options?: HistogramOptions) => Log2Hist<K> = mapFactory('log2hist');
export const linearHist: <K = never>(options: HistogramOptions & { min: number; max: number; step: number }) => LinearHist<K> = mapFactory('linearhist');

// ---------------------------------------------------------------- globals

declare const globalBrand: unique symbol;

/** A module global: `rodata` values are set by user space before load; `global` values are mutable. */
export interface Global<T> {
  readonly kind: 'global';
  readonly section: 'rodata' | 'data';
  readonly initial: T;
  readonly [globalBrand]?: T;
  /** Reads the value inside a program. */
  get(): T;
  /** Writes the value inside a program (only for mutable globals). */
  set(value: T): void;
}

/**
 * How the initial value of a global of type T is written: an integer; an
 * array literal for a FixedArray (elements not given are 0); an object
 * literal for a struct (fields not given are 0).
 */
export type GlobalInit<T> = T extends number ? T : T extends FixedArray<infer E, number> ? readonly GlobalInit<E>[] : { readonly [K in keyof T]?: GlobalInit<T[K]> };

/**
 * Read-only configuration, frozen after user space sets it (`tsbpf run
 * --set name=value`, `--set ports=53,5353` for an array, `--set
 * cfg.limit=10` for a struct field). An array or struct is read through
 * `get()`: `ports.get()[i]`, `cfg.get().limit`.
 */
export function rodata<T extends number>(initial: T): Global<T>;
export function rodata<T extends object>(initial: GlobalInit<T>): Global<T>;
export function rodata(initial: unknown): Global<unknown> {
  return { kind: 'global', section: 'rodata', initial } as Global<unknown>;
}
/** A mutable global variable shared by all programs of the module (an array or struct is written through `get()`). */
export function global<T extends number>(initial: T): Global<T>;
export function global<T extends object>(initial: GlobalInit<T>): Global<T>;
export function global(initial: unknown): Global<unknown> {
  return { kind: 'global', section: 'data', initial } as Global<unknown>;
}

// ---------------------------------------------------------------- packets

declare const headerBrand: unique symbol;

/** A header layout usable with `ctx.packet.at`; `size` is its size in bytes. */
export interface HeaderType<T> {
  readonly kind: 'header';
  readonly name: string;
  readonly size: number;
  readonly [headerBrand]?: T;
}

/** Declares a header type from an interface: `export const MyHdr = header<MyHdr>('MyHdr', 8)`. */
export const header = <T>(name: string, size: number): HeaderType<T> => ({ kind: 'header', name, size }) as HeaderType<T>;

/** Packet data of packet programs. */
export interface Packet {
  /** The header at `offset`, or null when the packet is too short (the bounds check is emitted for you). */
  at<T>(header: HeaderType<T>, offset: number): T | null;
  /** The byte at `offset`, or -1 when the packet is too short. */
  byte(offset: number): i32;
  /** Packet length (data_end - data). */
  readonly length: u32;
}

export const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
export const TcAction = { UNSPEC: -1, OK: 0, RECLASSIFY: 1, SHOT: 2, PIPE: 3, STOLEN: 4, QUEUED: 5, REPEAT: 6, REDIRECT: 7 } as const;
export const CgroupAction = { DROP: 0, ALLOW: 1 } as const;

/**
 * struct bpf_fib_lookup (64 bytes, the kernel's layout) for `bpf.fibLookup`:
 * the inputs of a route lookup, overwritten by its outputs. Start from a
 * zeroed value (`let p!: FibLookupParams`) and set what the lookup needs.
 */
export interface FibLookupParams {
  /** FibFamily.INET or INET6 (in); the family of the next hop (out). */
  family: u8;
  /** For FIB rules that match on L4 (in). */
  l4Protocol: u8;
  sport: be16;
  dport: be16;
  /** In: the L3 length (`ntohs(ip.totLen)`) to check against the route's MTU, 0 for no check; out: the MTU when the result is FRAG_NEEDED. */
  totLen: u16;
  /** In: the device the packet came in on (`ctx.ingressIfindex`), or the one to route from with FibFlags.OUTPUT; out: the egress device. */
  ifindex: u32;
  /** In: the IPv4 TOS (the low byte) or the IPv6 flowinfo as loaded from the header; out: the route's metric. */
  tos: u32;
  /** Source address: IPv4 in src[0] (`ip.saddr`), IPv6 as four words in network order (in); the source the route would use with FibFlags.SRC (out). */
  src: FixedArray<be32, 4>;
  /** Destination address, as `src`. */
  dst: FixedArray<be32, 4>;
  /** In: the VLAN to look up from (unused by the kernel's IPv4/IPv6 lookups); with FibFlags.TBID, the table id in vlanProto and vlanTci (as a u32). */
  vlanProto: be16;
  vlanTci: be16;
  /** Out (SUCCESS): the egress device's MAC address. */
  smac: FixedArray<u8, 6>;
  /** Out (SUCCESS): the next hop's MAC address. */
  dmac: FixedArray<u8, 6>;
}

/** Address families of FibLookupParams.family (AF_INET, AF_INET6). */
export const FibFamily = { INET: 2, INET6: 10 } as const;
/** Flags of `bpf.fibLookup` (BPF_FIB_LOOKUP_*). */
export const FibFlags = { DIRECT: 1, OUTPUT: 2, SKIP_NEIGH: 4, TBID: 8, SRC: 16 } as const;
/** Results of `bpf.fibLookup` (BPF_FIB_LKUP_RET_*); negative values are errnos (bad params). */
export const FibResult = {
  /** Forward: ifindex, smac and dmac are set. */
  SUCCESS: 0,
  BLACKHOLE: 1,
  UNREACHABLE: 2,
  PROHIBIT: 3,
  /** The packet is not forwarded (it is local, or the route is not unicast): pass it to the stack. */
  NOT_FWDED: 4,
  /** Forwarding is off on the ingress device (net.ipv4.conf.DEV.forwarding). */
  FWD_DISABLED: 5,
  UNSUPP_LWT: 6,
  /** The route is known but the next hop's MAC is not: ifindex (and with it the next hop in dst) is set; pass to the stack to resolve it. */
  NO_NEIGH: 7,
  /** The packet is longer than the route's MTU (in totLen). */
  FRAG_NEEDED: 8,
  NO_SRC_ADDR: 9,
} as const;

export interface XdpContext {
  readonly packet: Packet;
  readonly ingressIfindex: u32;
  readonly rxQueueIndex: u32;
}

/** The __sk_buff context of tc, socket filter and cgroup skb programs. */
export interface SkbContext {
  readonly packet: Packet;
  readonly len: u32;
  readonly pktType: u32;
  readonly mark: u32;
  readonly queueMapping: u32;
  readonly protocol: be16;
  readonly vlanPresent: u32;
  readonly vlanTci: u32;
  readonly priority: u32;
  readonly ingressIfindex: u32;
  readonly ifindex: u32;
  readonly hash: u32;
}

/**
 * The packet's socket as tc and cgroup skb programs see it (`ctx.sk`, the
 * kernel's struct bpf_sock over a sock_common): what every socket has, its
 * addresses, ports and state. Read-only; `bpf.skFullsock(sk)` gives the
 * full socket, with the rest.
 */
export interface SockCommon {
  readonly boundDevIf: u32;
  /** AF_INET (2) or AF_INET6 (10). */
  readonly family: u32;
  readonly srcIp4: be32;
  readonly srcIp6: FixedArray<be32, 4>;
  /** Host byte order. */
  readonly srcPort: u32;
  /** Network byte order. */
  readonly dstPort: be16;
  readonly dstIp4: be32;
  readonly dstIp6: FixedArray<be32, 4>;
  /** The TCP state (TCP_ESTABLISHED is 1); UDP sockets report TCP_CLOSE (7) or ESTABLISHED when connected. */
  readonly state: u32;
  readonly rxQueueMapping: i32;
}
/** A full socket (struct bpf_sock from bpf_sk_fullsock): also its type, protocol, mark and priority; the owner of `skStorage` values. */
export interface BpfSock extends SockCommon {
  /** SOCK_STREAM (1), SOCK_DGRAM (2), … */
  readonly type: u32;
  /** IPPROTO_TCP (6), IPPROTO_UDP (17), … */
  readonly protocol: u32;
  readonly mark: u32;
  readonly priority: u32;
}

/** The context of tc and cgroup skb programs: __sk_buff with the packet's socket. */
export interface SkbSockContext extends SkbContext {
  /** The packet's socket (skb->sk), or null (tc: packets not yet or no longer owned by a local socket). */
  readonly sk: SockCommon | null;
}

/** Tracepoint fields by name, typed from the tracepoint's format at compile time. */
export type TracepointContext<F> = F & { readonly [field: string]: u64 };

/** Raw tracepoint and probe arguments. */
export interface ArgsContext {
  /** Argument n (0-based). */
  arg(n: number): u64;
}

export interface ProbeContext extends ArgsContext {
  /** The return value (kretprobe/uretprobe). */
  ret(): u64;
}

export interface PerfEventContext {
  readonly samplePeriod: u64;
  readonly addr: u64;
}

// ---------------------------------------------------------------- programs

export type ProgramKind =
  | 'xdp' | 'tc' | 'socket_filter' | 'tracepoint' | 'raw_tracepoint' | 'kprobe' | 'kretprobe'
  | 'uprobe' | 'uretprobe' | 'perf_event' | 'cgroup_skb'
  | 'tp_btf' | 'fentry' | 'fexit' | 'fmod_ret' | 'lsm';

/** Runtime descriptor of a program: where it attaches. */
export interface ProgramDescriptor<C = unknown> {
  readonly kind: 'program';
  readonly programType: ProgramKind;
  readonly target?: string;
  readonly options?: Readonly<Record<string, string | number | undefined>>;
  /** The file whose top level made this program (see MapDescriptor.definedIn). */
  readonly definedIn?: string;
  readonly __context?: C;
}

type Body<C> = (ctx: C) => number;

const program = <C>(programType: ProgramKind, target?: string, options?: Record<string, string | number | undefined>): ProgramDescriptor<C> =>
  ({ kind: 'program', programType, target, options, definedIn: definedIn() }) as ProgramDescriptor<C>;

export const xdp = (_body: Body<XdpContext>): ProgramDescriptor<XdpContext> => program('xdp');
/** tcx program on ingress (default) or egress. */
export const tc = (direction: 'ingress' | 'egress', _body: Body<SkbSockContext>): ProgramDescriptor<SkbSockContext> => program('tc', direction);
export const socketFilter = (_body: Body<SkbContext>): ProgramDescriptor<SkbContext> => program('socket_filter');
export const cgroupSkb = (direction: 'ingress' | 'egress', _body: Body<SkbSockContext>): ProgramDescriptor<SkbSockContext> => program('cgroup_skb', direction);
export const tracepoint = <F = {}>(name: string, _body: Body<TracepointContext<F>>): ProgramDescriptor<TracepointContext<F>> => program('tracepoint', name);
export const rawTracepoint = (name: string, _body: Body<ArgsContext>): ProgramDescriptor<ArgsContext> => program('raw_tracepoint', name);
export const kprobe = (fn: string, _body: Body<ProbeContext>): ProgramDescriptor<ProbeContext> => program('kprobe', fn);
export const kretprobe = (fn: string, _body: Body<ProbeContext>): ProgramDescriptor<ProbeContext> => program('kretprobe', fn);
export const uprobe = (binary: string, symbol: string, _body: Body<ProbeContext>): ProgramDescriptor<ProbeContext> => program('uprobe', symbol, { binary });
export const uretprobe = (binary: string, symbol: string, _body: Body<ProbeContext>): ProgramDescriptor<ProbeContext> => program('uretprobe', symbol, { binary });
export const perfEvent = (_body: Body<PerfEventContext>): ProgramDescriptor<PerfEventContext> => program('perf_event');

/**
 * BTF-typed programs: the body takes the hook's arguments as parameters,
 * typed by their annotations (`Ptr<task_struct>`, integers), and reads
 * kernel structs through them with CO-RE. The kernel checks the program
 * against the hook's BTF at load.
 */
type BtfBody<A extends unknown[]> = (...args: A) => number;
/** A BTF tracepoint (tp_btf/NAME): `tpBtf('sched_switch', (preempt: bool, prev: Ptr<task_struct>, next: Ptr<task_struct>) => …)`. */
export const tpBtf = <A extends unknown[]>(name: string, _body: BtfBody<A>): ProgramDescriptor<A> => program('tp_btf', name);
/** fentry/FUNC: runs at the entry of a kernel function, with its arguments (needs BPF trampolines). */
export const fentry = <A extends unknown[]>(fn: string, _body: BtfBody<A>): ProgramDescriptor<A> => program('fentry', fn);
/** fexit/FUNC: runs when a kernel function returns: its arguments, then its return value as the last parameter. */
export const fexit = <A extends unknown[]>(fn: string, _body: BtfBody<A>): ProgramDescriptor<A> => program('fexit', fn);
/** fmod_ret/FUNC: may replace the return value of an error-injectable kernel function (return non-zero to do so). */
export const fmodRet = <A extends unknown[]>(fn: string, _body: BtfBody<A>): ProgramDescriptor<A> => program('fmod_ret', fn);
/** lsm/HOOK: a BPF LSM program on a security hook (`bprm_check_security`); return 0 to allow, -EPERM (-1) to deny. */
export const lsm = <A extends unknown[]>(hook: string, _body: BtfBody<A>): ProgramDescriptor<A> => program('lsm', hook);

// ---------------------------------------------------------------- helpers

const onlyInPrograms = (): never => {
  throw new Error('tsbpf/dsl: helpers run only inside compiled programs');
};

/** Kernel helpers with TypeScript names; each is checked against the program type it is used in. */
export const bpf = {
  /**
   * bpf_loop (kernel 5.17+): calls `callback(i, ctx)` for i = 0, 1, … n - 1
   * until it returns non-zero (true, 1: stop); its result is the number of
   * calls made, or -7 (E2BIG) when n is over 8388608. The callback is a
   * BPF function of its own: it reaches the caller's state only through
   * `ctx`, a struct local passed by reference (maps and globals as usual).
   * An i32: the kernel's inlined bpf_loop sets only the low 32 bits of -E2BIG.
   */
  loop: onlyInPrograms as <T = undefined>(n: number, callback: (i: u32, ctx: T) => number | boolean | void, ctx?: T) => i32,
  /** bpf_ktime_get_ns */
  ktimeNs: onlyInPrograms as () => u64,
  /** Process id (tgid, upper half of bpf_get_current_pid_tgid). */
  pid: onlyInPrograms as () => u32,
  /** Same as pid(): the thread group id. */
  tgid: onlyInPrograms as () => u32,
  /** Thread id (lower half of bpf_get_current_pid_tgid). */
  tid: onlyInPrograms as () => u32,
  pidTgid: onlyInPrograms as () => u64,
  uid: onlyInPrograms as () => u32,
  gid: onlyInPrograms as () => u32,
  /** Copies the current task's comm into `dst`. */
  currentComm: onlyInPrograms as (dst: CStr<16>) => i64,
  /** bpf_get_current_task: the current task_struct, fields read through CO-RE (`bpf.currentTask().real_parent.tgid`). */
  currentTask: onlyInPrograms as () => Ptr<task_struct>,
  /** bpf_get_current_task_btf (tp_btf, fentry, lsm): the same as a BTF pointer the verifier tracks. */
  currentTaskBtf: onlyInPrograms as () => Ptr<task_struct>,
  /** bpf_core_field_exists: whether `field` of the kernel struct `obj` points into exists on the running kernel (a CO-RE constant). */
  fieldExists: onlyInPrograms as <T>(obj: T, field: keyof T & string) => bool,
  /** bpf_core_field_size: the byte size of `field` on the running kernel. */
  fieldSize: onlyInPrograms as <T>(obj: T, field: keyof T & string) => u32,
  /** bpf_core_type_exists: whether the running kernel has the kernel type T (an interface from tsbpf/dsl/kernel or btf dump). */
  typeExists: onlyInPrograms as <T>() => bool,
  /** bpf_core_type_size: sizeof(T) on the running kernel. */
  typeSize: onlyInPrograms as <T>() => u32,
  /** bpf_core_enum_value_exists: whether enumerator `name` of kernel enum `E` exists on the running kernel. */
  enumValueExists: onlyInPrograms as <E extends Record<string, number | bigint>>(e: E, name: keyof E & string) => bool,
  /** bpf_core_enum_value: the running kernel's value of enumerator `name` of kernel enum `E`. */
  enumValue: onlyInPrograms as <E extends Record<string, number | bigint>>(e: E, name: keyof E & string) => u64,
  cpu: onlyInPrograms as () => u32,
  random: onlyInPrograms as () => u32,
  /**
   * Copies sizeof(dst) bytes from a kernel address, or from a kernel struct's field (`task.comm`), into dst.
   * The field may be of another type than dst (an `in6_addr` into a `FixedArray<u8, 16>`), at least as large.
   */
  probeReadKernel: onlyInPrograms as <T>(dst: T, src: u64 | T | Ptr<unknown> | KernelType<string> | FixedArray<number, number>) => i64,
  probeReadUser: onlyInPrograms as <T>(dst: T, src: u64) => i64,
  /** Copies a NUL-terminated kernel string (a `char *` field, or a kernel struct's char array) into dst. */
  probeReadKernelStr: onlyInPrograms as <N extends number>(dst: CStr<N>, src: u64 | CStr<number> | Ptr<unknown>) => i64,
  probeReadUserStr: onlyInPrograms as <N extends number>(dst: CStr<N>, src: u64) => i64,
  redirect: onlyInPrograms as (ifindex: u32, flags?: u64) => i64,
  xdpAdjustHead: onlyInPrograms as (ctx: XdpContext, delta: i32) => i64,
  xdpAdjustTail: onlyInPrograms as (ctx: XdpContext, delta: i32) => i64,
  skbChangeTail: onlyInPrograms as (ctx: SkbContext, len: u32, flags?: u64) => i64,
  l3CsumReplace: onlyInPrograms as (ctx: SkbContext, offset: u32, from: u64, to: u64, size: u64) => i64,
  l4CsumReplace: onlyInPrograms as (ctx: SkbContext, offset: u32, from: u64, to: u64, flags: u64) => i64,
  /** Appends to the trace pipe; format and up to three arguments: integers, or CStr for `%s`. */
  printk: onlyInPrograms as (format: string, ...args: Array<number | CStr<number>>) => i64,
  /**
   * Formats into `out` as the kernel's bpf_snprintf (5.13+): a string literal format with %d %i %u %x %X
   * (l or ll for 64 bits), %s (a CStr) and %c, flags `0+- ` and a width; up to 12 values. Gives the length
   * with its NUL (larger than `out` when the text was cut), or a negative errno.
   * @example
   * const line: CStr<32> = '';
   * bpf.snprintf(line, '%s:%d', ev.comm, ev.pid);
   */
  snprintf: onlyInPrograms as (out: CStr<number>, format: string, ...args: Array<number | CStr<number>>) => i64,
  /** bpf_get_current_cgroup_id: the cgroup v2 id of the current task. */
  cgroupId: onlyInPrograms as () => u64,
  /** bpf_skb_cgroup_id: the cgroup v2 id of the packet's socket (tc egress). */
  skbCgroupId: onlyInPrograms as (ctx: SkbContext) => u64,
  /**
   * bpf_sk_fullsock (tc, cgroup skb): the full socket behind `ctx.sk`, or
   * null when it is not one (a request or time-wait socket) or `sk` is null.
   */
  skFullsock: onlyInPrograms as (sk: SockCommon | null) => BpfSock | null,
  /** bpf_get_socket_cookie: a number naming the packet's socket for its lifetime (0 without a socket). */
  socketCookie: onlyInPrograms as (ctx: SkbContext) => u64,
  /** bpf_skb_load_bytes: copies packet bytes at `offset` into `dst` (its whole size); 0 or a negative errno. */
  skbLoadBytes: onlyInPrograms as <T>(ctx: SkbContext, offset: u32, dst: T) => i64,
  /** bpf_skb_store_bytes: writes `src` (a struct, array or integer of its own size) at `offset`; releases headers. */
  skbStoreBytes: onlyInPrograms as <T>(ctx: SkbContext, offset: u32, src: T | number, flags?: u64) => i64,
  /**
   * bpf_csum_diff: the one's complement sum of `to` minus `from` (each a
   * reference to 4-byte multiples, or a 32-bit integer), added to `seed`:
   * feed it to l3CsumReplace/l4CsumReplace with size 0.
   */
  csumDiff: onlyInPrograms as <T>(from: T | number | null, to: T | number | null, seed?: u32) => i64,
  /**
   * bpf_fib_lookup: looks the route of `params` up in the kernel's FIB (of
   * the ingress device's network namespace) and writes the result into
   * `params`: a FibResult, or a negative errno.
   */
  /**
   * bpf_spin_lock / bpf_spin_unlock around `body`, which runs holding the
   * lock and gives withLock its result. Inside it there are no helper calls
   * and no other lock (the verifier's rules, checked at compile time); a
   * `return` leaves the callback, and the lock is released on every path.
   */
  withLock: onlyInPrograms as <R>(lock: SpinLock, body: () => R) => R,
  fibLookup: onlyInPrograms as (ctx: XdpContext | SkbContext, params: FibLookupParams, flags?: number) => i64,
  /** bpf_get_stack: copies return addresses of the current stack into `dst`; bytes written or a negative errno. */
  getStack: onlyInPrograms as <N extends number>(ctx: unknown, dst: FixedArray<u64, N>, flags?: number) => i64,
  /**
   * Escape hatch: reads `size` (1, 2, 4, 8) bytes at a raw address with a
   * plain load. The verifier decides whether that is allowed.
   */
  unsafeLoad: onlyInPrograms as (address: u64, size: 1 | 2 | 4 | 8) => u64,
};

// ---------------------------------------------------------------- atomics

/** The names of T's integer fields. */
export type IntField<T> = { [K in keyof T]-?: T[K] extends number ? K : never }[keyof T];

/**
 * Atomic operations (BPF_ATOMIC, as clang's __sync_* builtins) on a 32- or
 * 64-bit integer field of a reference (`atomic.add(stats, 'bytes', len)`)
 * or on a `global()`. The fetch forms give the value before the operation.
 */
export const atomic = {
  add: onlyInPrograms as { <T>(obj: T, field: IntField<T>, by: number): void; (g: Global<number>, by: number): void },
  or: onlyInPrograms as { <T>(obj: T, field: IntField<T>, bits: number): void; (g: Global<number>, bits: number): void },
  and: onlyInPrograms as { <T>(obj: T, field: IntField<T>, bits: number): void; (g: Global<number>, bits: number): void },
  xor: onlyInPrograms as { <T>(obj: T, field: IntField<T>, bits: number): void; (g: Global<number>, bits: number): void },
  fetchAdd: onlyInPrograms as { <T>(obj: T, field: IntField<T>, by: number): u64; (g: Global<number>, by: number): u64 },
  fetchOr: onlyInPrograms as { <T>(obj: T, field: IntField<T>, bits: number): u64; (g: Global<number>, bits: number): u64 },
  fetchAnd: onlyInPrograms as { <T>(obj: T, field: IntField<T>, bits: number): u64; (g: Global<number>, bits: number): u64 },
  fetchXor: onlyInPrograms as { <T>(obj: T, field: IntField<T>, bits: number): u64; (g: Global<number>, bits: number): u64 },
  /** Stores `value`, gives the old value. */
  exchange: onlyInPrograms as { <T>(obj: T, field: IntField<T>, value: number): u64; (g: Global<number>, value: number): u64 },
  /** Stores `value` if the field holds `expected`; gives the value it held (equal to `expected` when stored). */
  compareExchange: onlyInPrograms as { <T>(obj: T, field: IntField<T>, expected: number, value: number): u64; (g: Global<number>, expected: number, value: number): u64 },
};
