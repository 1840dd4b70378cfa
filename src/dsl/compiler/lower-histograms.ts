/**
 * `h.record(value)` / `h.record(key, value)` inside programs: the bucket
 * index computed as bpftrace computes it (see histogram-model.ts), the
 * (key, bucket) pair built on the stack, and its count incremented.
 */
import type { Node } from 'ts-morph';
import { I64, sizeOf, type StructType } from './ctypes.js';
import { imm, reg, type VReg } from './ir.js';
import type { FunctionLowering } from './lower.js';
import { addAtKey } from './lower-maps.js';
import type { MapInfo } from './module-model.js';
import type { Value } from './values.js';

export function histogramMethod(l: FunctionLowering, map: MapInfo, method: string, args: Node[], node: Node): Value {
  const spec = map.histogram!;
  if (method !== 'record') return l.fail(node, 'TSBPF_METHOD', `histograms have record, not ${method}`);
  const keyed = spec.key !== undefined;
  if (args.length !== (keyed ? 2 : 1)) l.fail(node, 'TSBPF_ARGS', keyed ? 'record(key, value) on a keyed histogram' : 'record(value) on a histogram without a key');
  const valueNode = args[keyed ? 1 : 0]!;
  const value = l.toReg(l.convert(l.int(valueNode), I64, valueNode));
  l.at(node);
  const bucket = spec.kind === 'log2' ? log2Index(l, value) : linearIndex(l, value, spec.min!, spec.max!, spec.step!);

  const keyType = map.key as StructType;
  const slot = l.slot(keyType.size, node);
  const k = l.newReg();
  l.emit({ op: 'frame', dst: k, slot, off: 0 });
  // Zero the whole key first: padding is part of what the hash map compares.
  for (let o = 0; o < keyType.size; o += 8) l.emit({ op: 'store', base: k, off: o, size: 8, value: imm(0) });
  const bucketField = keyType.fields.find((f) => f.name === 'bucket')!;
  if (keyed) {
    const src = l.materialize(args[0]!, spec.key!);
    copy(l, k, src, sizeOf(spec.key!));
  }
  l.emit({ op: 'store', base: k, off: bucketField.offset, size: 8, value: reg(bucket) });
  addAtKey(l, map, k, { k: 'int', op: imm(1), t: I64, literal: true }, node);
  return { k: 'void' };
}

function copy(l: FunctionLowering, dst: VReg, src: VReg, size: number): void {
  for (let o = 0; o < size;) {
    const n = size - o >= 8 ? 8 : size - o >= 4 ? 4 : size - o >= 2 ? 2 : 1;
    const t = l.newReg();
    l.emit({ op: 'load', dst: t, base: src, off: o, size: n as 1 | 2 | 4 | 8 });
    l.emit({ op: 'store', base: dst, off: o, size: n as 1 | 2 | 4 | 8, value: reg(t) });
    o += n;
  }
}

/** 0 for negatives, 1 for 0, else 2 + floor(log2(v)), by halving the search window as bpftrace does. */
function log2Index(l: FunctionLowering, value: VReg): VReg {
  const idx = l.newReg();
  const n = l.newReg();
  const t = l.newReg();
  const done = l.newLabel('hist_done');
  l.emit({ op: 'mov', dst: idx, src: imm(0), bits: 64 });
  l.emit({ op: 'br', cmp: 'slt', bits: 64, a: value, b: imm(0), target: done });
  l.emit({ op: 'mov', dst: idx, src: imm(1), bits: 64 });
  l.emit({ op: 'br', cmp: 'eq', bits: 64, a: value, b: imm(0), target: done });
  l.emit({ op: 'mov', dst: idx, src: imm(2), bits: 64 });
  l.emit({ op: 'mov', dst: n, src: reg(value), bits: 64 });
  for (const shift of [32, 16, 8, 4, 2, 1]) {
    const skip = l.newLabel('hist_bit');
    // n >= 2^shift exactly when n >> shift is not zero (n > 0 here).
    l.emit({ op: 'alu', alu: 'rsh', bits: 64, dst: t, a: reg(n), b: imm(shift) });
    l.emit({ op: 'br', cmp: 'eq', bits: 64, a: t, b: imm(0), target: skip });
    l.emit({ op: 'mov', dst: n, src: reg(t), bits: 64 });
    l.emit({ op: 'alu', alu: 'add', bits: 64, dst: idx, a: reg(idx), b: imm(shift) });
    l.label(skip);
  }
  l.label(done);
  return idx;
}

/** 0 below min, 1 + (v - min) / step inside, 1 + (max - min) / step from max on. */
function linearIndex(l: FunctionLowering, value: VReg, min: number, max: number, step: number): VReg {
  const idx = l.newReg();
  const done = l.newLabel('hist_done');
  l.emit({ op: 'mov', dst: idx, src: imm(0), bits: 64 });
  l.emit({ op: 'br', cmp: 'slt', bits: 64, a: value, b: imm(min), target: done });
  l.emit({ op: 'mov', dst: idx, src: imm(1 + Math.floor((max - min) / step)), bits: 64 });
  l.emit({ op: 'br', cmp: 'sge', bits: 64, a: value, b: imm(max), target: done });
  l.emit({ op: 'alu', alu: 'sub', bits: 64, dst: idx, a: reg(value), b: imm(min) });
  l.emit({ op: 'alu', alu: 'div', bits: 64, dst: idx, a: reg(idx), b: imm(step) });
  l.emit({ op: 'alu', alu: 'add', bits: 64, dst: idx, a: reg(idx), b: imm(1) });
  l.label(done);
  return idx;
}
