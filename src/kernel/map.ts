/**
 * A live BPF map. Keys and values are bytes (Uint8Array) checked against the
 * map's key_size and value_size before the kernel sees them; typed access is
 * layered on top with codecs (see typed-map.ts).
 *
 * Hot path: each map owns native buffers for its attr, key, value and next
 * key, allocated once; the attr's pointer and flag fields are rewritten only
 * when they change. A lookup is a copy in, one bpf() call and a copy out,
 * with no allocation (lookupInto).
 */
import { writeName } from '../syscall/attr.js';
import { SYS_BPF, SyscallError, syscallError } from '../syscall/bpf.js';
import { Errno } from '../syscall/errno.js';
import { MapFlags, OBJ_NAME_LEN, OpenFlags, UpdateFlags } from '../syscall/flags.js';
import { Attr, BpfCommand, MapType } from '../syscall/layouts.generated.js';
import { lastErrno, syscall4 } from '../syscall/libc.js';
import { MappedMemory, MapFlags as MmapFlags, Prot, pageSize } from '../syscall/mman.js';
import { NativeBuffer, nativeArray } from '../syscall/memory.js';
import { bpfCommand } from './bpf-call.js';
import { possibleCpuCount } from './cpus.js';
import { fdById } from './ids.js';
import { type MapInfo, mapInfoByFd } from './info.js';
import { OwnedFd } from './owned-fd.js';
import type { Codec } from './codec.js';
import { TypedMap } from './typed-map.js';
import { openPinnedFd, pinFd } from './pin.js';
import { liftMemlockIfCharged } from './memlock.js';

/** A map type by its uapi name without BPF_MAP_TYPE_: 'PERCPU_ARRAY' or, as the CLI prints it, 'percpu_array'. */
export type MapTypeName = keyof typeof MapType | Lowercase<keyof typeof MapType>;

/** What `BpfMap.create` makes (BPF_MAP_CREATE): the type by name (any case) or number, key and value sizes, entries, flags, name, and the BTF and inner map where the type needs them. */
export interface MapSpec {
  type: MapTypeName | number;
  keySize?: number;
  valueSize?: number;
  maxEntries?: number;
  /** map_flags (MapFlags bits). */
  flags?: number;
  /** Up to 15 characters of [A-Za-z0-9_.]. */
  name?: string;
  /** For ARRAY_OF_MAPS / HASH_OF_MAPS: a map of the inner shape. */
  innerMap?: BpfMap;
  numaNode?: number;
  /** map_extra: bloom filter hash count, arena address. */
  mapExtra?: bigint;
  ifindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  valueTypeBtfObjFd?: number;
}

const PER_CPU_TYPES = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE]);
const FD_VALUE_TYPES = new Set<number>([MapType.PROG_ARRAY, MapType.PERF_EVENT_ARRAY, MapType.CGROUP_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS, MapType.SOCKMAP, MapType.SOCKHASH, MapType.REUSEPORT_SOCKARRAY, MapType.XSKMAP]);

/**
 * The MapType name of a map type number (`HASH`, `RINGBUF` ...), or `type N` for one this build does not know.
 * @example
 * mapTypeName(MapType.RINGBUF);   // 'RINGBUF'
 * mapTypeName(map.type);          // the type of a live map, by name
 */
export const mapTypeName = (type: number): string => Object.entries(MapType).find(([, v]) => v === type)?.[0] ?? `type ${type}`;

export function resolveMapType(type: MapTypeName | number): number {
  if (typeof type === 'number') return type;
  const t = (MapType as Record<string, number>)[type.toUpperCase()];
  if (t === undefined) throw new RangeError(`unknown map type '${type}' (known: ${Object.keys(MapType).map((k) => k.toLowerCase()).join(', ')})`);
  return t;
}

const CMD_LOOKUP = BpfCommand.MAP_LOOKUP_ELEM;
const CMD_UPDATE = BpfCommand.MAP_UPDATE_ELEM;
const CMD_DELETE = BpfCommand.MAP_DELETE_ELEM;
const CMD_NEXT_KEY = BpfCommand.MAP_GET_NEXT_KEY;
const CMD_LOOKUP_AND_DELETE = BpfCommand.MAP_LOOKUP_AND_DELETE_ELEM;
const CMD_LOOKUP_BATCH = BpfCommand.MAP_LOOKUP_BATCH;
const E = Attr.mapElem;

/**
 * Copies `n` bytes; a plain loop beats TypedArray.prototype.set for the
 * few bytes of a typical key or value (set has a large fixed cost).
 */
function copySmall(to: Uint8Array, from: Uint8Array, n: number): void {
  if (n > 32) {
    to.set(n === from.length ? from : from.subarray(0, n));
    return;
  }
  for (let i = 0; i < n; i++) to[i] = from[i]!;
}

/** A key or value that is not a Uint8Array (a Buffer is one) is a TypeError, whatever its size. */
function notBytes(x: unknown, op: string, what: string): void {
  if (!(x instanceof Uint8Array)) throw new TypeError(`${op}: the ${what} must be a Uint8Array, got ${Object.prototype.toString.call(x).slice(8, -1)}`);
}

/** Errnos meaning "this map type has no batch operations". */
const BATCH_UNSUPPORTED = new Set<number>([Errno.EINVAL, Errno.EOPNOTSUPP, Errno.ENOTSUPP]);
const VALUE_NONE = 0;
const VALUE_BUF = 1;
const VALUE_NEXT_KEY = 2;
const B = Attr.batch;
/** Room dump() starts with (it doubles as the map turns out to hold more). */
const DUMP_INITIAL_ENTRIES = 4096;

/** One chunk of a batch operation: `count` keys and values, packed. */
export interface BatchChunk {
  count: number;
  keys: Uint8Array;
  values: Uint8Array;
}

interface BatchCursor {
  /** Native views of the chunk's keys and values. */
  keys: Uint8Array;
  values: Uint8Array;
  /** Fetches the next chunk: its element count, or -1 when the map is done. */
  next(): number;
  free(): void;
}

/**
 * A map's memory cannot be mapped as asked (see BpfMap.memory()).
 * @example
 * try { map.memory(); } catch (e) { if (e instanceof MapMemoryError) console.error(e.message); }  // not an mmap-able map
 */
export class MapMemoryError extends Error {
  override readonly name = 'MapMemoryError';
  readonly code = 'E_MAP_MEMORY';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/**
 * A live BPF map: lookup, update, delete, iteration, batches, per-CPU values, pins.
 * @example
 * using counts = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1024 });
 * counts.update(new Uint8Array(4), new Uint8Array(8));
 * for (const [key, value] of counts) console.log(key, value);
 */
export class BpfMap {
  readonly #fd: OwnedFd;
  readonly type: number;
  readonly keySize: number;
  /** value_size as the kernel knows it (one CPU's value for per-CPU maps). */
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly name: string;
  readonly isPerCpu: boolean;
  /** Bytes of a value as user space sees it: per-CPU maps hold round_up(value_size, 8) per possible CPU. */
  readonly userValueSize: number;
  /** For per-CPU maps: bytes per CPU slot (value_size rounded up to 8). */
  readonly perCpuStride: number;

  // Hot-path native buffers: attr (mapElem layout), key, value, next key.
  readonly #attr: NativeBuffer;
  readonly #key: NativeBuffer;
  readonly #value: NativeBuffer;
  readonly #nextKey: NativeBuffer;
  readonly #attrView: DataView;
  readonly #attrAddress: number;
  readonly #keyBytes: Uint8Array;
  readonly #valueBytes: Uint8Array;
  /** The value buffer's first userValueSize bytes (made once: no per-call subarray). */
  readonly #valueOut: Uint8Array;
  // What the attr's key/value/flags fields hold now, so unchanged fields are not rewritten.
  #keyState = -1;
  #valueState = -1;
  #flagsState = -1;
  #mapped: MappedMemory | undefined;
  #mappedReadOnly: MappedMemory | undefined;

  private constructor(fd: number, info: Pick<MapInfo, 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags' | 'name'>) {
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.name = info.name;
    this.isPerCpu = PER_CPU_TYPES.has(info.type);
    this.perCpuStride = this.isPerCpu ? Math.ceil(info.valueSize / 8) * 8 : info.valueSize;
    this.userValueSize = this.isPerCpu ? this.perCpuStride * possibleCpuCount() : info.valueSize;
    this.#fd = new OwnedFd(fd, `map ${info.name || mapTypeName(info.type)}`);
    this.#attr = new NativeBuffer(E.size);
    this.#key = new NativeBuffer(Math.max(8, this.keySize));
    this.#value = new NativeBuffer(Math.max(8, this.userValueSize));
    this.#nextKey = new NativeBuffer(Math.max(8, this.keySize));
    this.#attrView = this.#attr.view;
    this.#attrAddress = this.#attr.addressNumber;
    this.#keyBytes = this.#key.bytes;
    this.#valueBytes = this.#value.bytes;
    this.#valueOut = this.#value.bytes.subarray(0, this.userValueSize);
    this.#attrView.setUint32(E.map_fd, fd, true);
  }

  /** Creates a map (BPF_MAP_CREATE). */
  static create(spec: MapSpec): BpfMap {
    const type = resolveMapType(spec.type);
    const keySize = spec.keySize ?? 0;
    const valueSize = spec.valueSize ?? 0;
    const maxEntries = spec.maxEntries ?? 0;
    const flags = spec.flags ?? 0;
    const name = spec.name ?? '';
    if (!/^[A-Za-z0-9_.]*$/.test(name) || name.length >= OBJ_NAME_LEN) {
      throw new RangeError(`map name '${name}' must be at most ${OBJ_NAME_LEN - 1} characters of [A-Za-z0-9_.]`);
    }
    for (const [k, v] of [['keySize', keySize], ['valueSize', valueSize], ['maxEntries', maxEntries]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`map ${k} must be a u32, got ${v}`);
    }
    const C = Attr.mapCreate;
    liftMemlockIfCharged();
    const fd = bpfCommand('MAP_CREATE', C.size, (a) => {
      const v = a.view;
      v.setUint32(C.map_type, type, true);
      v.setUint32(C.key_size, keySize, true);
      v.setUint32(C.value_size, valueSize, true);
      v.setUint32(C.max_entries, maxEntries, true);
      v.setUint32(C.map_flags, flags | (spec.numaNode !== undefined ? MapFlags.NUMA_NODE : 0), true);
      if (spec.innerMap) v.setUint32(C.inner_map_fd, spec.innerMap.fd, true);
      if (spec.numaNode !== undefined) v.setUint32(C.numa_node, spec.numaNode, true);
      writeName(a, C.map_name, name);
      if (spec.ifindex) v.setUint32(C.map_ifindex, spec.ifindex, true);
      if (spec.btfFd !== undefined) {
        v.setUint32(C.btf_fd, spec.btfFd, true);
        v.setUint32(C.btf_key_type_id, spec.btfKeyTypeId ?? 0, true);
        v.setUint32(C.btf_value_type_id, spec.btfValueTypeId ?? 0, true);
      }
      // struct_ops maps name their kernel struct by vmlinux id, with or without a BTF fd.
      v.setUint32(C.btf_vmlinux_value_type_id, spec.btfVmlinuxValueTypeId ?? 0, true);
      if (spec.mapExtra !== undefined) v.setBigUint64(C.map_extra, spec.mapExtra, true);
      if (spec.valueTypeBtfObjFd !== undefined) v.setInt32(C.value_type_btf_obj_fd, spec.valueTypeBtfObjFd, true);
    }, `${mapTypeName(type)}${name ? ` '${name}'` : ''}`);
    return new BpfMap(fd, { type, keySize, valueSize, maxEntries, flags, name });
  }

  /** Takes ownership of an existing map fd and reads its shape from the kernel. */
  static fromFd(fd: number): BpfMap {
    let info: MapInfo;
    try {
      info = mapInfoByFd(fd);
    } catch (e) {
      new OwnedFd(fd, 'map').close();
      throw e;
    }
    return new BpfMap(fd, info);
  }

  /** Opens the map with this id (BPF_MAP_GET_FD_BY_ID). */
  static fromId(id: number, options: { readOnly?: boolean } = {}): BpfMap {
    return BpfMap.fromFd(fdById('MAP', id, options.readOnly ? OpenFlags.RDONLY : 0));
  }

  /** Opens a map pinned in bpffs. */
  static openPinned(path: string, options: { readOnly?: boolean } = {}): BpfMap {
    return BpfMap.fromFd(openPinnedFd(path, options.readOnly ? OpenFlags.RDONLY : 0, 'map'));
  }

  /** The map's fd (throws ObjectClosedError after close()). */
  get fd(): number {
    return this.#fd.value;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  get typeName(): string {
    return mapTypeName(this.type);
  }

  // ---- checks ----

  /*
   * Sizes are checked with `.length`, not `.byteLength`: Node 20's optimizing
   * compiler inlines a typed array's length but calls a builtin for its
   * byteLength (~15 ns a read, a tenth of a lookup's user-space time). The
   * two agree for a Uint8Array; anything else is refused by notBytes
   * (`instanceof`, which the compiler folds into a map check, where
   * BYTES_PER_ELEMENT was a ~5 ns property lookup). Either way the kernel
   * reads only the map's own native buffers, which the key and value are
   * copied into.
   */

  #checkKey(key: Uint8Array | undefined, op: string): void {
    if (this.#fd.closed) this.#fd.value; // throws ObjectClosedError
    if (this.keySize === 0) {
      if (key !== undefined && key.length !== 0) throw new RangeError(`${op}: ${this.typeName} map has no keys (key_size 0), got ${key.byteLength} bytes`);
      return;
    }
    if (key === undefined) throw new RangeError(`${op}: ${this.typeName} map needs a ${this.keySize}-byte key`);
    if (key.length !== this.keySize || !(key instanceof Uint8Array)) {
      notBytes(key, op, 'key');
      throw new RangeError(`${op}: key is ${key.byteLength} bytes but the map's key_size is ${this.keySize}`);
    }
  }

  #checkValue(value: Uint8Array, op: string): void {
    if (value.length !== this.userValueSize || !(value instanceof Uint8Array)) {
      notBytes(value, op, 'value');
      const what = this.isPerCpu ? `${this.perCpuStride} bytes × ${possibleCpuCount()} possible CPUs = ${this.userValueSize}` : `value_size ${this.valueSize}`;
      throw new RangeError(`${op}: value is ${value.byteLength} bytes but the map needs ${what}`);
    }
  }

  #call(cmd: number): number {
    const r = syscall4(SYS_BPF, cmd, this.#attrAddress, E.size) as number;
    return r < 0 ? -lastErrno() : r;
  }

  /**
   * Points the attr at the key (copied into native memory), at the value,
   * next-key or no buffer (VALUE_NONE/VALUE_BUF/VALUE_NEXT_KEY), with `flags`.
   */
  #prepare(key: Uint8Array | undefined, valueState: number, flags: number): void {
    const v = this.#attrView;
    if (key === undefined || this.keySize === 0) {
      if (this.#keyState !== 0) {
        v.setBigUint64(E.key, 0n, true);
        this.#keyState = 0;
      }
    } else {
      copySmall(this.#keyBytes, key, this.keySize);
      if (this.#keyState !== 1) {
        v.setBigUint64(E.key, this.#key.address, true);
        this.#keyState = 1;
      }
    }
    if (valueState !== this.#valueState) {
      v.setBigUint64(E.value, valueState === VALUE_BUF ? this.#value.address : valueState === VALUE_NEXT_KEY ? this.#nextKey.address : 0n, true);
      this.#valueState = valueState;
    }
    if (flags !== this.#flagsState) {
      v.setUint32(E.flags, flags >>> 0, true);
      v.setUint32(E.flags + 4, 0, true);
      this.#flagsState = flags;
    }
  }

  /**
   * The common case of lookupInto and update in one test: an open map, a
   * key and a value of the map's sizes, and an attr that already points at
   * the key and value buffers with these flags; then copies the key in.
   * False means: take the checked way (#checkKey, #checkValue, #prepare).
   */
  #ready(key: Uint8Array | undefined, value: Uint8Array, flags: number): boolean {
    if (this.#keyState !== 1 || this.#valueState !== VALUE_BUF || flags !== this.#flagsState || key === undefined) return false;
    const ks = this.keySize;
    if (key.length !== ks || value.length !== this.userValueSize || !(key instanceof Uint8Array) || !(value instanceof Uint8Array) || this.#fd.closed) return false;
    copySmall(this.#keyBytes, key, ks);
    return true;
  }

  /** Runs `cmd`: false when the kernel says ENOENT (no such element), a SyscallError on any other failure. */
  #callFound(cmd: number, name: string): boolean {
    const r = this.#call(cmd);
    if (r >= 0) return true;
    if (r === -Errno.ENOENT) return false;
    this.#fail(name, -r);
  }

  #fail(cmd: string, errno: number): never {
    throw syscallError(`BPF_${cmd} on ${this.#label()}`, errno);
  }

  // ---- element operations ----

  /**
   * Copies the value for `key` into `out` (userValueSize bytes); false when
   * there is no such key. Allocation-free. `flags` may be UpdateFlags.F_LOCK.
   */
  lookupInto(key: Uint8Array | undefined, out: Uint8Array, flags = 0): boolean {
    if (!this.#ready(key, out, flags)) {
      this.#checkKey(key, 'lookup');
      this.#checkValue(out, 'lookup');
      this.#prepare(key, VALUE_BUF, flags);
    }
    if (!this.#callFound(CMD_LOOKUP, 'MAP_LOOKUP_ELEM')) return false;
    copySmall(out, this.#valueOut, this.userValueSize);
    return true;
  }

  /** The value for `key` (a copy), or undefined. */
  lookup(key?: Uint8Array, flags = 0): Uint8Array | undefined {
    const out = new Uint8Array(this.userValueSize);
    return this.lookupInto(key, out, flags) ? out : undefined;
  }

  /** Sets `key` to `value`. flags: UpdateFlags.ANY / NOEXIST / EXIST, | F_LOCK. */
  update(key: Uint8Array | undefined, value: Uint8Array, flags: number = UpdateFlags.ANY): void {
    if (!this.#ready(key, value, flags)) {
      this.#checkKey(key, 'update');
      this.#checkValue(value, 'update');
      this.#prepare(key, VALUE_BUF, flags);
    }
    copySmall(this.#valueBytes, value, this.userValueSize);
    const r = this.#call(CMD_UPDATE);
    if (r < 0) this.#fail('MAP_UPDATE_ELEM', -r);
  }

  /** Deletes `key`; false when it was not there. */
  delete(key: Uint8Array): boolean {
    this.#checkKey(key, 'delete');
    // DELETE_ELEM's last field is `key`: the kernel wants zeros after it.
    this.#prepare(key, VALUE_NONE, 0);
    return this.#callFound(CMD_DELETE, 'MAP_DELETE_ELEM');
  }

  /** Removes and returns the value for `key` (or, for queue/stack, the next element). */
  lookupAndDelete(key?: Uint8Array, flags = 0): Uint8Array | undefined {
    this.#checkKey(key, 'lookupAndDelete');
    this.#prepare(key, VALUE_BUF, flags);
    if (!this.#callFound(CMD_LOOKUP_AND_DELETE, 'MAP_LOOKUP_AND_DELETE_ELEM')) return undefined;
    return this.#value.bytes.slice(0, this.userValueSize);
  }

  /** The key after `key` (the first key when undefined), or undefined at the end. */
  nextKey(key?: Uint8Array): Uint8Array | undefined {
    if (key !== undefined) this.#checkKey(key, 'nextKey');
    else if (this.#fd.closed) this.#fd.value;
    this.#prepare(key, VALUE_NEXT_KEY, 0);
    if (!this.#callFound(CMD_NEXT_KEY, 'MAP_GET_NEXT_KEY')) return undefined;
    return this.#nextKey.bytes.slice(0, this.keySize);
  }

  /** Every key, by BPF_MAP_GET_NEXT_KEY. */
  *keys(): Generator<Uint8Array> {
    let key = this.nextKey();
    while (key !== undefined) {
      yield key;
      key = this.nextKey(key);
    }
  }

  /** Every [key, value] pair; keys deleted meanwhile are skipped. */
  *entries(): Generator<[Uint8Array, Uint8Array]> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value !== undefined) yield [key, value];
    }
  }

  [Symbol.iterator](): Generator<[Uint8Array, Uint8Array]> {
    return this.entries();
  }

  /** Map-in-map: opens the inner map stored under `key` (user space reads its id), or undefined. */
  innerMap(key: Uint8Array): BpfMap | undefined {
    if (this.type !== MapType.ARRAY_OF_MAPS && this.type !== MapType.HASH_OF_MAPS) throw new TypeError(`innerMap: ${this.typeName} is not a map of maps`);
    const v = this.lookup(key);
    if (v === undefined) return undefined;
    const id = new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
    return BpfMap.fromId(id);
  }

  // ---- queue / stack / bloom filter ----

  /** Queue/stack push (bloom filter: add). flags: UpdateFlags.EXIST overwrites the oldest when full. */
  push(value: Uint8Array, flags: number = UpdateFlags.ANY): void {
    this.update(undefined, value, flags);
  }

  /** Queue/stack pop: removes and returns the next element. */
  pop(): Uint8Array | undefined {
    return this.lookupAndDelete(undefined);
  }

  /** Queue/stack peek (bloom filter: true membership test through `contains`). */
  peek(): Uint8Array | undefined {
    return this.lookup(undefined);
  }

  /** Bloom filter membership: false means definitely absent. */
  contains(value: Uint8Array): boolean {
    this.#checkValue(value, 'contains');
    this.#value.bytes.set(value);
    this.#prepare(undefined, VALUE_BUF, 0);
    return this.#callFound(CMD_LOOKUP, 'MAP_LOOKUP_ELEM');
  }

  // ---- per-CPU ----

  /** Splits a per-CPU value into one Uint8Array (value_size bytes) per possible CPU. */
  splitPerCpu(value: Uint8Array): Uint8Array[] {
    if (!this.isPerCpu) return [value];
    this.#checkValue(value, 'splitPerCpu');
    const out: Uint8Array[] = [];
    for (let at = 0; at < value.byteLength; at += this.perCpuStride) out.push(value.slice(at, at + this.valueSize));
    return out;
  }

  /** Joins per-CPU values (value_size bytes each, one per possible CPU) into the kernel's layout. */
  joinPerCpu(values: Uint8Array[]): Uint8Array {
    const cpus = possibleCpuCount();
    if (values.length !== cpus) throw new RangeError(`per-CPU value needs ${cpus} entries (one per possible CPU), got ${values.length}`);
    const out = new Uint8Array(this.userValueSize);
    values.forEach((v, i) => {
      if (v.byteLength !== this.valueSize) throw new RangeError(`per-CPU value ${i} is ${v.byteLength} bytes, value_size is ${this.valueSize}`);
      out.set(v, i * this.perCpuStride);
    });
    return out;
  }

  /** Per-CPU lookup: one value per possible CPU. */
  lookupPerCpu(key: Uint8Array): Uint8Array[] | undefined {
    const v = this.lookup(key);
    return v === undefined ? undefined : this.splitPerCpu(v);
  }

  updatePerCpu(key: Uint8Array, values: Uint8Array[], flags: number = UpdateFlags.ANY): void {
    this.update(key, this.joinPerCpu(values), flags);
  }

  // ---- batch operations ----

  /**
   * A batch cursor over the map (BPF_MAP_LOOKUP_BATCH or
   * LOOKUP_AND_DELETE_BATCH) with native buffers for `chunk` elements:
   * `next()` fills them and returns the count, or -1 when the map is done.
   */
  #batchCursor(chunk: number, andDelete: boolean, elemFlags: number): BatchCursor {
    const cmd = andDelete ? 'MAP_LOOKUP_AND_DELETE_BATCH' : 'MAP_LOOKUP_BATCH';
    const cmdNumber = BpfCommand[cmd];
    const fd = this.fd;
    const ks = this.keySize;
    const vs = this.userValueSize;
    // Hash maps use a 4-byte bucket cursor; arrays a key-sized one.
    const cursorSize = Math.max(8, ks);
    const inBatch = new NativeBuffer(cursorSize);
    const outBatch = new NativeBuffer(cursorSize);
    const attr = new NativeBuffer(B.size);
    const v = attr.view;
    let keys = new NativeBuffer(Math.max(1, chunk * ks));
    let values = new NativeBuffer(Math.max(1, chunk * vs));
    const setBuffers = (): void => {
      v.setBigUint64(B.keys, keys.address, true);
      v.setBigUint64(B.values, values.address, true);
    };
    v.setBigUint64(B.out_batch, outBatch.address, true);
    setBuffers();
    v.setUint32(B.map_fd, fd, true);
    v.setUint32(B.elem_flags, elemFlags >>> 0, true);
    let done = false;
    let first = true;
    const cursor: BatchCursor = {
      keys: keys.bytes,
      values: values.bytes,
      next: (): number => {
        if (done) return -1;
        if (!first) {
          inBatch.bytes.set(outBatch.bytes);
          v.setBigUint64(B.in_batch, inBatch.address, true);
        }
        first = false;
        for (;;) {
          v.setUint32(B.count, chunk, true);
          const r = syscall4(SYS_BPF, cmdNumber, attr.addressNumber, B.size) as number;
          if (r >= 0) break;
          const errno = lastErrno();
          if (errno === Errno.ENOENT) {
            done = true; // this was the last chunk (possibly empty)
            break;
          }
          // A hash bucket holds more elements than fit in a chunk: grow the chunk and retry.
          if (errno === Errno.ENOSPC && chunk < 1 << 24) {
            chunk *= 2;
            keys.free();
            values.free();
            keys = new NativeBuffer(Math.max(1, chunk * ks));
            values = new NativeBuffer(Math.max(1, chunk * vs));
            cursor.keys = keys.bytes;
            cursor.values = values.bytes;
            setBuffers();
            continue;
          }
          this.#fail(cmd, errno);
        }
        const count = v.getUint32(B.count, true);
        return count === 0 && done ? -1 : count;
      },
      free: (): void => {
        inBatch.free();
        outBatch.free();
        keys.free();
        values.free();
        attr.free();
      },
    };
    return cursor;
  }

  #defaultChunk(chunkSize?: number): number {
    return Math.max(1, chunkSize ?? Math.min(Math.max(this.maxEntries, 1), 4096));
  }

  /**
   * BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH), in chunks of up to
   * `chunkSize` elements. The yielded arrays are fresh copies.
   */
  *lookupBatch(options: { chunkSize?: number; andDelete?: boolean; elemFlags?: number } = {}): Generator<BatchChunk> {
    const cursor = this.#batchCursor(this.#defaultChunk(options.chunkSize), options.andDelete ?? false, options.elemFlags ?? 0);
    try {
      for (let count = cursor.next(); count >= 0; count = cursor.next()) {
        if (count > 0) yield { count, keys: cursor.keys.slice(0, count * this.keySize), values: cursor.values.slice(0, count * this.userValueSize) };
      }
    } finally {
      cursor.free();
    }
  }

  /**
   * Reads the whole map into two packed arrays: with batch lookups where
   * the map type has them (the kernel writes straight into the result, as
   * a C caller's buffers), else by next-key iteration.
   */
  dump(options: { chunkSize?: number } = {}): BatchChunk {
    const ks = this.keySize;
    const vs = this.userValueSize;
    const fd = this.fd;
    // No map holds more than max_entries elements, but most hold far fewer:
    // start small and grow, so memory follows what the map holds.
    const limit = Math.max(1, this.maxEntries);
    let capacity = Math.min(limit, DUMP_INITIAL_ENTRIES);
    const what = `dump of ${this.#label()}`;
    let keys = nativeArray(Math.max(1, capacity * ks), `${what} (keys)`);
    let values = nativeArray(Math.max(1, capacity * vs), `${what} (values)`);
    let total = 0;
    const grow = (): void => {
      capacity = Math.min(limit, capacity * 2);
      const k = nativeArray(Math.max(1, capacity * ks), `${what} (keys)`);
      const val = nativeArray(Math.max(1, capacity * vs), `${what} (values)`);
      k.bytes.set(keys.bytes.subarray(0, total * ks));
      val.bytes.set(values.bytes.subarray(0, total * vs));
      keys = k;
      values = val;
    };
    let chunk = this.#defaultChunk(options.chunkSize);
    const cursorSize = Math.max(8, ks);
    using inBatch = new NativeBuffer(cursorSize);
    using outBatch = new NativeBuffer(cursorSize);
    using attr = new NativeBuffer(B.size);
    const v = attr.view;
    v.setBigUint64(B.out_batch, outBatch.address, true);
    v.setUint32(B.map_fd, fd, true);
    for (let first = true; total < limit; first = false) {
      if (!first) {
        inBatch.bytes.set(outBatch.bytes);
        v.setBigUint64(B.in_batch, inBatch.address, true);
      }
      let done = false;
      for (;;) {
        if (total === capacity) grow();
        v.setBigUint64(B.keys, BigInt(keys.address + total * ks), true);
        v.setBigUint64(B.values, BigInt(values.address + total * vs), true);
        v.setUint32(B.count, Math.min(chunk, capacity - total), true);
        const r = syscall4(SYS_BPF, CMD_LOOKUP_BATCH, attr.addressNumber, B.size) as number;
        if (r >= 0) break;
        const errno = lastErrno();
        if (errno === Errno.ENOENT) {
          done = true;
          break;
        }
        if (errno === Errno.ENOSPC && (chunk < limit || capacity < limit)) {
          // A hash bucket larger than the chunk (or than the room left): ask for more at once.
          chunk = Math.min(chunk * 2, limit);
          if (chunk > capacity - total && capacity < limit) grow();
          continue;
        }
        if (first && BATCH_UNSUPPORTED.has(errno)) return this.#dumpByIteration();
        this.#fail('MAP_LOOKUP_BATCH', errno);
      }
      total += v.getUint32(B.count, true);
      if (done) break;
    }
    return { count: total, keys: keys.bytes.subarray(0, total * ks), values: values.bytes.subarray(0, total * vs) };
  }

  #dumpByIteration(): BatchChunk {
    const pairs = [...this.entries()];
    const keys = new Uint8Array(pairs.length * this.keySize);
    const values = new Uint8Array(pairs.length * this.userValueSize);
    pairs.forEach(([k, val], i) => {
      keys.set(k, i * this.keySize);
      values.set(val, i * this.userValueSize);
    });
    return { count: pairs.length, keys, values };
  }

  /** BPF_MAP_UPDATE_BATCH: `keys` and `values` packed, `count` elements. Returns how many were updated. */
  updateBatch(keys: Uint8Array, values: Uint8Array, options: { elemFlags?: number } = {}): number {
    const count = this.keySize === 0 ? 0 : keys.byteLength / this.keySize;
    if (!Number.isInteger(count) || count === 0) throw new RangeError(`updateBatch: keys must be a non-empty multiple of key_size ${this.keySize} bytes, got ${keys.byteLength}`);
    if (values.byteLength !== count * this.userValueSize) throw new RangeError(`updateBatch: ${count} keys need ${count * this.userValueSize} bytes of values, got ${values.byteLength}`);
    return this.#batchWrite('MAP_UPDATE_BATCH', keys, values, count, options.elemFlags ?? 0);
  }

  /** BPF_MAP_DELETE_BATCH: deletes the packed `keys`. Returns how many were deleted. */
  deleteBatch(keys: Uint8Array): number {
    const count = this.keySize === 0 ? 0 : keys.byteLength / this.keySize;
    if (!Number.isInteger(count) || count === 0) throw new RangeError(`deleteBatch: keys must be a non-empty multiple of key_size ${this.keySize} bytes, got ${keys.byteLength}`);
    return this.#batchWrite('MAP_DELETE_BATCH', keys, undefined, count, 0);
  }

  #batchWrite(cmd: 'MAP_UPDATE_BATCH' | 'MAP_DELETE_BATCH', keys: Uint8Array, values: Uint8Array | undefined, count: number, elemFlags: number): number {
    using k = new NativeBuffer(keys.byteLength);
    k.bytes.set(keys);
    using val = new NativeBuffer(Math.max(1, values?.byteLength ?? 1));
    if (values) val.bytes.set(values);
    using attr = new NativeBuffer(B.size);
    const v = attr.view;
    v.setBigUint64(B.keys, k.address, true);
    if (values) v.setBigUint64(B.values, val.address, true);
    v.setUint32(B.count, count, true);
    v.setUint32(B.map_fd, this.fd, true);
    v.setBigUint64(B.elem_flags, BigInt(elemFlags), true);
    const r = syscall4(SYS_BPF, BpfCommand[cmd], attr.addressNumber, B.size) as number;
    if (r < 0) this.#fail(cmd, lastErrno());
    return v.getUint32(B.count, true);
  }

  // ---- whole-map operations ----

  /** Makes the map read-only for user space (BPF_MAP_FREEZE). */
  freeze(): void {
    bpfCommand('MAP_FREEZE', Attr.mapElem.size, (a) => a.view.setUint32(E.map_fd, this.fd, true), this.name || this.typeName);
  }

  /**
   * The map's memory (BPF_F_MMAPABLE arrays, arena), mapped shared and
   * writable: a live view, reads and writes reach the map at once. The
   * same buffer is returned until the map is closed; after close() it reads
   * zeros and writes land in memory of the process's own (never a crash).
   *
   * A map user space may not write (frozen, BPF_F_RDONLY, opened
   * read-only) cannot be mapped writable: that is a MapMemoryError. Then
   * `memory({ writable: false })` gives a copy of the memory taken now
   * (safe to write, not live), and `unsafeMemory({ writable: false })` the
   * live read-only view.
   */
  memory(options: { writable?: boolean; length?: number } = {}): ArrayBuffer {
    if (options.writable === false) return this.#snapshot(options.length);
    if (this.#mapped && !this.#mapped.closed) return this.#mapped.buffer;
    try {
      this.#mapped = this.#map(Prot.READ | Prot.WRITE, options.length);
    } catch (e) {
      if (e instanceof SyscallError && (e.errno === Errno.EPERM || e.errno === Errno.EACCES)) {
        throw new MapMemoryError(`${this.#label()}: user space may not write this map (frozen, BPF_F_RDONLY or opened read-only), so it cannot be mapped writable; memory({ writable: false }) copies it, unsafeMemory({ writable: false }) maps it read-only`, e);
      }
      throw e;
    }
    return this.#mapped.buffer;
  }

  /**
   * UNSAFE: the map's memory mapped with exactly the protection asked for.
   * With `writable: false` the view is onto read-only pages, and
   * JavaScript cannot stop a write to an ArrayBuffer: one write through it
   * kills the process with SIGSEGV. Use it only to read a map that cannot
   * be mapped writable (see memory()) when a copy is too slow. Closed with
   * the map like memory()'s view (afterwards it reads zeros, and writes no
   * longer crash).
   */
  unsafeMemory(options: { writable?: boolean; length?: number } = {}): ArrayBuffer {
    if (options.writable !== false) return this.memory(options);
    if (this.#mappedReadOnly && !this.#mappedReadOnly.closed) return this.#mappedReadOnly.buffer;
    this.#mappedReadOnly = this.#map(Prot.READ, options.length);
    return this.#mappedReadOnly.buffer;
  }

  /** A copy of the map's memory, through a read-only mapping that never escapes. */
  #snapshot(length?: number): ArrayBuffer {
    const m = this.#map(Prot.READ, length);
    try {
      return m.buffer.slice(0);
    } finally {
      m.close();
    }
  }

  #map(prot: number, length?: number): MappedMemory {
    if (length === undefined) {
      if (this.type === MapType.ARENA) length = this.maxEntries * pageSize();
      else length = Math.ceil((this.maxEntries * Math.ceil(this.valueSize / 8) * 8) / pageSize()) * pageSize();
    }
    return new MappedMemory(length, prot, MmapFlags.SHARED, this.fd, 0, `mmap ${this.#label()}`);
  }

  #label(): string {
    return `${this.typeName} map${this.name ? ` '${this.name}'` : ''}`;
  }

  pin(path: string): void {
    pinFd(this.fd, path);
  }

  /** Typed access with codecs for key and value: map.typed(u32, u64).get(1). */
  typed<K, V>(key: Codec<K>, value: Codec<V>): TypedMap<K, V> {
    return new TypedMap(this, key, value);
  }

  info(): MapInfo {
    return mapInfoByFd(this.fd);
  }

  get id(): number {
    return this.info().id;
  }

  /** True for maps whose values are fds of other objects (prog array, map-in-map, sockmap...). */
  get holdsFds(): boolean {
    return FD_VALUE_TYPES.has(this.type);
  }

  close(): void {
    if (this.#fd.closed) return;
    this.#mapped?.close();
    this.#mappedReadOnly?.close();
    this.#fd.close();
    this.#attr.free();
    this.#key.free();
    this.#value.free();
    this.#nextKey.free();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

