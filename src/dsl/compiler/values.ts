/**
 * What an expression lowers to: an integer (in a register or constant), a
 * pointer to typed memory, or one of the DSL's special objects.
 */
import type { CType, IntType } from './ctypes.js';
import type { Operand, VReg } from './ir.js';
import type { KernelStruct, KStep, KType } from './kernel-types.js';
import type { GlobalInfo, MapInfo } from './module-model.js';

/** Where a pointer points: the verifier treats each differently ('mapkey': a key forEachElem passes, read-only; 'sock': a packet's socket, or an address array copied out of one, read-only). */
export type Space = 'stack' | 'map' | 'packet' | 'ctx' | 'ringbuf' | 'rodata' | 'mapkey' | 'sock';

export type Value =
  /**
   * An integer value. `literal`: an untyped constant (exact, typed by its
   * value). `folded`: a constant only because the compiler unrolled or
   * propagated it (a loop variable): not a compile-time constant of the
   * language, so it gets the run-time semantics (no TSBPF_DIV_ZERO, shift
   * amounts taken modulo the width, offsets clamped). With `orNull`, a
   * nullable integer (what a map of integers' `lookup` gives): that 64-bit
   * register is 0 when the value is null, and `op` then holds 0, so a truth
   * test of `op` is TypeScript's.
   */
  | { k: 'int'; op: Operand; t: IntType; literal?: boolean; folded?: boolean; orNull?: VReg }
  /**
   * A reference. One to an integer (`to.kind === 'int'`) is a field or
   * element: a place, read when it is used as a value (see FunctionLowering.taken).
   * `refs`: the references (Lifetimes ids) it may be part of, whose release ends it.
   * `nullIf` marks a packet header not yet materialised: it is
   * null exactly when `a > b` (its end beyond data_end), so a null check is
   * that one comparison, the form the verifier learns packet ranges from.
   * `innerMap` marks the result of a map-of-maps lookup: a pointer to that inner map.
   */
  | { k: 'ptr'; reg: VReg; to: CType; space: Space; nullIf?: { a: VReg; b: VReg }; refs?: readonly number[]; innerMap?: MapInfo }
  | { k: 'null' }
  /**
   * Kernel memory not read yet: `base` (a kernel address) plus the CO-RE
   * access `path` from `root` (none: the field is at `base` itself).
   */
  | { k: 'kernel'; base: VReg; root?: KernelStruct; path: KStep[]; type: KType; btf?: boolean }
  | { k: 'void' }
  | { k: 'ctx' }
  | { k: 'packet' }
  | { k: 'map'; map: MapInfo }
  | { k: 'global'; global: GlobalInfo }
  | { k: 'header'; struct: CType }
  | { k: 'dsl'; name: string };

/** A place that can be read and written. */
export type Place =
  /** A local; with `nullFlag`, a nullable integer local whose flag an assignment sets. */
  | { k: 'var'; reg: VReg; t: IntType; nullFlag?: VReg }
  /** Memory; with `guard`, accessed only when not `a > b` (packet bytes at a variable index). */
  | { k: 'mem'; base: VReg; off: number; t: IntType; guard?: { a: VReg; b: VReg } }
  | { k: 'global'; global: GlobalInfo };
