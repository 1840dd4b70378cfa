/**
 * The base of map kinds that programs do not reach by key (queue, stack,
 * bloom filter, ring buffer, perf event array): lookup finds nothing, update
 * and delete are -EINVAL, and there are no keys to list. Kinds that accept
 * values through update (push) override it.
 */
import { Errno, type InterpMap } from './maps.js';

export abstract class KeylessMap implements InterpMap {
  abstract readonly type: string;
  abstract readonly keySize: number;
  abstract readonly valueSize: number;
  abstract readonly maxEntries: number;

  lookup(): Uint8Array | undefined {
    return undefined;
  }

  update(_key: Uint8Array, _value: Uint8Array, _flags: bigint): number {
    return -Errno.EINVAL;
  }

  delete(): number {
    return -Errno.EINVAL;
  }

  keys(): Iterable<Uint8Array> {
    return [];
  }
}
