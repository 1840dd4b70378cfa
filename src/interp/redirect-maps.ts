/**
 * Redirect maps (devmap, devmap_hash, cpumap, xskmap): u32 slots that user
 * space fills with ifindexes, queue sizes or socket fds. Programs cannot
 * read them; bpf_redirect_map asks whether a slot is filled.
 */
import { ArrayMap, HashMap, type MapSpec } from './maps.js';

/** devmap, cpumap, xskmap: an array of u32 where 0 is an empty slot. */
export class RedirectArrayMap extends ArrayMap {
  constructor(spec: MapSpec) {
    super({ ...spec, keySize: 4 });
    Object.defineProperty(this, 'type', { value: spec.type });
  }

  /** Whether bpf_redirect_map would find a target at `key`. */
  has(key: Uint8Array): boolean {
    return this.lookup(key)?.some((b) => b !== 0) ?? false;
  }
}

/** devmap_hash: slots by any u32 key. */
export class RedirectHashMap extends HashMap {
  constructor(spec: MapSpec) {
    super(spec);
    Object.defineProperty(this, 'type', { value: spec.type });
  }

  has(key: Uint8Array): boolean {
    return this.lookup(key) !== undefined;
  }
}
