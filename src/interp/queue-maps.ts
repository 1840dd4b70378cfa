/**
 * BPF_MAP_TYPE_QUEUE (FIFO) and BPF_MAP_TYPE_STACK (LIFO): no keys, values
 * pushed and popped through bpf_map_push_elem / pop_elem / peek_elem.
 */
import { KeylessMap } from './keyless-map.js';
import { Errno, type InterpMap, type MapSpec, UpdateFlags, checkSpec } from './maps.js';

export class QueueMap extends KeylessMap {
  readonly type: string = 'queue';
  readonly keySize = 0;
  readonly valueSize: number;
  readonly maxEntries: number;
  protected readonly items: Uint8Array[] = [];

  constructor(spec: Omit<MapSpec, 'type' | 'keySize'> & Partial<MapSpec>) {
    super();
    checkSpec({ type: this.type, keySize: 0, ...spec }, { keySize: 0 });
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
  }

  get size(): number {
    return this.items.length;
  }

  /** 0 or a negative errno; with BPF_EXIST a full map drops its oldest element to make room. */
  push(value: Uint8Array, flags: bigint): number {
    if (flags !== UpdateFlags.ANY && flags !== UpdateFlags.EXIST) return -Errno.EINVAL;
    if (this.items.length >= this.maxEntries) {
      if (flags !== UpdateFlags.EXIST) return -Errno.E2BIG;
      this.items.shift(); // the oldest is at the front for both kinds
    }
    this.items.push(value.slice(0, this.valueSize));
    return 0;
  }

  /** The element pop would return, without removing it. */
  peek(): Uint8Array | undefined {
    return this.items[0];
  }

  pop(): Uint8Array | undefined {
    return this.items.shift();
  }

  override update(_key: Uint8Array, value: Uint8Array, flags: bigint): number {
    return this.push(value, flags);
  }
}

export class StackMap extends QueueMap {
  override readonly type: string = 'stack';

  override peek(): Uint8Array | undefined {
    return this.items[this.items.length - 1];
  }

  override pop(): Uint8Array | undefined {
    return this.items.pop();
  }
}

/** Whether a map supports push/pop/peek. */
export const isQueueLike = (m: InterpMap): m is QueueMap => m instanceof QueueMap;
