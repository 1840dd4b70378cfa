/**
 * Integer semantics of the module language (docs/language.md, "Integers"),
 * written from the document and independent of the compiler: types, C's
 * integer promotion and usual arithmetic conversions, wrapping, eBPF's
 * division and shift rules. Values are mathematical bigints inside their
 * type's range.
 */

export interface IntT {
  readonly bits: 8 | 16 | 32 | 64;
  readonly signed: boolean;
  readonly name: string;
}

const t = (name: string, bits: IntT['bits'], signed: boolean): IntT => ({ name, bits, signed });

export const INTS: Readonly<Record<string, IntT>> = {
  u8: t('u8', 8, false), u16: t('u16', 16, false), u32: t('u32', 32, false), u64: t('u64', 64, false),
  i8: t('i8', 8, true), i16: t('i16', 16, true), i32: t('i32', 32, true), i64: t('i64', 64, true),
  bool: t('bool', 8, false), be16: t('be16', 16, false), be32: t('be32', 32, false),
};
export const U8 = INTS.u8!;
export const U16 = INTS.u16!;
export const U32 = INTS.u32!;
export const U64 = INTS.u64!;
export const I32 = INTS.i32!;
export const I64 = INTS.i64!;
export const BOOL = INTS.bool!;

/** The value `v` wrapped into type `t` (two's complement, modulo 2^bits). */
export function wrap(v: bigint, to: IntT): bigint {
  return to.signed ? BigInt.asIntN(to.bits, v) : BigInt.asUintN(to.bits, v);
}

export function fits(v: bigint, to: IntT): boolean {
  return wrap(v, to) === v;
}

/** A constant's type, chosen by its value: i32, else i64, else u64. */
export function typeByValue(v: bigint): IntT {
  if (v >= -(1n << 31n) && v < 1n << 31n) return I32;
  if (v >= -(1n << 63n) && v < 1n << 63n) return I64;
  return U64;
}

/** Integer promotion: types narrower than 32 bits become i32. */
export function promote(a: IntT): IntT {
  return a.bits < 32 ? I32 : a;
}

/** The usual arithmetic conversions, after promotion. */
export function common(x: IntT, y: IntT): IntT {
  const a = promote(x);
  const b = promote(y);
  if (a.bits === b.bits && a.signed === b.signed) return a;
  if (a.signed === b.signed) return a.bits > b.bits ? a : b;
  const [u, s] = a.signed ? [b, a] : [a, b];
  return u.bits >= s.bits ? u : s;
}

export type BinOp = '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<<' | '>>' | '>>>';

/** Exact arithmetic between two constants (as TypeScript computes on small integers). */
export function exact(op: BinOp, a: bigint, b: bigint): bigint {
  switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': return b === 0n ? 0n : a / b;
    case '%': return b === 0n ? a : a % b;
    case '&': return a & b;
    case '|': return a | b;
    case '^': return a ^ b;
    case '<<': case '>>': case '>>>': return shift(op, a, b, typeByValue(a));
  }
}

/**
 * `a op b` in type `in` (both already converted to it), wrapped to `in`.
 * Division by zero gives 0 and modulo by zero the dividend, as eBPF
 * defines them; MIN / -1 wraps to MIN and MIN % -1 is 0.
 */
export function arith(op: Exclude<BinOp, '<<' | '>>' | '>>>'>, a: bigint, b: bigint, in_: IntT): bigint {
  switch (op) {
    case '+': return wrap(a + b, in_);
    case '-': return wrap(a - b, in_);
    case '*': return wrap(a * b, in_);
    case '/': return b === 0n ? 0n : wrap(a / b, in_);
    case '%': return b === 0n ? a : wrap(a % b, in_);
    case '&': return wrap(a & b, in_);
    case '|': return wrap(a | b, in_);
    case '^': return wrap(a ^ b, in_);
  }
}

/** The width a shift amount is taken modulo: 32 for promoted types up to 32 bits, 64 otherwise. */
export function shiftWidth(left: IntT): number {
  return promote(left).bits === 64 ? 64 : 32;
}

/**
 * A shift of `a` (a value of the promoted left type `lt`) by `amount`
 * (taken modulo the width). `>>` is arithmetic for signed types; `>>>`
 * reinterprets as unsigned first. The result type is `lt`, or its unsigned
 * form for `>>>`.
 */
export function shift(op: '<<' | '>>' | '>>>', a: bigint, amount: bigint, lt: IntT): bigint {
  const p = promote(lt);
  const width = shiftWidth(p);
  const n = BigInt.asUintN(64, amount) % BigInt(width);
  switch (op) {
    case '<<': return wrap(a << n, p);
    case '>>': return wrap(a, p) >> n;
    case '>>>': return BigInt.asUintN(width, a) >> n;
  }
}

/** The result type of a shift. */
export function shiftType(op: '<<' | '>>' | '>>>', left: IntT): IntT {
  const p = promote(left);
  if (op !== '>>>' || !p.signed) return p;
  return p.bits === 64 ? U64 : U32;
}

export type CmpOp = '===' | '!==' | '<' | '<=' | '>' | '>=';

export function compare(op: CmpOp, a: bigint, b: bigint): boolean {
  switch (op) {
    case '===': return a === b;
    case '!==': return a !== b;
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
  }
}

/** Swaps the bytes of the low `bits` of v (ntohs/htons, ntohl/htonl). */
export function swapBytes(v: bigint, bits: 16 | 32): bigint {
  const x = BigInt.asUintN(bits, v);
  let out = 0n;
  for (let i = 0; i < bits / 8; i++) out = (out << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
  return out;
}
