/**
 * What `tsbpf run` prints besides events and plain maps: histograms as
 * bpftrace prints hist()/lhist(), globals by name, and the --interval
 * printer (every S seconds, a time stamp and every map, optionally cleared).
 */
import { isDumpable } from '../dsl/compiler/map-kinds.js';
import { isHiddenVariable } from '../dsl/compiler/hidden-variables.js';
import type { CompiledModule } from '../dsl/compiler/compile.js';
import type { BpfMap } from '../kernel/map.js';
import { formatHistogram, readHistogram } from '../module/histogram.js';
import { decodeValue, formatDecoded } from './dsl-values.js';
import { printJson } from './output.js';

/** Every histogram of the module, bpftrace style (or one JSON object per key with its buckets). */
export function printHistograms(mod: CompiledModule, maps: ReadonlyMap<string, BpfMap>, json: boolean): void {
  for (const spec of mod.maps) {
    const map = spec.histogram ? maps.get(spec.name) : undefined;
    if (!map) continue;
    const groups = readHistogram(map, spec);
    if (json) {
      for (const g of groups) printJson({ histogram: spec.name, ...(g.key !== undefined ? { key: g.key } : {}), buckets: g.buckets.map(({ low, high, count }) => ({ low: low ?? null, high: high ?? null, count })) });
    } else {
      process.stdout.write(formatHistogram(spec.name, groups));
    }
  }
}

/** The module's globals by name (`.data` values as they are now, `.rodata` as set), bpftrace's `@name: value`. */
export function printGlobals(mod: CompiledModule, maps: ReadonlyMap<string, BpfMap>, json: boolean): void {
  for (const d of mod.data) {
    const bytes = maps.get(d.name)?.lookup(new Uint8Array(4));
    if (!bytes) continue;
    // The compiler's own variables (ring buffer drop counts) are reported as lost events, not as the module's globals.
    for (const v of d.variables.filter((x) => !isHiddenVariable(x.name))) {
      const value = decodeValue(bytes.subarray(v.offset, v.offset + v.size), v.type);
      if (json) printJson({ global: v.name, value });
      else process.stdout.write(`@${v.name}: ${formatDecoded(value)}\n`);
    }
  }
}

/** Empties the module's key/value maps and histograms (array slots are zeroed), for --interval --clear. */
export function clearMaps(mod: CompiledModule, maps: ReadonlyMap<string, BpfMap>): void {
  for (const spec of mod.maps) {
    const map = isDumpable(spec.kind) ? maps.get(spec.name) : undefined;
    if (!map) continue;
    const keys = [...map].map(([k]) => k);
    const isArray = spec.kind === 'array' || spec.kind === 'percpu_array';
    for (const k of keys) {
      if (isArray) map.update(k, new Uint8Array(map.userValueSize));
      else map.delete(k);
    }
  }
}

/** bpftrace's interval header: the wall-clock time, HH:MM:SS. */
export const intervalHeader = (now = new Date()): string => `${now.toTimeString().slice(0, 8)}\n`;

/**
 * Every `seconds`, calls `print` (the time stamp first unless JSON) and
 * clears the maps when asked. Returns the function that stops it.
 */
export function everyInterval(seconds: number, json: boolean, print: () => void, clear: (() => void) | undefined): () => void {
  const timer = setInterval(() => {
    if (json) printJson({ interval: new Date().toISOString() });
    else process.stdout.write(intervalHeader());
    print();
    clear?.();
  }, seconds * 1000);
  return () => clearInterval(timer);
}
