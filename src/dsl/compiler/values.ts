/**
 * What an expression lowers to: an integer (in a register or constant), a
 * pointer to typed memory, or one of the DSL's special objects.
 */
import type { CType, IntType } from './ctypes.js';
import type { Operand, VReg } from './ir.js';
import type { GlobalInfo, MapInfo } from './module-model.js';

/** Where a pointer points: the verifier treats each differently. */
export type Space = 'stack' | 'map' | 'packet' | 'ctx' | 'ringbuf';

export type Value =
  | { k: 'int'; op: Operand; t: IntType; literal?: boolean }
  /**
   * A reference. `nullIf` marks a packet header not yet materialised: it is
   * null exactly when `a > b` (its end beyond data_end), so a null check is
   * that one comparison, the form the verifier learns packet ranges from.
   */
  | { k: 'ptr'; reg: VReg; to: CType; space: Space; nullIf?: { a: VReg; b: VReg } }
  | { k: 'null' }
  | { k: 'void' }
  | { k: 'ctx' }
  | { k: 'packet' }
  | { k: 'map'; map: MapInfo }
  | { k: 'global'; global: GlobalInfo }
  | { k: 'header'; struct: CType }
  | { k: 'dsl'; name: string };

/** A place that can be read and written. */
export type Place =
  | { k: 'var'; reg: VReg; t: IntType }
  /** Memory; with `guard`, accessed only when not `a > b` (packet bytes at a variable index). */
  | { k: 'mem'; base: VReg; off: number; t: IntType; guard?: { a: VReg; b: VReg } }
  | { k: 'global'; global: GlobalInfo };
