/**
 * Local storage maps (BPF_MAP_TYPE_TASK_STORAGE, SK_STORAGE, INODE_STORAGE): one value per owner, the
 * owner being the kernel object a program names by pointer. The interpreter
 * has no kernel objects, so an owner is the pointer value itself (what
 * bpf_get_current_task_btf or a tp_btf argument gives), or for the packet's
 * socket of an skb run its cookie (socket.ts); user space sees the entries
 * keyed by that (8 bytes, little-endian), not by pidfd or socket fd.
 */
import { checkSpec, Errno, type InterpMap, type MapSpec } from './maps.js';

export class LocalStorageMap implements InterpMap {
  readonly type: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly #values = new Map<bigint, Uint8Array>();

  constructor(spec: MapSpec) {
    checkSpec({ ...spec, maxEntries: spec.maxEntries || 1 }, { keySize: 4 });
    this.type = spec.type;
    this.keySize = spec.keySize;
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
  }

  /** The owner's value (live storage), made zeroed (or from `initial`) when `create` and absent. */
  get(owner: bigint, create: boolean, initial?: Uint8Array): Uint8Array | undefined {
    let v = this.#values.get(owner);
    if (!v && create) {
      v = new Uint8Array(this.valueSize);
      if (initial) v.set(initial.subarray(0, this.valueSize));
      this.#values.set(owner, v);
    }
    return v;
  }

  remove(owner: bigint): number {
    return this.#values.delete(owner) ? 0 : -Errno.ENOENT;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    return this.#values.get(ownerOf(key));
  }

  update(key: Uint8Array, value: Uint8Array): number {
    this.get(ownerOf(key), true)!.set(value.subarray(0, this.valueSize));
    return 0;
  }

  delete(key: Uint8Array): number {
    return this.remove(ownerOf(key));
  }

  *keys(): Iterable<Uint8Array> {
    for (const owner of this.#values.keys()) yield keyOf(owner);
  }
}

/** User space names an owner by its pointer, as 8 little-endian bytes. */
function ownerOf(key: Uint8Array): bigint {
  const k = new Uint8Array(8);
  k.set(key.subarray(0, 8));
  return new DataView(k.buffer).getBigUint64(0, true);
}

/** The key user space sees for an owner: ownerOf's inverse. */
function keyOf(owner: bigint): Uint8Array {
  const k = new Uint8Array(8);
  new DataView(k.buffer).setBigUint64(0, owner, true);
  return k;
}
