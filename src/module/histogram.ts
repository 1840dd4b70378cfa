/**
 * Reading histogram maps (`log2Hist`, `linearHist`) and printing them as
 * bpftrace prints hist() and lhist(): one section per key, buckets from the
 * lowest to the highest non-empty one, a 52-column bar scaled to the largest.
 */
import type { CompiledMap } from '../dsl/compiler/compile.js';
import type { HistogramSpec } from '../dsl/compiler/histogram-model.js';
import type { StructType } from '../dsl/compiler/ctypes.js';
import type { BpfMap } from '../kernel/map.js';
import { type Decoded, decodeValue, formatDecoded } from '../cli/dsl-values.js';

/** One bucket: its bpftrace index, its bounds (undefined = open) and its count. */
export interface HistogramBucket {
  index: number;
  /** Inclusive lower bound; undefined for the bucket below every other. */
  low: number | undefined;
  /** Exclusive upper bound; undefined for the bucket above every other. */
  high: number | undefined;
  label: string;
  count: number;
}

/** The buckets of one histogram, lowest first. */
export type HistogramBuckets = HistogramBucket[];

/** One histogram of a keyed histogram map: its key and its buckets. */
export interface HistogramGroup {
  /** The decoded key; undefined for a keyless histogram. */
  key: Decoded | undefined;
  buckets: HistogramBuckets;
}

const BAR_WIDTH = 52;
const UNITS = ['', 'K', 'M', 'G', 'T', 'P', 'E'];

/** bpftrace's integer labels: 1024 → 1K, 3072 → 3K, 1500 → 1500. */
export function sizeLabel(n: number): string {
  if (n === 0) return '0';
  let i = 0;
  let v = n;
  while (i < UNITS.length - 1 && v % 1024 === 0) {
    v /= 1024;
    i++;
  }
  return `${v}${UNITS[i]}`;
}

/**
 * The bounds and label of bucket `index`.
 * @example
 * bucketOf({ kind: 'log2' }, 12);   // { index: 12, low: 1024, high: 2048, label: '[1K, 2K)' }
 */
export function bucketOf(spec: HistogramSpec, index: number): Omit<HistogramBucket, 'count'> {
  if (spec.kind === 'log2') {
    if (index === 0) return { index, low: undefined, high: 0, label: '(..., 0)' };
    if (index === 1) return { index, low: 0, high: 1, label: '[0]' };
    if (index === 2) return { index, low: 1, high: 2, label: '[1]' };
    const low = 2 ** (index - 2);
    return { index, low, high: low * 2, label: `[${sizeLabel(low)}, ${sizeLabel(low * 2)})` };
  }
  const { min = 0, max = 0, step = 1 } = spec;
  const last = 1 + Math.floor((max - min) / step);
  if (index === 0) return { index, low: undefined, high: min, label: `(..., ${sizeLabel(min)})` };
  if (index >= last) return { index, low: max, high: undefined, label: `[${sizeLabel(max)}, ...)` };
  const low = min + (index - 1) * step;
  return { index, low, high: low + step, label: `[${sizeLabel(low)}, ${sizeLabel(low + step)})` };
}

/** Every key's buckets (per-CPU counts summed), from the lowest to the highest non-empty bucket. */
export function readHistogram(map: BpfMap, spec: CompiledMap): HistogramGroup[] {
  const hist = spec.histogram!;
  const keyType = spec.key as StructType;
  const bucketOffset = keyType.fields.find((f) => f.name === 'bucket')!.offset;
  const groups = new Map<string, { key: Decoded | undefined; counts: Map<number, number> }>();
  for (const [k, v] of map) {
    const parts = map.isPerCpu ? map.splitPerCpu(v) : [v];
    let count = 0n;
    for (const p of parts) count += new DataView(p.buffer, p.byteOffset, 8).getBigUint64(0, true);
    if (count === 0n) continue;
    const index = Number(new DataView(k.buffer, k.byteOffset, k.byteLength).getBigUint64(bucketOffset, true));
    const key = hist.key ? decodeValue(k.subarray(0, bucketOffset), hist.key) : undefined;
    const id = key === undefined ? '' : formatDecoded(key);
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { key, counts: new Map() }));
    g.counts.set(index, (g.counts.get(index) ?? 0) + Number(count));
  }
  const out: HistogramGroup[] = [];
  for (const [, g] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const indices = [...g.counts.keys()];
    const lo = Math.min(...indices);
    const hi = Math.max(...indices);
    const buckets: HistogramBuckets = [];
    for (let i = lo; i <= hi; i++) buckets.push({ ...bucketOf(hist, i), count: g.counts.get(i) ?? 0 });
    out.push({ key: g.key, buckets });
  }
  return out;
}

/**
 * One histogram's buckets as bpftrace prints them (label, count, bar).
 * @example
 * process.stdout.write(formatBuckets(live.histograms.latency.read()[0]!.buckets));
 */
export function formatBuckets(buckets: HistogramBuckets): string {
  const max = Math.max(0, ...buckets.map((b) => b.count));
  return buckets
    .map((b) => {
      const bar = max === 0 ? 0 : Math.floor((b.count * BAR_WIDTH) / max);
      return `${b.label.padEnd(16)}${String(b.count).padStart(8)} |${'@'.repeat(bar).padEnd(BAR_WIDTH)}|\n`;
    })
    .join('');
}

/** A key as bpftrace prints it inside `@name[...]`: strings bare, several fields comma-separated. */
function keyText(key: Decoded): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'number' || typeof key === 'bigint') return key.toString();
  if (Array.isArray(key)) return key.map(keyText).join(', ');
  return Object.values(key).map(keyText).join(', ');
}

/**
 * A whole histogram map as bpftrace prints it: `@name:` or `@name[key]:`, the buckets, a blank line.
 * @example
 * process.stdout.write(formatHistogram('latency', live.histograms.latency.read()));   // as bpftrace prints @latency
 */
export function formatHistogram(name: string, groups: HistogramGroup[]): string {
  return groups.map((g) => `@${name}${g.key === undefined ? '' : `[${keyText(g.key)}]`}: \n${formatBuckets(g.buckets)}\n`).join('');
}

/**
 * A log2 histogram's buckets as bcc's tools print them (print_log2_hist):
 * slots `0 -> 1`, `2 -> 3`, `4 -> 7`, … from the first to the highest
 * non-empty one, a 40-column bar of stars. bcc's first slot holds 0 and 1,
 * which are two buckets here ([0] and [1]); negative values have no slot.
 * @example
 * process.stdout.write(formatLog2Bcc(live.histograms.latency.read()[0]!.buckets, 'usecs'));   // as biolatency prints it
 */
export function formatLog2Bcc(buckets: HistogramBuckets, unit: string): string {
  const top = Math.max(0, ...buckets.map((b) => (b.low === undefined || b.low <= 1 ? 0 : Math.log2(b.low))));
  const slots = new Array<number>(top + 1).fill(0);
  for (const b of buckets) {
    if (b.low === undefined || b.high === undefined) continue;
    slots[b.low <= 1 ? 0 : Math.log2(b.low)]! += b.count;
  }
  const wide = slots.length > 32;
  const width = wide ? 20 : 10;
  const max = Math.max(0, ...slots);
  const lines = [`${' '.repeat(wide ? 15 : 5)}${unit.padEnd(wide ? 29 : 19)} : count    distribution`];
  for (let i = 0; i < slots.length; i++) {
    const count = slots[i]!;
    const high = 2 ** (i + 1) - 1;
    const low = i === 0 ? 0 : 2 ** i;
    const stars = max === 0 ? 0 : Math.floor((count * 40) / max);
    lines.push(`${String(low).padStart(width)} -> ${String(high).padEnd(width)} : ${String(count).padEnd(8)} |${'*'.repeat(stars).padEnd(40)}|`);
  }
  return `${lines.join('\n')}\n`;
}
