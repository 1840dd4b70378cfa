/**
 * Map methods inside programs: lookup (a reference or null), update,
 * delete, increment, and ring buffer reserve/submit/discard/output.
 */
import { Node } from 'ts-morph';
import { Helper } from '../../asm/helpers.js';
import { I32, I64, type IntType, sizeOf, spinLocks } from './ctypes.js';
import { HELPER_PROGRAMS } from './helpers.js';
import { imm, reg, type VReg } from './ir.js';
import type { FunctionLowering } from './lower.js';
import { FOR_EACH_KINDS, freesValues, KEY_VALUE_KINDS, type MapKind } from './map-kinds.js';
import { forEachCall } from './subprograms.js';
import type { MapInfo } from './module-model.js';
import { copiedToStack, inStackOrMap, otherMapMethod } from './lower-map-kinds.js';

/** Maps with one value per key, where a 32/64-bit add is made atomic. */
const SHARED_KINDS: ReadonlySet<MapKind> = new Set(['hash', 'array', 'lru_hash', 'lpm_trie']);
import type { Value } from './values.js';
import { histogramMethod } from './lower-histograms.js';

export function mapMethod(l: FunctionLowering, map: MapInfo, method: string, args: Node[], node: Node): Value {
  const need = (n: number) => {
    if (args.length < n) l.fail(node, 'TSBPF_ARGS', `${method} needs ${n} argument(s)`);
  };
  if (map.histogram) return histogramMethod(l, map, method, args, node);
  if (spinLocks(map.value).count > 0 && !HELPER_PROGRAMS.withLock!.includes(l.program.kind)) {
    l.fail(node, 'TSBPF_LOCK', `${map.name}'s values hold a SpinLock, which the kernel does not let ${l.program.kind} programs use`);
  }
  if (method === 'forEachElem') {
    if (!FOR_EACH_KINDS.has(map.kind)) {
      return l.fail(node, 'TSBPF_FOR_EACH', `forEachElem walks hash, LRU hash, array and per-CPU hash and array maps, not ${map.kind} maps`);
    }
    return forEachCall(l, map, args, node);
  }
  if (!KEY_VALUE_KINDS.has(map.kind) && map.kind !== 'ringbuf') {
    const v = otherMapMethod(l, map, method, args, node);
    if (v) return v;
  }
  if (map.kind === 'ringbuf') {
    switch (method) {
      case 'reserve': {
        const r = l.call(Helper.ringbuf_reserve, [reg(l.mapFd(map)), imm(sizeOf(map.value)), imm(0)], node)!;
        countDrop(l, map, r, 'ne'); // NULL: the ring is full
        return { k: 'ptr', reg: r, to: map.value, space: 'ringbuf', refs: [l.lifetimes.acquire({ kind: 'event' })] };
      }
      case 'submit':
      case 'discard': {
        need(1);
        const v = l.expr(args[0]!);
        if (v.k !== 'ptr' || v.space !== 'ringbuf') l.fail(args[0]!, 'TSBPF_RINGBUF', `${method} takes the reference returned by reserve()`);
        l.call(method === 'submit' ? Helper.ringbuf_submit : Helper.ringbuf_discard, [reg(v.reg), imm(0)], node, false);
        if (v.k === 'ptr') l.lifetimes.release({ kind: 'events', ids: v.refs ?? [] }, `${map.name}.${method}()`, node);
        return { k: 'void' };
      }
      case 'output': {
        need(1);
        // bpf_ringbuf_output may not read the packet (the verifier: "helper access to the packet is not allowed").
        const p = inStackOrMap(l, args[0]!, map.value);
        const r = l.call(Helper.ringbuf_output, [reg(l.mapFd(map)), reg(p), imm(sizeOf(map.value)), imm(0)], node)!;
        countDrop(l, map, r, 'sge'); // a negative errno: the ring is full
        return { k: 'int', op: reg(r), t: I64 };
      }
      default:
        return l.fail(node, 'TSBPF_METHOD', `ring buffers have reserve, submit, discard and output, not ${method}`);
    }
  }
  const key = map.key!;
  switch (method) {
    case 'lookup': {
      need(1);
      const k = l.materialize(args[0]!, key);
      const r = l.call(Helper.map_lookup_elem, [reg(l.mapFd(map)), reg(k)], node)!;
      if (map.value.kind === 'int') return storedInteger(l, r, map.value);
      // Array elements live as long as the map; hash-map values until a delete or update may free them.
      const refs = freesValues(map.kind) ? [l.lifetimes.acquire({ kind: 'value', map, key: l.cx.constantOf(args[0]!) })] : [];
      return { k: 'ptr', reg: r, to: map.value, space: 'map', ...(refs.length ? { refs } : {}) };
    }
    case 'update': {
      need(2);
      const keyValue = Node.isObjectLiteralExpression(args[0]!) ? undefined : l.expr(args[0]!);
      const k = keyValue === undefined ? l.materialize(args[0]!, key) : l.materializeValue(keyValue, key, args[0]!);
      const value = Node.isObjectLiteralExpression(args[1]!) ? undefined : l.expr(args[1]!);
      const v = value === undefined ? l.materialize(args[1]!, map.value) : l.materializeValue(value, map.value, args[1]!);
      const flags = args[2] ? l.int(args[2]).op : imm(0);
      // A helper takes at most one pointer into memory it must see released (the verifier: "more than one arg
      // with ref_obj_id"): a key in a ring-buffer event whose event is also the value goes as a copy, made
      // when the helper would read it.
      const inEvent = (x: Value | undefined, r: VReg): x is Extract<Value, { k: 'ptr' }> => x?.k === 'ptr' && x.space === 'ringbuf' && x.reg === r;
      const keyArg = inEvent(keyValue, k) && inEvent(value, v) ? copiedToStack(l, keyValue, key, args[0]!) : k;
      const r = l.call(Helper.map_update_elem, [reg(l.mapFd(map)), reg(keyArg), reg(v), flags], node)!;
      // The kernel replaces the element (an LRU map may evict any other to make room).
      if (freesValues(map.kind)) l.lifetimes.release({ kind: 'values', map, key: map.kind === 'lru_hash' ? 'any' : l.cx.constantOf(args[0]!) }, `${map.name}.update()`, node);
      return { k: 'int', op: reg(r), t: I64 };
    }
    case 'delete': {
      need(1);
      const k = l.materialize(args[0]!, key);
      const r = l.call(Helper.map_delete_elem, [reg(l.mapFd(map)), reg(k)], node)!;
      if (freesValues(map.kind)) l.lifetimes.release({ kind: 'values', map, key: l.cx.constantOf(args[0]!) }, `${map.name}.delete()`, node);
      return { k: 'int', op: reg(r), t: I64 };
    }
    case 'increment':
      need(1);
      increment(l, map, args, node);
      return { k: 'void' };
    default:
      return l.fail(node, 'TSBPF_METHOD', `maps have lookup, update, delete and increment, not ${method}`);
  }
}


/**
 * A lookup in a map of integers gives the integer stored now (a value, as
 * TypeScript's `number | null` says), not a reference: read it here, 0 when
 * absent, with the looked-up pointer as its null flag.
 */
export function storedInteger(l: FunctionLowering, p: VReg, t: IntType): Value {
  const value = l.newReg();
  const absent = l.newLabel('absent');
  l.emit({ op: 'mov', dst: value, src: imm(0), bits: 64 });
  l.emit({ op: 'br', cmp: 'eq', bits: 64, a: p, b: imm(0), target: absent });
  l.emit({ op: 'mov', dst: value, src: l.load(p, 0, t).op, bits: 64 });
  l.label(absent);
  return { k: 'int', op: reg(value), t, orNull: p };
}

/**
 * Unless `result okIf 0`, adds one to the ring's drop counter (a hidden
 * .data u64, atomically: every CPU may fail at once), so user space can
 * report lost events.
 */
function countDrop(l: FunctionLowering, map: MapInfo, result: VReg, okIf: 'ne' | 'sge'): void {
  const counter = l.model.ringbufDropCounter(map);
  const ok = l.newLabel('no_drop');
  l.emit({ op: 'br', cmp: okIf, bits: 64, a: result, b: imm(0), target: ok });
  const base = l.newReg();
  l.emit({ op: 'map', dst: base, map: counter.section, valueOffset: counter.offset });
  const one = l.newReg();
  l.emit({ op: 'mov', dst: one, src: imm(1), bits: 64 });
  l.emit({ op: 'atomicAdd', base, off: 0, size: 8, value: one });
  l.label(ok);
}

function increment(l: FunctionLowering, map: MapInfo, args: Node[], node: Node): void {
  const vt = map.value;
  if (vt.kind !== 'int') l.fail(node, 'TSBPF_INCREMENT', 'increment needs a map with integer values');
  // Arguments in source order: the key is taken before `by` runs (which may change what the key was read from).
  const k = l.materialize(args[0]!, map.key!);
  const by = l.coerceLoose(args[1] ? l.int(args[1]) : { k: 'int', op: imm(1), t: I32, literal: true }, vt, args[1] ?? node);
  addAtKey(l, map, k, by, node);
}

/** Adds `by` to the integer value at the key `k` points to, inserting it when missing (not for array maps). */
export function addAtKey(l: FunctionLowering, map: MapInfo, k: VReg, by: Extract<Value, { k: 'int' }>, node: Node): void {
  const vt = map.value;
  if (vt.kind !== 'int') l.fail(node, 'TSBPF_INCREMENT', 'increment needs a map with integer values');
  const size = (vt.bits / 8) as 1 | 2 | 4 | 8;
  const done = l.newLabel('done');
  const addTo = (p: VReg) => {
    if ((size === 8 || size === 4) && SHARED_KINDS.has(map.kind)) {
      const byReg = by.op.kind === 'reg' ? by.op.reg : l.toReg(by);
      l.emit({ op: 'atomicAdd', base: p, off: 0, size, value: byReg });
    } else {
      const cur = l.load(p, 0, vt);
      const sum = l.arith('add', cur, by, node);
      l.emit({ op: 'store', base: p, off: 0, size, value: sum.op });
    }
  };
  l.at(node);
  // One add for both ways to the value (found at once, or after a lost insertion race), as clang
  // merges the two arms of `if (!p) { …; p = lookup(); } if (p) *p += by;`.
  const add = l.newLabel('add');
  const p = l.call(Helper.map_lookup_elem, [reg(l.mapFd(map)), reg(k)], node)!;
  // Array slots always exist: a missing one is an index out of range, nothing to insert.
  if (map.kind === 'array' || map.kind === 'percpu_array') {
    l.emit({ op: 'br', cmp: 'eq', bits: 64, a: p, b: imm(0), target: done });
  } else {
    l.emit({ op: 'br', cmp: 'ne', bits: 64, a: p, b: imm(0), target: add });
    const s = l.slot(8, node);
    const vp = l.newReg();
    l.emit({ op: 'frame', dst: vp, slot: s, off: 0 });
    l.emit({ op: 'store', base: vp, off: 0, size, value: by.op });
    const r = l.call(Helper.map_update_elem, [reg(l.mapFd(map)), reg(k), reg(vp), imm(1)], node)!;
    // Lost a race with another CPU inserting the key: add to its value.
    l.emit({ op: 'br', cmp: 'eq', bits: 64, a: r, b: imm(0), target: done });
    l.call(Helper.map_lookup_elem, [reg(l.mapFd(map)), reg(k)], node, true, p);
    l.emit({ op: 'br', cmp: 'eq', bits: 64, a: p, b: imm(0), target: done });
  }
  l.label(add);
  addTo(p);
  l.label(done);
}
