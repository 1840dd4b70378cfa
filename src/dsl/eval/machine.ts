/**
 * Runs one program body under docs/language.md: a tree-walking evaluator
 * over the module's TypeScript, with integer values in their static types
 * (typer.ts), references into packet, map, event and stack memory whose
 * lifetimes end when the contract says so, and module functions called
 * with integer arguments by value and references by reference.
 */
import { type Block, type CallExpression, type Expression, Node, type ObjectLiteralExpression, type Statement, ts } from 'ts-morph';
import { BOOL, common, compare, type IntT, arith, shift, swapBytes, U32, U64, wrap } from './ints.js';
import type { EvalModel, MapSpec } from './model.js';
import { type CT, EvalError, fail, sizeOfCT } from './resolve.js';
import { EvalMap, EvalRing, loadInt, type Mem, storeInt } from './state.js';
import { ARITH, COMPARE, COMPOUND, type FunctionNode, type IntS, isLocal, operandType, type SType, type Typer } from './typer.js';

/** A reference: memory and an offset, viewed as a C type. */
export interface Ref {
  mem: Mem;
  off: number;
  type: CT;
}

type RV = bigint | null | Ref | { special: 'ctx' | 'packet' | 'void' };

const isRef = (v: RV): v is Ref => typeof v === 'object' && v !== null && 'mem' in v;

type Completion = undefined | { k: 'break' } | { k: 'continue' } | { k: 'return'; v: RV };

interface Slot {
  v: RV;
}

/** Where an assignment writes. */
type Place = { k: 'var'; slot: Slot; t: IntT } | { k: 'mem'; ref: Ref; t: IntT };

/** What the machine needs from the evaluator's state for one run. */
export interface RunEnv {
  packet: { mem: Mem } | undefined;
  map(spec: MapSpec): EvalMap | EvalRing;
  global(spec: import('./model.js').GlobalSpec): Slot;
  /** The memory of an array or struct global. */
  globalMem(spec: import('./model.js').GlobalSpec): Mem;
  /** Called by packet-moving helpers: resize the packet, release every header, return 0 or a negative errno. */
  adjustPacket(head: number, tail: number): number;
  /** Socket filters read headers through bpf_skb_load_bytes: `at()` gives a copy, writes do not reach the packet. */
  headersAreCopies: boolean;
  budget: number;
}

const SK = ts.SyntaxKind;

export class Machine {
  #frames: Array<Map<Node, Slot>> = [];
  #steps = 0;

  constructor(
    readonly model: EvalModel,
    readonly typer: Typer,
    readonly env: RunEnv,
  ) {}

  /** Runs a program body with its context; returns the program's return value. */
  runProgram(body: FunctionNode): bigint {
    this.#frames.push(new Map());
    const param = body.getParameters()[0];
    if (param) this.#frame().set(param, { v: { special: 'ctx' } });
    const b = body.getBody();
    let result: RV = 0n;
    if (b && Node.isBlock(b)) {
      const c = this.#block(b);
      if (c?.k === 'return') result = c.v ?? 0n;
    } else if (b) {
      result = this.#expr(b);
    }
    this.#frames.pop();
    if (typeof result !== 'bigint') throw new EvalError('TSBPF_NOT_INTEGER', 'a program returns an integer');
    return result;
  }

  #frame(): Map<Node, Slot> {
    return this.#frames[this.#frames.length - 1]!;
  }

  #tick(node: Node): void {
    if (++this.#steps > this.env.budget) fail(node, 'EVAL_BUDGET', `more than ${this.env.budget} steps`);
  }

  // ------------------------------------------------------------ statements

  #block(b: Block): Completion {
    for (const s of b.getStatements()) {
      const c = this.#statement(s);
      if (c) return c;
    }
    return undefined;
  }

  #statement(s: Statement | Node): Completion {
    this.#tick(s);
    if (Node.isBlock(s)) return this.#block(s);
    if (Node.isExpressionStatement(s)) {
      this.#expr(s.getExpression());
      return undefined;
    }
    if (Node.isVariableStatement(s)) {
      if (s.getDeclarationKind() === 'var') return fail(s, 'TSBPF_VAR', 'use const or let');
      for (const d of s.getDeclarations()) this.#declare(d);
      return undefined;
    }
    if (Node.isReturnStatement(s)) {
      const e = s.getExpression();
      return { k: 'return', v: e ? this.#expr(e) : 0n };
    }
    if (Node.isIfStatement(s)) {
      if (this.#truthy(s.getExpression())) return this.#statement(s.getThenStatement());
      const el = s.getElseStatement();
      return el ? this.#statement(el) : undefined;
    }
    if (Node.isSwitchStatement(s)) return this.#switch(s);
    if (Node.isForOfStatement(s)) return this.#forOf(s);
    if (Node.isForStatement(s)) return this.#for(s);
    if (Node.isWhileStatement(s) || Node.isDoStatement(s)) return this.#while(s);
    if (Node.isBreakStatement(s)) return { k: 'break' };
    if (Node.isContinueStatement(s)) return { k: 'continue' };
    if (Node.isEmptyStatement(s) || Node.isInterfaceDeclaration(s) || Node.isTypeAliasDeclaration(s)) return undefined;
    return fail(s, 'TSBPF_UNSUPPORTED', `${s.getKindName()} is not supported`);
  }

  #declare(d: import('ts-morph').VariableDeclaration): void {
    if (!Node.isIdentifier(d.getNameNode())) fail(d, 'TSBPF_DESTRUCTURE', 'destructuring is not supported');
    const t = this.typer.declaredType(d);
    const init = d.getInitializer();
    if (t.k === 'ref') {
      // A struct or array local: a literal or nothing makes new stack memory, a reference is aliased.
      if (!init || Node.isObjectLiteralExpression(init)) {
        const mem: Mem = { bytes: new Uint8Array(sizeOfCT(t.to)), life: {}, what: `local ${d.getName()}` };
        const ref: Ref = { mem, off: 0, type: t.to };
        if (init) this.#fillStruct(ref, init as ObjectLiteralExpression);
        this.#frame().set(d, { v: ref });
        return;
      }
      this.#frame().set(d, { v: this.#expr(init) });
      return;
    }
    if (!init) {
      this.#frame().set(d, { v: 0n });
      return;
    }
    const v = this.#expr(init);
    this.#frame().set(d, { v: this.#convertTo(v, t) });
  }

  #switch(s: import('ts-morph').SwitchStatement): Completion {
    const subjectNode = s.getExpression();
    const st = this.typer.int(subjectNode);
    const subject = this.#int(subjectNode);
    const clauses = s.getCaseBlock().getClauses();
    let start = clauses.findIndex((c) => {
      if (!Node.isCaseClause(c)) return false;
      const e = c.getExpression();
      const ct = this.typer.int(e);
      if (ct.c === undefined) return fail(e, 'TSBPF_CASE', 'case labels must be compile-time constants');
      if (st.lit && ct.lit) return subject === ct.c;
      const in_ = common(operandType(st), operandType(ct));
      return wrap(subject, in_) === wrap(ct.c, in_);
    });
    if (start < 0) start = clauses.findIndex((c) => Node.isDefaultClause(c));
    if (start < 0) return undefined;
    for (let i = start; i < clauses.length; i++) {
      for (const stmt of clauses[i]!.getStatements()) {
        const c = this.#statement(stmt);
        if (c?.k === 'break') return undefined;
        if (c) return c;
      }
    }
    return undefined;
  }

  #forOf(s: import('ts-morph').ForOfStatement): Completion {
    const it = s.getExpression();
    if (!Node.isCallExpression(it) || this.r.dslName(it.getExpression()) !== 'range') return fail(it, 'TSBPF_LOOP', 'only range() loops are supported');
    const bounds = it.getArguments().map((a) => this.typer.constant(a));
    if (bounds.length === 0 || bounds.some((b) => b === undefined)) return fail(it, 'TSBPF_RANGE_BOUND', 'range() bounds must be constants');
    const [start, end] = bounds.length === 1 ? [0n, bounds[0]!] : [bounds[0]!, bounds[1]!];
    if (start < 0n || end > 1n << 20n) return fail(it, 'TSBPF_RANGE_BOUND', 'range() bounds must lie in 0…1048576');
    const init = s.getInitializer();
    const decl = Node.isVariableDeclarationList(init) ? init.getDeclarations()[0] : undefined;
    if (!decl) return fail(s, 'TSBPF_LOOP', 'declare the loop variable');
    for (let i = start; i < end; i++) {
      this.#tick(s);
      this.#frame().set(decl, { v: i });
      const c = this.#statement(s.getStatement());
      if (c?.k === 'break') break;
      if (c?.k === 'return') return c;
    }
    return undefined;
  }

  /** `for (init; cond; update)`: as JavaScript runs it (the compiler accepts only loops whose bound it proves). */
  #for(s: import('ts-morph').ForStatement): Completion {
    const init = s.getInitializer();
    if (init && Node.isVariableDeclarationList(init)) for (const d of init.getDeclarations()) this.#declare(d);
    else if (init) this.#expr(init);
    const cond = s.getCondition();
    const update = s.getIncrementor();
    for (;;) {
      this.#tick(s);
      if (cond && !this.#truthy(cond)) break;
      const c = this.#statement(s.getStatement());
      if (c?.k === 'break') break;
      if (c?.k === 'return') return c;
      if (update) this.#expr(update);
    }
    return undefined;
  }

  /** `while (cond) body` and `do body while (cond)`. */
  #while(s: import('ts-morph').WhileStatement | import('ts-morph').DoStatement): Completion {
    for (let first = true; ; first = false) {
      this.#tick(s);
      if (!(first && Node.isDoStatement(s)) && !this.#truthy(s.getExpression())) break;
      const c = this.#statement(s.getStatement());
      if (c?.k === 'break') break;
      if (c?.k === 'return') return c;
    }
    return undefined;
  }

  get r() {
    return this.typer.r;
  }

  // ------------------------------------------------------------ conditions

  /** The truth of a condition: a nonzero integer, a non-null reference. */
  #truthy(node: Node): boolean {
    if (Node.isParenthesizedExpression(node)) return this.#truthy(node.getExpression());
    if (Node.isPrefixUnaryExpression(node) && node.getOperatorToken() === SK.ExclamationToken) return !this.#truthy(node.getOperand());
    if (Node.isBinaryExpression(node)) {
      const k = node.getOperatorToken().getKind();
      if (k === SK.AmpersandAmpersandToken) return this.#truthy(node.getLeft()) && this.#truthy(node.getRight());
      if (k === SK.BarBarToken) return this.#truthy(node.getLeft()) || this.#truthy(node.getRight());
    }
    return truth(this.#expr(node));
  }

  // ------------------------------------------------------------ expressions

  /** An integer expression's value, in its static type. */
  #int(node: Node): bigint {
    const v = this.#expr(node);
    if (typeof v !== 'bigint') return fail(node, v === null ? 'EVAL_NULL' : 'TSBPF_NOT_INTEGER', v === null ? 'null used as an integer' : 'expected an integer');
    return v;
  }

  #expr(node: Node): RV {
    this.#tick(node);
    const st = this.typer.typeOf(node);
    // Constants are what the typer computed (exact for literals).
    if (st.k === 'int' && st.c !== undefined && !hasEffects(node)) return st.c;
    if (Node.isParenthesizedExpression(node) || Node.isAsExpression(node) || Node.isNonNullExpression(node) || Node.isSatisfiesExpression(node)) return this.#expr(node.getExpression());
    if (Node.isIdentifier(node)) return this.#identifier(node, st);
    if (Node.isPropertyAccessExpression(node) || Node.isElementAccessExpression(node)) {
      if (st.k === 'int') return this.#read(this.#placeOf(node));
      if (st.k === 'ref') return this.#memberRef(node);
      if (st.k === 'packet') return { special: 'packet' };
      return fail(node, 'TSBPF_MEMBER', 'not a value');
    }
    if (Node.isCallExpression(node)) return this.#call(node);
    if (Node.isPrefixUnaryExpression(node)) return this.#prefix(node, st);
    if (Node.isPostfixUnaryExpression(node)) {
      const p = this.#placeOf(node.getOperand());
      const old = this.#read(p);
      this.#write(p, old + (node.getOperatorToken() === SK.PlusPlusToken ? 1n : -1n));
      return old;
    }
    if (Node.isBinaryExpression(node)) return this.#binary(node, st);
    if (Node.isConditionalExpression(node)) {
      const arm = this.#truthy(node.getCondition()) ? node.getWhenTrue() : node.getWhenFalse();
      return this.#convertTo(this.#expr(arm), st);
    }
    if (node.getKind() === SK.NullKeyword) return null;
    return fail(node, 'TSBPF_UNSUPPORTED', `${node.getKindName()} is not supported`);
  }

  /** An integer value converted to an integer static type (other values pass). */
  #convertTo(v: RV, st: SType): RV {
    return typeof v === 'bigint' && (st.k === 'int' || st.k === 'intOrNull') ? wrap(v, st.t) : v;
  }

  #identifier(node: Node, st: SType): RV {
    const decl = this.r.declarationOf(node)!;
    if (isLocal(decl)) {
      // Functions see only their own frame (module functions close over nothing local).
      const slot = this.#frame().get(decl);
      if (!slot) return fail(node, 'EVAL_UNBOUND', `${node.getText()} is used before it is declared`);
      if (isRef(slot.v)) this.#alive(slot.v, node);
      return slot.v;
    }
    if (st.k === 'int' && st.c !== undefined) return st.c;
    return { special: 'void' };
  }

  #alive(ref: Ref, at: Node): void {
    if (ref.mem.life.released) fail(at, 'TSBPF_USE_AFTER_RELEASE', `${ref.mem.what} is used after it was ${ref.mem.life.released}`);
  }

  /** A reference to a struct or array member (or the element of an array). */
  #memberRef(node: Node): Ref {
    const p = this.#locate(node);
    if (p.kind === 'int') throw new Error('internal: integer member as reference');
    return p.ref;
  }

  /** The memory a member or element expression names. */
  #locate(node: Node): { kind: 'int'; ref: Ref; t: IntT } | { kind: 'ref'; ref: Ref } {
    if (Node.isParenthesizedExpression(node)) return this.#locate(node.getExpression());
    let base: RV;
    let off: number;
    let type: CT;
    if (Node.isPropertyAccessExpression(node)) {
      base = this.#expr(node.getExpression());
      if (!isRef(base)) return fail(node, base === null ? 'EVAL_NULL' : 'TSBPF_MEMBER', base === null ? 'a null reference is used' : 'not a struct reference');
      this.#alive(base, node);
      if (base.type.kind !== 'struct') return fail(node, 'TSBPF_MEMBER', 'not a struct');
      const f = base.type.fields.find((x) => x.name === node.getName())!;
      off = base.off + f.offset;
      type = f.type;
    } else if (Node.isElementAccessExpression(node)) {
      base = this.#expr(node.getExpression());
      if (!isRef(base) || base.type.kind !== 'array') return fail(node, 'TSBPF_INDEX', 'not an array');
      const arr = base.type;
      const idxNode = node.getArgumentExpressionOrThrow();
      let i = BigInt.asUintN(64, this.#int(idxNode));
      // A run-time index outside the array is element 0 (docs/language.md, Packets).
      if (i >= BigInt(arr.length)) i = 0n;
      this.#alive(base, node);
      off = base.off + Number(i) * sizeOfCT(arr.elem);
      type = arr.elem;
    } else {
      return fail(node, 'TSBPF_MEMBER', 'not a member');
    }
    const ref: Ref = { mem: base.mem, off, type };
    return type.kind === 'int' ? { kind: 'int', ref, t: type.t } : { kind: 'ref', ref };
  }

  #placeOf(node: Node): Place {
    if (Node.isParenthesizedExpression(node)) return this.#placeOf(node.getExpression());
    if (Node.isIdentifier(node)) {
      const decl = this.r.declarationOf(node);
      const slot = decl ? this.#frame().get(decl) : undefined;
      const t = decl ? this.typer.declaredType(decl) : undefined;
      if (!slot || !t || (t.k !== 'int' && t.k !== 'intOrNull')) return fail(node, 'TSBPF_ASSIGN', `${node.getText()} cannot be assigned`);
      return { k: 'var', slot, t: t.t };
    }
    if (Node.isPropertyAccessExpression(node)) {
      // Context fields and the packet's length are values (read-only).
      const o = this.typer.typeOf(node.getExpression());
      const t = (this.typer.typeOf(node) as IntS).t;
      if (o.k === 'ctx') return { k: 'var', slot: { v: this.#ctxField(node.getName()) }, t };
      if (o.k === 'packet') return { k: 'var', slot: { v: BigInt(this.env.packet?.mem.bytes.length ?? 0) }, t };
    }
    const p = this.#locate(node);
    if (p.kind !== 'int') return fail(node, 'TSBPF_ASSIGN', 'only integer fields can be assigned');
    return { k: 'mem', ref: p.ref, t: p.t };
  }

  #read(p: Place): bigint {
    if (p.k === 'var') return p.slot.v as bigint;
    if (p.ref.mem.life.released) throw new EvalError('TSBPF_USE_AFTER_RELEASE', `${p.ref.mem.what} is read after it was ${p.ref.mem.life.released}`);
    return loadInt(p.ref.mem.bytes, p.ref.off, p.t);
  }

  #write(p: Place, v: bigint): void {
    if (p.k === 'var') {
      p.slot.v = wrap(v, p.t);
      return;
    }
    if (p.ref.mem.life.released) throw new EvalError('TSBPF_USE_AFTER_RELEASE', `${p.ref.mem.what} is written after it was ${p.ref.mem.life.released}`);
    if (p.ref.mem.readonly) throw new EvalError('TSBPF_FOR_EACH', `${p.ref.mem.what} is read-only`);
    storeInt(p.ref.mem.bytes, p.ref.off, p.t, v);
  }

  #ctxField(name: string): bigint {
    if (name === 'len') return BigInt(this.env.packet?.mem.bytes.length ?? 0);
    if (name === 'protocol') {
      const b = this.env.packet?.mem.bytes;
      return b && b.length >= 14 ? BigInt(b[12]! | (b[13]! << 8)) : 0n;
    }
    return 0n;
  }

  #prefix(node: import('ts-morph').PrefixUnaryExpression, st: SType): RV {
    const op = node.getOperatorToken();
    const operand = node.getOperand();
    if (op === SK.ExclamationToken) return this.#truthy(operand) ? 0n : 1n;
    if (op === SK.PlusPlusToken || op === SK.MinusMinusToken) {
      const p = this.#placeOf(operand);
      this.#write(p, this.#read(p) + (op === SK.PlusPlusToken ? 1n : -1n));
      return this.#read(p);
    }
    const t = (st as IntS).t;
    const v = wrap(this.#int(operand), t);
    if (op === SK.MinusToken) return wrap(-v, t);
    if (op === SK.TildeToken) return wrap(~v, t);
    return fail(node, 'TSBPF_OPERATOR', 'unsupported operator');
  }

  #binary(node: import('ts-morph').BinaryExpression, st: SType): RV {
    const tok = node.getOperatorToken().getKind();
    const left = node.getLeft();
    const right = node.getRight();
    if (tok === SK.EqualsToken) {
      const p = this.#placeOf(left);
      if (p.k === 'var' && this.typer.typeOf(right).k === 'null') {
        // null stored in a nullable integer local
        p.slot.v = null;
        return null;
      }
      const v = this.#int(right);
      this.#write(p, v);
      return v;
    }
    const compound = COMPOUND[tok];
    if (compound) {
      const p = this.#placeOf(left);
      const cur = this.#read(p);
      const bt = this.typer.int(right);
      const b = this.#int(right);
      const next = this.#arith(compound, cur, { k: 'int', t: p.t }, b, bt);
      this.#write(p, next);
      return next;
    }
    const cmp = COMPARE[tok];
    if (cmp) {
      const lt = this.typer.typeOf(left);
      const rt = this.typer.typeOf(right);
      if (lt.k === 'null' || rt.k === 'null') {
        const isNull = this.#expr(lt.k === 'null' ? right : left) === null;
        return (cmp === '===') === isNull ? 1n : 0n;
      }
      const a = this.#int(left);
      const b = this.#int(right);
      const x = this.typer.int(left);
      const y = this.typer.int(right);
      const in_ = common(operandType(x), operandType(y));
      return compare(cmp, wrap(a, in_), wrap(b, in_)) ? 1n : 0n;
    }
    if (tok === SK.AmpersandAmpersandToken || tok === SK.BarBarToken) {
      const a = this.#expr(left);
      const decided = tok === SK.AmpersandAmpersandToken ? !truth(a) : truth(a);
      const v = decided ? a : this.#expr(right);
      return st.k === 'int' && st.t === BOOL ? (truth(v) ? 1n : 0n) : this.#convertTo(v, st);
    }
    if (tok === SK.QuestionQuestionToken) {
      const a = this.#expr(left);
      return this.#convertTo(a === null ? this.#expr(right) : a, st);
    }
    if (tok === SK.CommaToken) {
      this.#expr(left);
      return this.#expr(right);
    }
    const op = ARITH[tok];
    if (!op) return fail(node, 'TSBPF_OPERATOR', 'unsupported operator');
    const at = this.typer.int(left);
    const a = this.#int(left);
    const bt = this.typer.int(right);
    const b = this.#int(right);
    return this.#arith(op, a, at, b, bt);
  }

  /** `a op b` for operands of static types at, bt (literals typed by value), in the contract's result type. */
  #arith(op: import('./ints.js').BinOp, a: bigint, at: IntS, b: bigint, bt: IntS): bigint {
    if (op === '<<' || op === '>>' || op === '>>>') return shift(op, a, b, operandType(at));
    const t = common(operandType(at), operandType(bt));
    return arith(op, wrap(a, t), wrap(b, t), t);
  }

  // ------------------------------------------------------------ calls

  #call(node: CallExpression): RV {
    const callee = node.getExpression();
    const args = node.getArguments();
    if (Node.isPropertyAccessExpression(callee)) {
      const ot = this.typer.typeOf(callee.getExpression());
      const m = callee.getName();
      if (ot.k === 'map') return this.#mapMethod(ot.map, m, args, node);
      if (ot.k === 'global') {
        // An array or struct global is memory that get() refers to.
        if (ot.global.type.kind !== 'int') return { mem: this.env.globalMem(ot.global), off: 0, type: ot.global.type };
        const slot = this.env.global(ot.global);
        if (m === 'get') return slot.v;
        slot.v = wrap(this.#int(args[0]!), ot.global.type.t);
        return { special: 'void' };
      }
      if (ot.k === 'packet') return this.#packetMethod(m, args, node);
      if (ot.k === 'dsl' && ot.name === 'bpf') return this.#helper(m, args, node);
      return fail(node, 'TSBPF_METHOD', `${m} is not modelled`);
    }
    const ct = this.typer.typeOf(callee);
    if (ct.k === 'dsl') {
      const st = this.typer.typeOf(node) as IntS;
      const v = this.#int(args[0]!);
      if (ct.name === 'htons' || ct.name === 'ntohs') return swapBytes(v, 16);
      if (ct.name === 'htonl' || ct.name === 'ntohl') return swapBytes(v, 32);
      return wrap(v, st.t);
    }
    if (ct.k === 'fn') return this.#callFunction(ct.fn, args, node);
    return fail(node, 'TSBPF_CALL', 'not callable');
  }

  /**
   * bpf.loop(n, callback, ctx?): the callback called with the index (u32) and
   * the same ctx reference until it returns something other than 0 (or
   * false); the number of calls, or -E2BIG for more than BPF_MAX_LOOPS.
   */
  #loop(args: Node[], node: Node): RV {
    const n = BigInt.asUintN(32, this.#int(args[0]!));
    const fn = this.#callback(args[1], node, 'bpf.loop');
    const ctx = args[2] ? this.#expr(args[2]) : null;
    if (n > 1n << 23n) return -7n;
    const params = fn.getParameters();
    let i = 0n;
    while (i < n) {
      const frame = new Map<Node, Slot>();
      if (params[0]) frame.set(params[0], { v: i });
      if (params[1]) frame.set(params[1], { v: ctx });
      const result = this.#run(fn, frame);
      i++;
      if (typeof result === 'bigint' && result !== 0n) break;
    }
    return i;
  }

  /**
   * m.forEachElem(callback, ctx?): the callback called with each element's
   * key (an integer, or a read-only reference to a copy) and value (an
   * integer read now, or a reference into the map) and the ctx reference,
   * until it returns something other than 0; the elements visited. An
   * element deleted before its turn is not visited.
   */
  #forEachElem(spec: MapSpec, map: EvalMap, args: Node[], node: Node): RV {
    const fn = this.#callback(args[0], node, 'forEachElem');
    const ctx = args[1] ? this.#expr(args[1]) : null;
    const params = fn.getParameters();
    let visited = 0n;
    for (const e of map.walk()) {
      if (e.mem.life.released) continue;
      visited++;
      const element = (t: CT, mem: Mem): RV => (t.kind === 'int' ? loadInt(mem.bytes, 0, t.t) : { mem, off: 0, type: t });
      const frame = new Map<Node, Slot>();
      if (params[0]) frame.set(params[0], { v: element(spec.key!, { bytes: e.key, life: e.mem.life, what: `a key of map ${spec.name}`, readonly: true }) });
      if (params[1]) frame.set(params[1], { v: element(spec.value, e.mem) });
      if (params[2]) frame.set(params[2], { v: ctx });
      const result = this.#run(fn, frame);
      if (typeof result === 'bigint' && result !== 0n) break;
    }
    return visited;
  }

  /** The function a helper calls back: an arrow function written there, or a module function by name. */
  #callback(arg: Node | undefined, node: Node, what: string): FunctionNode {
    let fn: Node | undefined = arg;
    if (fn && Node.isIdentifier(fn)) {
      const t = this.typer.typeOf(fn);
      fn = t.k === 'fn' ? t.fn : undefined;
    }
    if (!fn || !(Node.isArrowFunction(fn) || Node.isFunctionExpression(fn) || Node.isFunctionDeclaration(fn))) return fail(node, 'TSBPF_HELPER_ARG', `${what} calls a function`);
    return fn;
  }

  #callFunction(fn: FunctionNode, args: Node[], node: Node): RV {
    if (this.#frames.length > 40) return fail(node, 'TSBPF_RECURSION', 'calls nest too deeply');
    const params = fn.getParameters();
    // Arguments are evaluated in the caller, left to right, before the callee runs.
    const frame = new Map<Node, Slot>();
    params.forEach((p, i) => {
      const a = args[i] ?? p.getInitializer();
      if (!a) return fail(node, 'TSBPF_ARGS', `missing argument ${p.getName()}`);
      const pt = this.typer.declaredType(p);
      if (pt.k === 'ref' && Node.isObjectLiteralExpression(a)) {
        const mem: Mem = { bytes: new Uint8Array(sizeOfCT(pt.to)), life: {}, what: `argument ${p.getName()}` };
        const ref: Ref = { mem, off: 0, type: pt.to };
        this.#fillStruct(ref, a);
        frame.set(p, { v: ref });
        return undefined;
      }
      const v = this.#expr(a);
      frame.set(p, { v: this.#convertTo(v, pt) });
      return undefined;
    });
    const rt = this.typer.returnType(fn);
    return this.#convertTo(this.#run(fn, frame), rt);
  }

  /** Runs a function's body in `frame` (its parameters bound): what it returns, void when it returns nothing. */
  #run(fn: FunctionNode, frame: Map<Node, Slot>): RV {
    this.#frames.push(frame);
    try {
      const body = fn.getBody();
      if (body && Node.isBlock(body)) {
        const c = this.#block(body);
        return c?.k === 'return' ? c.v : { special: 'void' };
      }
      return body ? this.#expr(body) : { special: 'void' };
    } finally {
      this.#frames.pop();
    }
  }

  // ------------------------------------------------------------ packets

  #packetMethod(m: string, args: Node[], node: Node): RV {
    const pkt = this.env.packet;
    if (!pkt) return fail(node, 'TSBPF_PACKET', 'no packet');
    if (m === 'at') {
      const h = this.typer.typeOf(args[0]!);
      if (h.k !== 'header') return fail(args[0]!, 'TSBPF_HEADER', 'not a header');
      const off = BigInt.asUintN(64, this.#int(args[1]!));
      const size = BigInt(sizeOfCT(h.struct));
      if (off + size > BigInt(pkt.mem.bytes.length)) return null;
      if (this.env.headersAreCopies) {
        const copy = pkt.mem.bytes.slice(Number(off), Number(off + size));
        return { mem: { bytes: copy, life: {}, what: 'a header copy' }, off: 0, type: h.struct };
      }
      return { mem: pkt.mem, off: Number(off), type: h.struct };
    }
    if (m === 'byte') {
      const off = BigInt.asUintN(64, this.#int(args[0]!));
      return off < BigInt(pkt.mem.bytes.length) ? BigInt(pkt.mem.bytes[Number(off)]!) : -1n;
    }
    return fail(node, 'TSBPF_METHOD', `packets have no ${m}`);
  }

  #helper(name: string, args: Node[], node: Node): RV {
    if (name === 'loop') return this.#loop(args, node);
    if (name === 'xdpAdjustHead' || name === 'xdpAdjustTail') {
      const d = Number(BigInt.asIntN(32, this.#int(args[1]!)));
      return BigInt(name === 'xdpAdjustHead' ? this.env.adjustPacket(d, 0) : this.env.adjustPacket(0, d));
    }
    if (name === 'l3CsumReplace' || name === 'l4CsumReplace') {
      // Arguments left to right, each converted as its parameter's type (u32 offset, u64 from/to/flags).
      const [offset, from, to, flags] = args.slice(1, 5).map((a, i) => BigInt.asUintN(i === 0 ? 32 : 64, a ? this.#int(a) : 0n));
      const r = this.#csumReplace(offset!, from!, to!, flags!, name === 'l4CsumReplace');
      // The helper may move packet data: headers end here (docs/language.md, Lifetimes).
      this.env.adjustPacket(0, 0);
      return BigInt(r);
    }
    return fail(node, 'TSBPF_HELPER', `bpf.${name} is not modelled by the evaluator`);
  }

  /**
   * The checksum at `offset` updated for a field changing from `from` to `to`
   * (`flags & 0xf`: its size, 2 or 4; 0 when `to` is a difference), in the
   * packet's byte order; 0 or a negative errno, as the kernel's helpers.
   */
  #csumReplace(offset: bigint, from: bigint, to: bigint, flags: bigint, l4: boolean): number {
    const bytes = this.env.packet?.mem.bytes;
    if (!bytes) return -22;
    const mangled0 = 0x20n;
    if ((flags & ~(l4 ? 0x7fn : 0xfn)) !== 0n) return -22;
    if (offset > 0xffffn || offset % 2n !== 0n || offset + 2n > BigInt(bytes.length)) return -14;
    const size = Number(flags & 0xfn);
    if (size !== 0 && size !== 2 && size !== 4) return -22;
    const at = Number(offset);
    const old = bytes[at]! | (bytes[at + 1]! << 8);
    if (l4 && (flags & mangled0) !== 0n && old === 0) return 0;
    const words = (v: bigint, n: number) => Array.from({ length: n }, (_, i) => Number((v >> BigInt(16 * i)) & 0xffffn));
    // ~old + ~from + to, in ones' complement arithmetic, then complemented back.
    let sum = 0xffff - old;
    for (const w of size === 0 ? [] : words(from, size / 2)) sum += 0xffff - w;
    for (const w of words(to, size === 0 ? 2 : size / 2)) sum += w;
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
    let result = 0xffff - sum;
    if (l4 && (flags & mangled0) !== 0n && result === 0) result = 0xffff;
    bytes[at] = result & 0xff;
    bytes[at + 1] = result >> 8;
    return 0;
  }

  // ------------------------------------------------------------ maps

  /** The bytes of a key or value argument: an integer, a struct literal or a reference (copied). */
  #bytesOf(node: Node, type: CT): Uint8Array {
    const size = sizeOfCT(type);
    if (Node.isObjectLiteralExpression(node)) {
      const mem: Mem = { bytes: new Uint8Array(size), life: {}, what: 'a literal' };
      this.#fillStruct({ mem, off: 0, type }, node);
      return mem.bytes;
    }
    const v = this.#expr(node);
    if (isRef(v)) {
      this.#alive(v, node);
      return v.mem.bytes.slice(v.off, v.off + size);
    }
    if (typeof v !== 'bigint' || type.kind !== 'int') return fail(node, 'TSBPF_TYPE', 'expected a key or value');
    const out = new Uint8Array(size);
    storeInt(out, 0, type.t, v);
    return out;
  }

  #fillStruct(ref: Ref, lit: ObjectLiteralExpression): void {
    if (ref.type.kind !== 'struct') return fail(lit, 'TSBPF_OBJECT', 'an object literal needs a struct type');
    for (const prop of lit.getProperties()) {
      let name: string;
      let init: Node;
      if (Node.isSpreadAssignment(prop)) {
        // A copy of the whole struct, then the properties after it override fields.
        const src = this.#expr(prop.getExpression());
        if (!isRef(src)) return fail(prop, src === null ? 'EVAL_NULL' : 'TSBPF_OBJECT', 'only a struct can be spread');
        this.#alive(src, prop);
        const size = sizeOfCT(ref.type);
        ref.mem.bytes.set(src.mem.bytes.slice(src.off, src.off + size), ref.off);
        continue;
      }
      if (Node.isPropertyAssignment(prop)) {
        name = prop.getName();
        init = prop.getInitializerOrThrow();
      } else if (Node.isShorthandPropertyAssignment(prop)) {
        name = prop.getName();
        init = prop.getNameNode();
      } else return fail(prop, 'TSBPF_OBJECT', 'only plain properties');
      const f = ref.type.fields.find((x) => x.name === name);
      if (!f) return fail(prop, 'TSBPF_MEMBER', `no field ${name}`);
      const at: Ref = { mem: ref.mem, off: ref.off + f.offset, type: f.type };
      if (f.type.kind === 'int') storeInt(ref.mem.bytes, at.off, f.type.t, this.#int(init));
      else if (f.type.kind === 'struct' && Node.isObjectLiteralExpression(init)) this.#fillStruct(at, init);
      else return fail(init, 'TSBPF_OBJECT', `field ${name} cannot be set in a literal`);
    }
  }

  #mapMethod(spec: MapSpec, m: string, args: Node[], node: Node): RV {
    const map = this.env.map(spec);
    if (map instanceof EvalRing) {
      if (m === 'reserve') {
        const mem = map.reserve();
        return mem ? { mem, off: 0, type: spec.value } : null;
      }
      if (m === 'submit' || m === 'discard') {
        const ev = this.#expr(args[0]!);
        if (!isRef(ev)) return fail(args[0]!, 'TSBPF_RINGBUF', 'not a reserved event');
        this.#alive(ev, args[0]!);
        map.commit(ev.mem, m === 'submit');
        return { special: 'void' };
      }
      if (m === 'output') return BigInt(map.output(this.#bytesOf(args[0]!, spec.value)));
      return fail(node, 'TSBPF_METHOD', `ring buffers have no ${m}`);
    }
    const key = m === 'forEachElem' ? new Uint8Array(0) : this.#bytesOf(args[0]!, spec.key!);
    switch (m) {
      case 'lookup': {
        const mem = map.lookup(key);
        if (!mem) return null;
        if (spec.value.kind === 'int') return loadInt(mem.bytes, 0, spec.value.t);
        return { mem, off: 0, type: spec.value };
      }
      case 'update': {
        const value = this.#bytesOf(args[1]!, spec.value);
        const flags = args[2] ? BigInt.asUintN(64, this.#int(args[2])) : 0n;
        return BigInt(map.update(key, value, flags));
      }
      case 'delete':
        return BigInt(map.delete(key));
      case 'forEachElem':
        return this.#forEachElem(spec, map, args, node);
      case 'increment': {
        if (spec.value.kind !== 'int') return fail(node, 'TSBPF_INCREMENT', 'increment needs integer values');
        const by = args[1] ? this.#int(args[1]) : 1n;
        map.increment(key, wrap(by, spec.value.t), spec.value.t);
        return { special: 'void' };
      }
      default:
        return fail(node, 'TSBPF_METHOD', `maps have no ${m}`);
    }
  }
}

/** A value as a condition. */
function truth(v: RV): boolean {
  if (v === null) return false;
  if (typeof v === 'bigint') return v !== 0n;
  return true;
}

/** Whether evaluating a constant-typed expression could still do something (calls, assignments). */
function hasEffects(node: Node): boolean {
  if (Node.isCallExpression(node)) {
    return true;
  }
  if (Node.isBinaryExpression(node)) {
    const k = node.getOperatorToken().getKind();
    if (k === SK.EqualsToken || COMPOUND[k] !== undefined) return true;
    return hasEffects(node.getLeft()) || hasEffects(node.getRight());
  }
  if (Node.isPrefixUnaryExpression(node)) {
    const k = node.getOperatorToken();
    return k === SK.PlusPlusToken || k === SK.MinusMinusToken || hasEffects(node.getOperand());
  }
  if (Node.isPostfixUnaryExpression(node)) return true;
  if (Node.isParenthesizedExpression(node) || Node.isAsExpression(node) || Node.isNonNullExpression(node)) return hasEffects(node.getExpression());
  if (Node.isConditionalExpression(node)) return hasEffects(node.getCondition()) || hasEffects(node.getWhenTrue()) || hasEffects(node.getWhenFalse());
  return false;
}

export type { Expression };
export { U32, U64 };
