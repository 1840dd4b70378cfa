/**
 * Which C-style loops (`for`, `while`, `do`) the compiler accepts: those
 * whose number of iterations it can prove from the source, as the verifier
 * will have to. A loop is bounded when an integer `let` (its *variable*)
 *
 * - starts at a constant (the `for` initializer, or the statement just
 *   before a `while`/`do`: `let v = C` or `v = C`),
 * - is compared with a constant in the condition, or in one `&&` term of it
 *   (`i < N`, `i <= N`, `N > i`, `i >= N` counting down, `i !== N` by ±1),
 * - and is stepped by constants towards that limit on every path to the
 *   next iteration: the `for` update (`i++`, `i += 4`, `i = i - 1`) with no
 *   other assignment in the body; for `while`/`do`, statements `v++`,
 *   `v += C` in the body, at least one on each path to the end of the body
 *   or to a `continue`,
 * - without wrapping around its type (or the type of the comparison).
 *
 * Anything else is TSBPF_LOOP_BOUND, naming what is missing.
 */
import { type DoStatement, type ForStatement, Node, ts, type VariableDeclaration, type WhileStatement } from 'ts-morph';
import { intRange, type IntType } from './ctypes.js';

const SK = ts.SyntaxKind;

/** The most iterations a loop may have (as for `range()`): the verifier walks every one. */
export const MAX_LOOP_TRIPS = 1n << 20n;

/** What the analysis asks of the lowering. */
export interface LoopFacts {
  declarationOf(node: Node): Node | undefined;
  /** The value of a constant expression and the type a comparison of it with a `t` is made in. */
  constant(node: Node, against: IntType): { value: bigint; compareIn: IntType } | undefined;
  /** The type of an integer local as bound now, or undefined when it is not one. */
  localType(decl: Node): IntType | undefined;
}

export interface Induction {
  variable: VariableDeclaration;
  type: IntType;
  start: bigint;
  /** The smallest step of one iteration (signed; a `for` update's exact step). */
  step: bigint;
  /** The most iterations the body can run. */
  trips: bigint;
}

export class LoopBoundError extends Error {
  constructor(
    readonly node: Node,
    message: string,
  ) {
    super(message);
  }
}

/** What to write instead, appended to every TSBPF_LOOP_BOUND message. */
export const LOOP_ADVICE = 'write `for (let i = 0; i < N; i++)` with a constant N (or `for (const i of range(N))`) and `break` when done';

type Cmp = 'lt' | 'le' | 'gt' | 'ge' | 'ne';
const CMP: Partial<Record<number, Cmp>> = {
  [SK.LessThanToken]: 'lt', [SK.LessThanEqualsToken]: 'le', [SK.GreaterThanToken]: 'gt', [SK.GreaterThanEqualsToken]: 'ge',
  [SK.ExclamationEqualsEqualsToken]: 'ne', [SK.ExclamationEqualsToken]: 'ne',
};
const MIRROR: Record<Cmp, Cmp> = { lt: 'gt', gt: 'lt', le: 'ge', ge: 'le', ne: 'ne' };

const unparen = (n: Node): Node => (Node.isParenthesizedExpression(n) ? unparen(n.getExpression()) : n);

/** The terms of a condition joined by `&&`. */
function conjuncts(cond: Node): Node[] {
  const n = unparen(cond);
  if (Node.isBinaryExpression(n) && n.getOperatorToken().getKind() === SK.AmpersandAmpersandToken) return [...conjuncts(n.getLeft()), ...conjuncts(n.getRight())];
  return [n];
}

/** Whether `n` names `decl`. */
function names(facts: LoopFacts, n: Node, decl: Node): boolean {
  const u = unparen(n);
  return Node.isIdentifier(u) && facts.declarationOf(u) === decl;
}

/** The signed constant step an expression makes to `decl` (`v++`, `v += 2`, `v = v - 1`), or undefined when it is not a step. */
export function stepOf(facts: LoopFacts, e: Node, decl: Node, t: IntType): bigint | undefined {
  const n = unparen(e);
  let step: bigint | undefined;
  if ((Node.isPostfixUnaryExpression(n) || Node.isPrefixUnaryExpression(n)) && names(facts, n.getOperand(), decl)) {
    const op = n.getOperatorToken();
    if (op === SK.PlusPlusToken) step = 1n;
    else if (op === SK.MinusMinusToken) step = -1n;
  } else if (Node.isBinaryExpression(n) && names(facts, n.getLeft(), decl)) {
    const op = n.getOperatorToken().getKind();
    let sign = 0n;
    let amount: Node | undefined;
    if (op === SK.PlusEqualsToken || op === SK.MinusEqualsToken) {
      sign = op === SK.PlusEqualsToken ? 1n : -1n;
      amount = n.getRight();
    } else if (op === SK.EqualsToken) {
      const r = unparen(n.getRight());
      if (Node.isBinaryExpression(r) && names(facts, r.getLeft(), decl)) {
        const k = r.getOperatorToken().getKind();
        if (k === SK.PlusToken || k === SK.MinusToken) {
          sign = k === SK.PlusToken ? 1n : -1n;
          amount = r.getRight();
        }
      }
    }
    const c = amount ? facts.constant(amount, t)?.value : undefined;
    // A step must be a small positive amount: larger ones wrap in the variable's own type.
    if (c !== undefined && c > 0n && c < 1n << BigInt(t.bits - 1)) step = sign * c;
  }
  return step;
}

/** The first assignment to `decl` inside `root` (skipping nothing: nested functions are errors of their own). */
export function assignmentTo(facts: LoopFacts, root: Node, decl: Node): Node | undefined {
  let found: Node | undefined;
  root.forEachDescendant((d, walk) => {
    if (found) return walk.stop();
    let target: Node | undefined;
    if (Node.isBinaryExpression(d)) {
      const k = d.getOperatorToken().getKind();
      if (k >= SK.FirstAssignment && k <= SK.LastAssignment) target = d.getLeft();
    } else if ((Node.isPostfixUnaryExpression(d) || Node.isPrefixUnaryExpression(d)) && (d.getOperatorToken() === SK.PlusPlusToken || d.getOperatorToken() === SK.MinusMinusToken)) {
      target = d.getOperand();
    }
    if (target && names(facts, target, decl)) found = d;
    return undefined;
  });
  return found;
}

interface Bound {
  cmp: Cmp;
  limit: bigint;
  compareIn: IntType;
  term: Node;
}

/** The `&&` terms of a condition that compare `decl` with a constant, in the form `v op L`. */
function boundsOn(facts: LoopFacts, cond: Node, decl: Node, t: IntType): Bound[] {
  const out: Bound[] = [];
  for (const term of conjuncts(cond)) {
    if (!Node.isBinaryExpression(term)) continue;
    const cmp = CMP[term.getOperatorToken().getKind()];
    if (!cmp) continue;
    const [l, r] = [term.getLeft(), term.getRight()];
    const onLeft = names(facts, l, decl);
    if (!onLeft && !names(facts, r, decl)) continue;
    const c = facts.constant(onLeft ? r : l, t);
    if (!c) continue;
    out.push({ cmp: onLeft ? cmp : MIRROR[cmp], limit: c.value, compareIn: c.compareIn, term });
  }
  return out;
}

/**
 * The most iterations of a loop whose variable of type `t` starts at
 * `start`, continues while `v cmp limit` (compared in `compareIn`) and moves
 * by between `minStep` and `maxStep` (same sign) per iteration; a string
 * says why there is no bound.
 */
export function tripBound(t: IntType, start: bigint, b: Bound, minStep: bigint, maxStep: bigint): bigint | string {
  const [tlo, thi] = intRange(t);
  const [clo, chi] = intRange(b.compareIn);
  const lo = tlo > clo ? tlo : clo;
  const hi = thi < chi ? thi : chi;
  const name = t.name;
  if (start < lo || start > hi) return `its start ${start} changes value when compared as ${b.compareIn.name}; give the variable and the limit the same type`;
  const limit = b.limit;
  const up = minStep > 0n;
  if (b.cmp === 'ne') {
    if (minStep !== maxStep || (minStep !== 1n && minStep !== -1n)) return '`!==` bounds a loop only when the variable moves by exactly 1; compare with < or >';
    if (up ? start > limit : start < limit) return `it starts past ${limit} and would run until it wraps around`;
    return up ? limit - start : start - limit;
  }
  const wantsUp = b.cmp === 'lt' || b.cmp === 'le';
  if (wantsUp !== up) return `the variable moves ${up ? 'up' : 'down'} but the condition keeps the loop going while it is ${wantsUp ? 'small' : 'large'}`;
  // The last value that passes the test; one more step must not leave the type (it would wrap and pass again).
  const last = b.cmp === 'lt' ? limit - 1n : b.cmp === 'gt' ? limit + 1n : limit;
  if (up ? last + maxStep > hi : last + maxStep < lo) {
    return `stepping past ${last} leaves ${name === b.compareIn.name ? name : `${name}/${b.compareIn.name}`} (${up ? `above ${hi}` : `below ${lo}`}) and wraps around, so the test never fails`;
  }
  const distance = up ? last - start + 1n : start - last + 1n;
  if (distance <= 0n) return 0n;
  const s = up ? minStep : -minStep;
  return (distance + s - 1n) / s;
}

/** A `for (let i = C; … i op L …; step)` loop. `t` is the type the initializer gave `i`. */
export function forInduction(facts: LoopFacts, node: ForStatement, variable: VariableDeclaration, t: IntType): Induction {
  const init = variable.getInitializer();
  const start = init ? facts.constant(init, t)?.value : undefined;
  if (start === undefined) throw new LoopBoundError(init ?? variable, `the loop variable '${variable.getName()}' must start at a constant`);
  const cond = node.getCondition();
  if (!cond) throw new LoopBoundError(node, 'a loop without a condition has no bound');
  const incr = node.getIncrementor();
  const step = incr ? stepOf(facts, incr, variable, t) : undefined;
  if (step === undefined) throw new LoopBoundError(incr ?? node, `step '${variable.getName()}' by a constant in the update (${variable.getName()}++, ${variable.getName()} += 4, ${variable.getName()}--)`);
  const assigned = assignmentTo(facts, node.getStatement(), variable) ?? assignmentTo(facts, cond, variable);
  if (assigned) throw new LoopBoundError(assigned, `'${variable.getName()}' is assigned in the ${assigned.getFirstAncestor((a) => a === cond) || assigned === cond ? 'condition' : 'body'}; the bound holds only when the loop variable changes in the update`);
  return bounded(variable, t, start, boundsOn(facts, cond, variable, t), step, step, cond);
}

function bounded(variable: VariableDeclaration, t: IntType, start: bigint, bounds: Bound[], minStep: bigint, maxStep: bigint, cond: Node, extra = 0n): Induction {
  if (bounds.length === 0) throw new LoopBoundError(cond, `the condition does not compare '${variable.getName()}' with a constant`);
  let why = '';
  for (const b of bounds) {
    const trips = tripBound(t, start, b, minStep, maxStep);
    if (typeof trips === 'string') {
      why ||= trips;
      continue;
    }
    if (trips + extra > MAX_LOOP_TRIPS) {
      why ||= `it may run ${trips + extra} times; the limit is ${MAX_LOOP_TRIPS}`;
      continue;
    }
    return { variable, type: t, start, step: minStep, trips: trips + extra };
  }
  throw new LoopBoundError(bounds[0]!.term, why);
}

/** A `while`/`do` loop over a `let` stepped in its body. */
export function whileInduction(facts: LoopFacts, node: WhileStatement | DoStatement): Induction {
  const cond = node.getExpression();
  let first: LoopBoundError | undefined;
  for (const term of conjuncts(cond)) {
    if (!Node.isBinaryExpression(term) || !CMP[term.getOperatorToken().getKind()]) continue;
    for (const side of [term.getLeft(), term.getRight()]) {
      const u = unparen(side);
      const decl = Node.isIdentifier(u) ? facts.declarationOf(u) : undefined;
      const t = decl ? facts.localType(decl) : undefined;
      if (!decl || !t || !Node.isVariableDeclaration(decl)) continue;
      try {
        return whileOn(facts, node, decl, t);
      } catch (e) {
        if (!(e instanceof LoopBoundError)) throw e;
        first ??= e;
      }
    }
  }
  throw first ?? new LoopBoundError(cond, 'the condition does not compare a local variable with a constant');
}

function whileOn(facts: LoopFacts, node: WhileStatement | DoStatement, variable: VariableDeclaration, t: IntType): Induction {
  const name = variable.getName();
  const inCondition = assignmentTo(facts, node.getExpression(), variable);
  if (inCondition) throw new LoopBoundError(inCondition, `'${name}' is assigned in the condition; step it in the body`);
  const start = startBefore(facts, node, variable, t);
  const steps = new StepFlow(facts, variable, t);
  const body = node.getStatement();
  const end = steps.run(body, { lo: 0n, hi: 0n });
  if (end) steps.backEdge(end, body);
  if (steps.minStep === undefined) throw new LoopBoundError(body, `'${name}' is never stepped towards its limit`);
  const sign = steps.sign;
  const bounds = boundsOn(facts, node.getExpression(), variable, t);
  // do…while runs the body once before the first test.
  return bounded(variable, t, Node.isDoStatement(node) ? start + sign * steps.minStep : start, bounds, sign * steps.minStep, sign * steps.maxStep!, node.getExpression(), Node.isDoStatement(node) ? 1n : 0n);
}

/** The constant `v` holds when the loop starts: set by the last statement before it in the same block that touches `v`. */
function startBefore(facts: LoopFacts, loop: Node, variable: VariableDeclaration, t: IntType): bigint {
  const name = variable.getName();
  const why = `'${name}' must be set to a constant before the loop, in the same block (let ${name} = 0; while (${name} < N) …)`;
  for (let prev = loop.getPreviousSibling(); prev; prev = prev.getPreviousSibling()) {
    if (Node.isVariableStatement(prev) && prev.getDeclarations().includes(variable)) {
      const init = variable.getInitializer();
      const c = init ? facts.constant(init, t)?.value : undefined;
      if (c !== undefined) return c;
      break;
    }
    if (Node.isExpressionStatement(prev)) {
      const e = unparen(prev.getExpression());
      if (Node.isBinaryExpression(e) && e.getOperatorToken().getKind() === SK.EqualsToken && names(facts, e.getLeft(), variable)) {
        const c = facts.constant(e.getRight(), t)?.value;
        if (c !== undefined) return c;
        break;
      }
    }
    if (assignmentTo(facts, prev, variable)) break;
  }
  throw new LoopBoundError(loop, why);
}

interface Span {
  lo: bigint;
  hi: bigint;
}

/**
 * How far each path through a loop body moves the variable: statements of
 * the form `v++`/`v += C` add to the span of steps taken so far; every path
 * to the end of the body or to a `continue` must have taken at least one.
 */
class StepFlow {
  minStep: bigint | undefined;
  maxStep: bigint | undefined;
  sign = 0n;

  constructor(
    readonly facts: LoopFacts,
    readonly variable: VariableDeclaration,
    readonly t: IntType,
  ) {}

  backEdge(s: Span, at: Node): void {
    if (s.lo === 0n) throw new LoopBoundError(at, `a path through the body reaches the next iteration without stepping '${this.variable.getName()}'`);
    this.minStep = this.minStep === undefined || s.lo < this.minStep ? s.lo : this.minStep;
    this.maxStep = this.maxStep === undefined || s.hi > this.maxStep ? s.hi : this.maxStep;
  }

  /** The span after `s` completes normally, or undefined when it never does (break, continue, return). */
  run(s: Node, span: Span): Span | undefined {
    if (Node.isBlock(s)) {
      let cur: Span | undefined = span;
      for (const x of s.getStatements()) {
        if (!cur) return undefined;
        cur = this.run(x, cur);
      }
      return cur;
    }
    if (Node.isExpressionStatement(s)) {
      const step = stepOf(this.facts, s.getExpression(), this.variable, this.t);
      if (step !== undefined) {
        const sign = step > 0n ? 1n : -1n;
        if (this.sign !== 0n && sign !== this.sign) throw new LoopBoundError(s, `'${this.variable.getName()}' is stepped both up and down`);
        this.sign = sign;
        const m = step * sign;
        return { lo: span.lo + m, hi: span.hi + m };
      }
    }
    if (Node.isIfStatement(s)) {
      this.#noAssignment(s.getExpression());
      const a = this.run(s.getThenStatement(), span);
      const el = s.getElseStatement();
      const b = el ? this.run(el, span) : span;
      if (!a) return b;
      if (!b) return a;
      return { lo: a.lo < b.lo ? a.lo : b.lo, hi: a.hi > b.hi ? a.hi : b.hi };
    }
    if (Node.isContinueStatement(s)) {
      this.backEdge(span, s);
      return undefined;
    }
    if (Node.isBreakStatement(s) || Node.isReturnStatement(s)) {
      this.#noAssignment(s);
      return undefined;
    }
    // Anything else must leave the variable alone; `continue`s inside a switch still go to the next iteration.
    this.#noAssignment(s);
    this.#continuesIn(s, span, isLoop(s));
    return span;
  }

  #noAssignment(s: Node): void {
    const a = assignmentTo(this.facts, s, this.variable);
    if (a) throw new LoopBoundError(a, `step '${this.variable.getName()}' in a statement of its own (${this.variable.getName()}++; or ${this.variable.getName()} += C;), not inside another statement or expression`);
  }

  /** `continue`s that target this loop from inside a statement that is not a loop. */
  #continuesIn(s: Node, span: Span, nested: boolean): void {
    s.forEachChild((c) => {
      if (Node.isContinueStatement(c) && !nested) this.backEdge(span, c);
      this.#continuesIn(c, span, nested || isLoop(c));
    });
  }
}

const isLoop = (s: Node): boolean => Node.isForStatement(s) || Node.isForOfStatement(s) || Node.isForInStatement(s) || Node.isWhileStatement(s) || Node.isDoStatement(s);
