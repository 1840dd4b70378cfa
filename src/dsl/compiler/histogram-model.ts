/**
 * Histogram maps (`log2Hist`, `linearHist`), laid out as bpftrace lays out
 * hist()/lhist(): a per-CPU hash from (key, bucket index) to a u64 count.
 * Bucket indices follow bpftrace so that output and tests line up:
 *   log2:   0 = (…, 0), 1 = [0], 2 = [1], i ≥ 3 = [2^(i-2), 2^(i-1))
 *   linear: 0 = (…, min), i = [min + (i-1)·step, min + i·step), last = [max, …)
 */
import type { CallExpression, Node, TypeNode } from 'ts-morph';
import type { CompilerContext } from './context.js';
import { type CType, makeStruct, typeName, U64 } from './ctypes.js';

export type HistogramKind = 'log2hist' | 'linearhist';

export const HISTOGRAM_FACTORIES: Record<string, HistogramKind> = { log2Hist: 'log2hist', linearHist: 'linearhist' };

export interface HistogramSpec {
  kind: 'log2' | 'linear';
  /** The user's key type (absent for a keyless histogram). */
  key?: CType;
  min?: number;
  max?: number;
  step?: number;
}

/** How many (key, bucket) pairs a histogram holds unless told. */
const DEFAULT_ENTRIES = 10240;

/** The map a histogram factory call makes: key `{ key?, bucket: u64 }`, value u64. */
export function histogramMap(
  cx: CompilerContext,
  kind: HistogramKind,
  call: CallExpression,
  keyNode: TypeNode | undefined,
  opts: Map<string, Node>,
  positive: (name: string) => number | undefined,
): { key: CType; value: CType; maxEntries: number; histogram: HistogramSpec } {
  const userKey = keyNode ? cx.ctypeOf(keyNode) : undefined;
  const spec: HistogramSpec = { kind: kind === 'log2hist' ? 'log2' : 'linear', ...(userKey ? { key: userKey } : {}) };
  if (kind === 'linearhist') {
    const constant = (name: string): number => {
      const n = opts.get(name);
      const v = n ? cx.constantOf(n) : undefined;
      if (v === undefined || v < -(1n << 31n) || v >= 1n << 31n) {
        cx.report(n ?? call, 'TSBPF_MAP_OPTIONS', `linearHist needs ${name} as a constant 32-bit integer`);
        return 0;
      }
      return Number(v);
    };
    spec.min = constant('min');
    spec.max = constant('max');
    spec.step = constant('step');
    if (spec.step <= 0 || spec.max <= spec.min) cx.report(call, 'TSBPF_MAP_OPTIONS', 'linearHist needs step > 0 and max > min');
  }
  const fields = [...(userKey ? [{ name: 'key', type: userKey }] : []), { name: 'bucket', type: U64 }];
  return { key: makeStruct(userKey ? `hist_key_${typeName(userKey).replace(/\W+/g, '_')}` : 'hist_key', fields), value: U64, maxEntries: positive('maxEntries') ?? DEFAULT_ENTRIES, histogram: spec };
}
