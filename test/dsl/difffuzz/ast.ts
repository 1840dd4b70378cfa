/**
 * The differential fuzzer's programs, abstractly: what fast-check generates
 * and shrinks. Nothing here names a variable or a type directly; names are
 * indexes into what is in scope where the node is printed (print.ts), so
 * any value fast-check produces or shrinks to prints as a well-typed module.
 */
import fc from 'fast-check';

export const INT_NAMES = ['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64'] as const;
export type IntName = (typeof INT_NAMES)[number];
export type FieldType = IntName | 'be16' | 'be32';

export type ArithOp = '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^';
export type ShiftOp = '<<' | '>>' | '>>>';
export type CmpOp = '===' | '!==' | '<' | '<=' | '>' | '>=';

/** An integer expression. `n` fields pick among what is in scope (modulo its count, most recent first). */
export type AExpr =
  | { k: 'lit'; v: bigint; style: number }
  | { k: 'var'; n: number }
  | { k: 'cast'; t: IntName; e: AExpr }
  | { k: 'bin'; op: ArithOp; l: AExpr; r: AExpr }
  | { k: 'shift'; op: ShiftOp; l: AExpr; r: AExpr }
  | { k: 'un'; op: '-' | '~'; e: AExpr }
  | { k: 'cond'; c: ACond; a: AExpr; b: AExpr }
  | { k: 'logic'; op: '&&' | '||'; a: AExpr; b: AExpr }
  | { k: 'field'; n: number; f: number }
  | { k: 'call'; n: number; args: AExpr[] }
  | { k: 'len' }
  | { k: 'byte'; e: AExpr }
  | { k: 'swap'; fn: 'ntohs' | 'htons' | 'ntohl' | 'htonl'; e: AExpr }
  | { k: 'global'; n: number };

export type ACond =
  | { k: 'cmp'; op: CmpOp; l: AExpr; r: AExpr }
  | { k: 'not'; c: ACond }
  | { k: 'and' | 'or'; a: ACond; b: ACond }
  | { k: 'truthy'; e: AExpr };

/** Where the result of a map operation goes. */
export type ResultTo = 'drop' | 'decl' | 'assign';

/** A struct value to store: a literal (missing fields are zero) or a copy of a reference in scope. */
export type AValue = { k: 'lit'; fields: AExpr[] } | { k: 'ref'; n: number } | { k: 'int'; e: AExpr };

export type AStmt =
  | { k: 'decl'; kind: 'let' | 'const'; t: IntName | null; e: AExpr }
  | { k: 'assign'; n: number; op: '=' | `${ArithOp | ShiftOp}=`; e: AExpr }
  | { k: 'incdec'; n: number; op: '++' | '--'; prefix: boolean }
  | { k: 'store'; n: number; f: number; op: '=' | `${ArithOp | ShiftOp}=` | '++' | '--'; e: AExpr }
  | { k: 'if'; c: ACond; then: AStmt[]; else: AStmt[] | null }
  | { k: 'switch'; e: AExpr; cases: Array<{ v: bigint; body: AStmt[]; brk: boolean }>; dflt: { body: AStmt[]; brk: boolean } | null; dfltAt: number }
  | { k: 'loop'; from: number; to: number; body: AStmt[] }
  | { k: 'jump'; which: 'break' | 'continue'; c: ACond }
  | { k: 'return'; e: AExpr; c: ACond | null }
  | { k: 'header'; h: number; off: AExpr | number; orReturn: AExpr | null; body: AStmt[] }
  | { k: 'lookup'; m: number; key: AValue; orReturn: AExpr | null; body: AStmt[]; orElse: AStmt[] | null }
  | { k: 'update'; m: number; key: AValue; value: AValue; flags: number | AExpr | null; to: ResultTo }
  | { k: 'delete'; m: number; key: AValue; to: ResultTo }
  | { k: 'increment'; m: number; key: AValue; by: AExpr | null }
  | { k: 'event'; fields: AExpr[]; body: AStmt[]; submit: ACond | boolean }
  | { k: 'output'; value: AValue; to: ResultTo }
  | { k: 'call'; n: number; args: AExpr[] }
  | { k: 'local'; s: number; init: AExpr[] | null }
  | { k: 'swapFields'; n: number; f1: number; f2: number }
  | { k: 'gset'; n: number; e: AExpr };

export interface AStruct {
  fields: FieldType[];
}

export type AMapKind = 'hash' | 'array' | 'percpu_hash' | 'percpu_array';

export interface AMap {
  kind: AMapKind;
  /** An integer type or a struct (by index); arrays are keyed by u32. */
  key: IntName | number;
  value: IntName | number;
  maxEntries: number;
}

export type AParam = { k: 'int'; t: IntName } | { k: 'ref'; s: number };

export interface AFunc {
  params: AParam[];
  ret: IntName | 'void' | null;
  body: AStmt[];
  result: AExpr;
  arrow: boolean;
  /** Marked `@noinline`: a bpf-to-bpf call (when its arguments allow). */
  noinline: boolean;
}

export interface AGlobal {
  t: IntName;
  initial: bigint;
}

export interface AUnit {
  structs: AStruct[];
  maps: AMap[];
  /** The ring buffer's event struct (an index into structs), when the unit has one. */
  ring: number | null;
  globals: AGlobal[];
  funcs: AFunc[];
  body: AStmt[];
  result: AExpr;
  packets: Uint8Array[];
}

// ------------------------------------------------------------ arbitraries

const intName = fc.constantFrom(...INT_NAMES);
const fieldType = fc.constantFrom<FieldType>(...INT_NAMES, 'be16', 'be32');

/** Interesting integers: small ones, the edges of every width, and anything 64-bit. */
const EDGES = [0n, 1n, 2n, 7n, 8n, 15n, 16n, 31n, 32n, 33n, 63n, 64n, 127n, 128n, 255n, 256n, 32767n, 32768n, 65535n, 65536n,
  (1n << 31n) - 1n, 1n << 31n, (1n << 32n) - 1n, 1n << 32n, (1n << 53n) - 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];
export const literal: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 5, arbitrary: fc.bigInt({ min: -20n, max: 300n }) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...EDGES), fc.constantFrom(0n, 1n, -1n), fc.boolean()).map(([e, d, neg]) => (neg ? -(e + d) : e + d)).filter((v) => v >= -(1n << 63n) && v < 1n << 64n) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }) },
);

const arithOp = fc.constantFrom<ArithOp>('+', '-', '*', '/', '%', '&', '|', '^');
const shiftOp = fc.constantFrom<ShiftOp>('<<', '>>', '>>>');
const cmpOp = fc.constantFrom<CmpOp>('===', '!==', '<', '<=', '>', '>=');
const small = fc.nat({ max: 40 });

/** How big programs get: `small` for the CI batch (many programs quickly), `large` for long runs. */
export type UnitSize = 'small' | 'large';

const SIZES: Record<UnitSize, { expr: number; cond: number; stmt: number; block: number; body: number; funcs: number; funcBody: number }> = {
  small: { expr: 3, cond: 2, stmt: 3, block: 3, body: 6, funcs: 2, funcBody: 3 },
  large: { expr: 5, cond: 3, stmt: 4, block: 5, body: 12, funcs: 3, funcBody: 5 },
};

const struct: fc.Arbitrary<AStruct> = fc.record({ fields: fc.array(fieldType, { minLength: 1, maxLength: 6 }) });

const map: fc.Arbitrary<AMap> = fc.record({
  kind: fc.constantFrom<AMapKind>('hash', 'hash', 'array', 'percpu_hash', 'percpu_array'),
  key: fc.oneof(intName, fc.nat({ max: 3 })),
  value: fc.oneof(intName, fc.nat({ max: 3 })),
  maxEntries: fc.integer({ min: 1, max: 8 }),
});

const param: fc.Arbitrary<AParam> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('int' as const), t: intName }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('ref' as const), s: fc.nat({ max: 3 }) }) },
);

const cache = new Map<UnitSize, fc.Arbitrary<AUnit>>();

/** The arbitrary of whole units of a size (the same object each time, so fast-check replays it by seed and path). */
export function unitArbitrary(size: UnitSize): fc.Arbitrary<AUnit> {
  let u = cache.get(size);
  if (!u) {
    u = build(SIZES[size]);
    cache.set(size, u);
  }
  return u;
}

function build(z: (typeof SIZES)[UnitSize]): fc.Arbitrary<AUnit> {
  const exprs = fc.letrec<{ expr: AExpr; cond: ACond }>((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true, maxDepth: z.expr },
      { weight: 6, arbitrary: small.map((n): AExpr => ({ k: 'var', n })) },
      { weight: 4, arbitrary: fc.record({ k: fc.constant('lit' as const), v: literal, style: fc.nat({ max: 9 }) }) },
      { weight: 3, arbitrary: fc.record({ k: fc.constant('field' as const), n: small, f: small }) },
      { weight: 5, arbitrary: fc.record({ k: fc.constant('bin' as const), op: arithOp, l: tie('expr'), r: tie('expr') }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('shift' as const), op: shiftOp, l: tie('expr'), r: tie('expr') }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('cast' as const), t: intName, e: tie('expr') }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('un' as const), op: fc.constantFrom<'-' | '~'>('-', '~'), e: tie('expr') }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('cond' as const), c: tie('cond'), a: tie('expr'), b: tie('expr') }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('logic' as const), op: fc.constantFrom<'&&' | '||'>('&&', '||'), a: tie('expr'), b: tie('expr') }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('call' as const), n: small, args: fc.array(tie('expr'), { maxLength: 4 }) }) },
      { weight: 1, arbitrary: fc.constant<AExpr>({ k: 'len' }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('byte' as const), e: tie('expr') }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('swap' as const), fn: fc.constantFrom<'ntohs' | 'htons' | 'ntohl' | 'htonl'>('ntohs', 'htons', 'ntohl', 'htonl'), e: tie('expr') }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('global' as const), n: small }) },
    ),
    cond: fc.oneof(
      { depthSize: 'small', withCrossShrink: true, maxDepth: z.cond },
      { weight: 6, arbitrary: fc.record({ k: fc.constant('cmp' as const), op: cmpOp, l: tie('expr'), r: tie('expr') }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('truthy' as const), e: tie('expr') }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('not' as const), c: tie('cond') }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constantFrom<'and' | 'or'>('and', 'or'), a: tie('cond'), b: tie('cond') }) },
    ),
  }));

  const expr = exprs.expr;
  const cond = exprs.cond;

  /** A smaller expression for places that multiply (keys, fields of literals). */
  const simpleExpr: fc.Arbitrary<AExpr> = fc.oneof(
    { weight: 3, arbitrary: small.map((n): AExpr => ({ k: 'var', n })) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('lit' as const), v: fc.bigInt({ min: -2n, max: 6n }), style: fc.constant(0) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('field' as const), n: small, f: small }) },
    { weight: 2, arbitrary: expr },
  );

  const value: fc.Arbitrary<AValue> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ k: fc.constant('int' as const), e: simpleExpr }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('lit' as const), fields: fc.array(simpleExpr, { maxLength: 6 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('ref' as const), n: small }) },
  );
  const resultTo = fc.constantFrom<ResultTo>('drop', 'decl', 'assign');
  const assignOp = fc.constantFrom<'=' | `${ArithOp | ShiftOp}=`>('=', '=', '=', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '<<=', '>>=', '>>>=');
  const mapIdx = fc.nat({ max: 7 });

  const stmts = fc.letrec<{ stmt: AStmt; block: AStmt[] }>((tie) => ({
    block: fc.array(tie('stmt'), { maxLength: z.block, depthIdentifier: 'block' }),
    stmt: fc.oneof(
      { depthSize: 'small', withCrossShrink: true, maxDepth: z.stmt },
      { weight: 8, arbitrary: fc.record({ k: fc.constant('decl' as const), kind: fc.constantFrom<'let' | 'const'>('let', 'const'), t: fc.option(intName, { freq: 3 }), e: expr }) },
      { weight: 8, arbitrary: fc.record({ k: fc.constant('assign' as const), n: small, op: assignOp, e: expr }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('incdec' as const), n: small, op: fc.constantFrom<'++' | '--'>('++', '--'), prefix: fc.boolean() }) },
      { weight: 5, arbitrary: fc.record({ k: fc.constant('store' as const), n: small, f: small, op: fc.constantFrom<AStmt & { k: 'store' } extends { op: infer O } ? O : never>('=', '=', '=', '+=', '-=', '^=', '|=', '<<=', '>>=', '++', '--'), e: expr }) },
      { weight: 4, arbitrary: fc.record({ k: fc.constant('if' as const), c: cond, then: tie('block'), else: fc.option(tie('block'), { freq: 2 }) }) },
      {
        weight: 2,
        arbitrary: fc.record({
          k: fc.constant('switch' as const), e: expr,
          cases: fc.array(fc.record({ v: fc.bigInt({ min: -3n, max: 20n }), body: tie('block'), brk: fc.boolean() }), { maxLength: 4 }),
          dflt: fc.option(fc.record({ body: tie('block'), brk: fc.boolean() }), { freq: 2 }),
          dfltAt: fc.nat({ max: 4 }),
        }),
      },
      { weight: 3, arbitrary: fc.record({ k: fc.constant('loop' as const), from: fc.nat({ max: 3 }), to: fc.oneof({ weight: 6, arbitrary: fc.nat({ max: 10 }) }, { weight: 1, arbitrary: fc.constantFrom(16, 33, 100) }), body: tie('block') }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('jump' as const), which: fc.constantFrom<'break' | 'continue'>('break', 'continue'), c: cond }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('return' as const), e: expr, c: fc.option(cond, { freq: 4 }) }) },
      { weight: 5, arbitrary: fc.record({ k: fc.constant('header' as const), h: fc.nat({ max: 5 }), off: fc.oneof(fc.nat({ max: 80 }), expr), orReturn: fc.option(expr), body: tie('block') }) },
      { weight: 5, arbitrary: fc.record({ k: fc.constant('lookup' as const), m: mapIdx, key: value, orReturn: fc.option(expr, { freq: 3 }), body: tie('block'), orElse: fc.option(tie('block'), { freq: 3 }) }) },
      { weight: 4, arbitrary: fc.record({ k: fc.constant('update' as const), m: mapIdx, key: value, value, flags: fc.option(fc.oneof(fc.nat({ max: 2 }), fc.nat({ max: 2 }), expr), { freq: 2 }), to: resultTo }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('delete' as const), m: mapIdx, key: value, to: resultTo }) },
      { weight: 3, arbitrary: fc.record({ k: fc.constant('increment' as const), m: mapIdx, key: value, by: fc.option(expr) }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('event' as const), fields: fc.array(expr, { maxLength: 6 }), body: tie('block'), submit: fc.oneof(fc.boolean(), cond) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('output' as const), value, to: resultTo }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('call' as const), n: small, args: fc.array(expr, { maxLength: 4 }) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('local' as const), s: fc.nat({ max: 3 }), init: fc.option(fc.array(simpleExpr, { maxLength: 6 }), { freq: 3 }) }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('swapFields' as const), n: small, f1: small, f2: small }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('gset' as const), n: small, e: expr }) },
    ),
  }));

  const stmt = stmts.stmt;

  const func: fc.Arbitrary<AFunc> = fc.record({
    params: fc.array(param, { maxLength: 4 }),
    ret: fc.option(fc.oneof(intName, fc.constant('void' as const)), { freq: 4 }),
    body: fc.array(stmt, { maxLength: z.funcBody }),
    result: expr,
    arrow: fc.boolean(),
    noinline: fc.boolean(),
  });

  const unit: fc.Arbitrary<AUnit> = fc.record({
    structs: fc.array(struct, { minLength: 1, maxLength: 3 }),
    maps: fc.array(map, { maxLength: 4 }),
    ring: fc.option(fc.nat({ max: 3 }), { freq: 2 }),
    globals: fc.array(fc.record({ t: intName, initial: fc.bigInt({ min: -5n, max: 300n }) }), { maxLength: 2 }),
    funcs: fc.array(func, { maxLength: z.funcs }),
    body: fc.array(stmt, { minLength: 1, maxLength: z.body }),
    result: expr,
    packets: fc.array(fc.uint8Array({ minLength: 14, maxLength: 96 }), { minLength: 1, maxLength: 3 }),
  });
  return unit;
}
