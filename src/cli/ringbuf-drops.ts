/**
 * Lost ring-buffer events of a compiled module. The kernel does not count
 * the reserves that fail because a ring is full; the compiler makes every
 * program count them in a hidden .data u64 per ring (ringbufDropCounter),
 * which this reads.
 */
import type { CompiledModule } from '../dsl/compiler/compile.js';
import { ringbufDropsVariable } from '../dsl/compiler/hidden-variables.js';
import type { BpfMap } from '../kernel/map.js';

/** Reads the drop counters of the module's ring buffers: ring name → events lost so far. */
export function ringbufDropReader(mod: CompiledModule, maps: ReadonlyMap<string, BpfMap>): () => Map<string, bigint> {
  const data = mod.data.find((d) => d.name === '.data');
  const map = maps.get('.data');
  const counters = mod.maps
    .filter((m) => m.kind === 'ringbuf')
    .map((m) => ({ ring: m.name, variable: data?.variables.find((v) => v.name === ringbufDropsVariable(m.name)) }))
    .filter((c) => c.variable !== undefined);
  const key = new Uint8Array(4);
  return () => {
    const out = new Map<string, bigint>();
    const value = map && counters.length > 0 ? map.lookup(key) : undefined;
    for (const c of counters) {
      out.set(c.ring, value ? new DataView(value.buffer, value.byteOffset + c.variable!.offset, 8).getBigUint64(0, true) : 0n);
    }
    return out;
  };
}
