/**
 * Helper functions callable from interpreted programs. A helper receives the
 * run's context and r1..r5 and returns r0. The default table has the common
 * helpers; pass `helpers` to `run` to add or replace entries by id.
 */
import { InterpError } from './errors.js';
import type { InterpMap } from './maps.js';
import type { Memory } from './memory.js';

export interface HelperContext {
  readonly memory: Memory;
  /** Slot index of the call being served (for error messages). */
  readonly pc: number;
  /** The map behind a map pointer (from lddw of a map); throws E_HELPER otherwise. */
  map(handle: bigint): InterpMap;
  /** Maps value storage returned by a map into the address space; returns its address. */
  pointerTo(bytes: Uint8Array, name?: string): bigint;
  /** Records one line of trace output (bpf_trace_printk). */
  trace(line: string): void;
  /** Monotonic nanoseconds. */
  now(): bigint;
  /** A pseudo-random u32. */
  random(): number;
  /** The CPU number reported to the program. */
  readonly cpu: number;
}

export type Helper = (ctx: HelperContext, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint) => bigint;

export type HelperTable = Readonly<Record<number, Helper>>;

/** Kernel helper ids (enum bpf_func_id in the uapi bpf.h). */
export const HelperId = {
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  KTIME_GET_NS: 5,
  TRACE_PRINTK: 6,
  GET_PRANDOM_U32: 7,
  GET_SMP_PROCESSOR_ID: 8,
  KTIME_GET_BOOT_NS: 125,
  KTIME_GET_COARSE_NS: 160,
} as const;

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

const mapLookup: Helper = (ctx, map, key) => {
  const m = ctx.map(map);
  const value = m.lookup(ctx.memory.slice(key, m.keySize, ctx.pc));
  return value === undefined ? 0n : ctx.pointerTo(value, `${m.type} map value`);
};

const mapUpdate: Helper = (ctx, map, key, value, flags) => {
  const m = ctx.map(map);
  return u64(BigInt(m.update(ctx.memory.slice(key, m.keySize, ctx.pc), ctx.memory.slice(value, m.valueSize, ctx.pc), flags)));
};

const mapDelete: Helper = (ctx, map, key) => {
  const m = ctx.map(map);
  return u64(BigInt(m.delete(ctx.memory.slice(key, m.keySize, ctx.pc))));
};

/** Formats bpf_trace_printk's format with up to three arguments, the kernel's way. */
export function formatTrace(ctx: HelperContext, fmt: string, args: readonly bigint[]): string {
  let next = 0;
  const take = (): bigint => {
    if (next >= args.length) throw new InterpError('E_HELPER', 'bpf_trace_printk: more than 3 conversions', ctx.pc);
    return args[next++]!;
  };
  return fmt.replace(/%(l{0,2})([diuxXcsp%])/g, (_all, length: string, conv: string) => {
    if (conv === '%') return '%';
    const bits = length === '' ? 32 : 64;
    const v = take();
    switch (conv) {
      case 'd':
      case 'i':
        return BigInt.asIntN(bits, v).toString();
      case 'u':
        return BigInt.asUintN(bits, v).toString();
      case 'x':
        return BigInt.asUintN(bits, v).toString(16);
      case 'X':
        return BigInt.asUintN(bits, v).toString(16).toUpperCase();
      case 'c':
        return String.fromCharCode(Number(v & 0xffn));
      case 's':
        return ctx.memory.cString(v, 256, ctx.pc);
      default:
        return `0x${u64(v).toString(16)}`;
    }
  });
}

const tracePrintk: Helper = (ctx, fmt, size, a1, a2, a3) => {
  const n = Number(size > 4096n ? 4096n : size);
  const text = ctx.memory.cString(fmt, n, ctx.pc);
  const line = formatTrace(ctx, text, [a1, a2, a3]);
  ctx.trace(line.endsWith('\n') ? line.slice(0, -1) : line);
  return BigInt(line.length);
};

export const defaultHelpers: HelperTable = {
  [HelperId.MAP_LOOKUP_ELEM]: mapLookup,
  [HelperId.MAP_UPDATE_ELEM]: mapUpdate,
  [HelperId.MAP_DELETE_ELEM]: mapDelete,
  [HelperId.KTIME_GET_NS]: (ctx) => ctx.now(),
  [HelperId.KTIME_GET_BOOT_NS]: (ctx) => ctx.now(),
  [HelperId.KTIME_GET_COARSE_NS]: (ctx) => ctx.now(),
  [HelperId.TRACE_PRINTK]: tracePrintk,
  [HelperId.GET_PRANDOM_U32]: (ctx) => BigInt(ctx.random() >>> 0),
  [HelperId.GET_SMP_PROCESSOR_ID]: (ctx) => BigInt(ctx.cpu),
};
