/**
 * Static types of a module's expressions under docs/language.md: integer
 * types with C's promotions and conversions, compile-time constants (exact
 * for literals), references and the DSL's special objects; and the
 * contract's compile-time errors (narrowing, literal range, constant zero
 * divisors, constant shift amounts, constant indexes).
 */
import { type CallExpression, type Expression, Node, ts } from 'ts-morph';
import { BOOL, type BinOp, type CmpOp, common, compare, exact, I64, INTS, type IntT, arith, promote, shift, shiftType, shiftWidth, swapBytes, typeByValue, U16, U32, U64, wrap } from './ints.js';
import type { EvalModel, GlobalSpec, MapSpec } from './model.js';
import { type CT, EvalError, fail, type Resolver, sizeOfCT } from './resolve.js';

/** Which context interface a value is (decides its fields). */
export type CtxKind = 'xdp' | 'skb' | 'tracepoint' | 'args' | 'perf';

export type SType =
  /** An integer; `c` when it is a compile-time constant, `lit` when that constant is untyped (a literal: exact, typed by value). */
  | { k: 'int'; t: IntT; c?: bigint; lit?: true }
  /** A map lookup of integer values: the value or null. */
  | { k: 'intOrNull'; t: IntT }
  /** `ro`: memory programs may not write (a rodata array or struct). */
  /** `ro`: read-only memory, a rodata global or the key forEachElem passes. */
  | { k: 'ref'; to: CT; ro?: 'rodata' | 'mapkey' }
  | { k: 'null' }
  | { k: 'void' }
  | { k: 'ctx'; ctx: CtxKind }
  | { k: 'packet' }
  | { k: 'map'; map: MapSpec }
  | { k: 'global'; global: GlobalSpec }
  | { k: 'header'; struct: CT }
  | { k: 'dsl'; name: string }
  | { k: 'fn'; fn: FunctionNode };

export type FunctionNode = import('ts-morph').FunctionDeclaration | import('ts-morph').ArrowFunction | import('ts-morph').FunctionExpression;

export type IntS = Extract<SType, { k: 'int' }>;

const SK = ts.SyntaxKind;

export const ARITH: Partial<Record<number, BinOp>> = {
  [SK.PlusToken]: '+', [SK.MinusToken]: '-', [SK.AsteriskToken]: '*', [SK.SlashToken]: '/', [SK.PercentToken]: '%',
  [SK.AmpersandToken]: '&', [SK.BarToken]: '|', [SK.CaretToken]: '^', [SK.LessThanLessThanToken]: '<<',
  [SK.GreaterThanGreaterThanToken]: '>>', [SK.GreaterThanGreaterThanGreaterThanToken]: '>>>',
};
export const COMPOUND: Partial<Record<number, BinOp>> = {
  [SK.PlusEqualsToken]: '+', [SK.MinusEqualsToken]: '-', [SK.AsteriskEqualsToken]: '*', [SK.SlashEqualsToken]: '/', [SK.PercentEqualsToken]: '%',
  [SK.AmpersandEqualsToken]: '&', [SK.BarEqualsToken]: '|', [SK.CaretEqualsToken]: '^', [SK.LessThanLessThanEqualsToken]: '<<',
  [SK.GreaterThanGreaterThanEqualsToken]: '>>', [SK.GreaterThanGreaterThanGreaterThanEqualsToken]: '>>>',
};
export const COMPARE: Partial<Record<number, CmpOp>> = {
  [SK.EqualsEqualsEqualsToken]: '===', [SK.EqualsEqualsToken]: '===', [SK.ExclamationEqualsEqualsToken]: '!==', [SK.ExclamationEqualsToken]: '!==',
  [SK.LessThanToken]: '<', [SK.LessThanEqualsToken]: '<=', [SK.GreaterThanToken]: '>', [SK.GreaterThanEqualsToken]: '>=',
};

const CONTEXTS: Record<string, CtxKind> = { XdpContext: 'xdp', SkbContext: 'skb', SkbSockContext: 'skb', TracepointContext: 'tracepoint', ArgsContext: 'args', ProbeContext: 'args', PerfEventContext: 'perf' };
const CASTS = new Set(['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64']);
const SKB_FIELDS = new Set(['len', 'pktType', 'mark', 'queueMapping', 'protocol', 'vlanPresent', 'vlanTci', 'priority', 'ingressIfindex', 'ifindex', 'hash']);

/** The type an integer operand takes part in arithmetic with (a literal constant is typed by its value). */
export const operandType = (s: IntS): IntT => (s.lit ? typeByValue(s.c!) : s.t);

/** Whether a declaration is inside a function (a local or parameter), not at module level. */
export function isLocal(decl: Node): boolean {
  return decl.getFirstAncestor((a) => Node.isArrowFunction(a) || Node.isFunctionExpression(a) || Node.isFunctionDeclaration(a)) !== undefined;
}

export class Typer {
  readonly #types = new Map<Node, SType>();
  model!: EvalModel;

  constructor(readonly r: Resolver) {}

  typeOf(node: Node): SType {
    let t = this.#types.get(node);
    if (!t) {
      t = this.#compute(node);
      this.#types.set(node, t);
    }
    return t;
  }

  int(node: Node): IntS {
    const t = this.typeOf(node);
    if (t.k === 'int') return t;
    if (t.k === 'intOrNull') return { k: 'int', t: t.t };
    return fail(node, 'TSBPF_NOT_INTEGER', `expected an integer, got ${t.k}`);
  }

  /** A compile-time integer constant, or undefined. */
  constant(node: Node): bigint | undefined {
    const t = this.typeOf(node);
    return t.k === 'int' ? t.c : undefined;
  }

  #compute(node: Node): SType {
    if (Node.isParenthesizedExpression(node) || Node.isAsExpression(node) || Node.isNonNullExpression(node) || Node.isSatisfiesExpression(node)) return this.typeOf(node.getExpression());
    if (Node.isNumericLiteral(node)) {
      const v = node.getLiteralValue();
      if (!Number.isInteger(v)) return fail(node, 'TSBPF_FLOAT', 'floating-point numbers are not supported');
      if (!Number.isSafeInteger(v)) return fail(node, 'TSBPF_LITERAL_RANGE', `${node.getText()} is not exact as a number`);
      return { k: 'int', t: typeByValue(BigInt(v)), c: BigInt(v), lit: true };
    }
    if (Node.isBigIntLiteral(node)) {
      const v = BigInt(node.getLiteralText().replace(/n$/, '').replace(/_/g, ''));
      if (v >= 1n << 64n) return fail(node, 'TSBPF_LITERAL_RANGE', `${node.getText()} does not fit in 64 bits`);
      return { k: 'int', t: typeByValue(v), c: v, lit: true };
    }
    if (node.getKind() === SK.TrueKeyword) return { k: 'int', t: BOOL, c: 1n };
    if (node.getKind() === SK.FalseKeyword) return { k: 'int', t: BOOL, c: 0n };
    if (node.getKind() === SK.NullKeyword) return { k: 'null' };
    if (Node.isIdentifier(node)) return this.#identifier(node);
    if (Node.isPropertyAccessExpression(node)) return this.#property(node);
    if (Node.isElementAccessExpression(node)) return this.#element(node);
    if (Node.isCallExpression(node)) return this.#call(node);
    if (Node.isPrefixUnaryExpression(node)) return this.#prefix(node);
    if (Node.isPostfixUnaryExpression(node)) {
      this.#writable(node.getOperand());
      const p = this.int(node.getOperand());
      return { k: 'int', t: p.t };
    }
    if (Node.isBinaryExpression(node)) return this.#binary(node);
    if (Node.isConditionalExpression(node)) return this.#join(this.typeOf(node.getWhenTrue()), this.typeOf(node.getWhenFalse()), node);
    if (Node.isObjectLiteralExpression(node)) {
      // `{ ...hdr, ttl: 1 }`: a copy of the struct spread into it.
      const spread = node.getProperties().find((p) => Node.isSpreadAssignment(p));
      const st = spread && Node.isSpreadAssignment(spread) ? this.typeOf(spread.getExpression()) : undefined;
      if (st?.k === 'ref' && st.to.kind === 'struct') return st;
      return fail(spread ?? node, 'TSBPF_OBJECT', 'an object literal needs a struct type annotation, or a struct spread into it');
    }
    return fail(node, 'TSBPF_UNSUPPORTED', `${node.getKindName()} is not supported by the evaluator`);
  }

  // ------------------------------------------------------------ names

  #identifier(node: Node): SType {
    const decl = this.r.declarationOf(node);
    if (!decl) return fail(node, node.getText() === 'undefined' ? 'TSBPF_UNDEFINED' : 'TSBPF_UNKNOWN_NAME', `cannot resolve ${node.getText()}`);
    const dsl = this.r.dslName(node);
    if (dsl !== undefined) {
      // Constants of the DSL (ETH_P_IP, IPPROTO_UDP, …) through their literal types.
      const lit = Node.isVariableDeclaration(decl) && !this.model.factoryOf(decl) ? this.r.literalOf(node) : undefined;
      if (lit !== undefined && Number.isInteger(lit)) return { k: 'int', t: typeByValue(BigInt(lit)), c: BigInt(lit), lit: true };
      const h = this.model.headerOf(decl);
      if (h) return { k: 'header', struct: h };
      return { k: 'dsl', name: dsl };
    }
    if (isLocal(decl)) return this.declaredType(decl);
    const map = this.model.mapOf(decl);
    if (map) return { k: 'map', map };
    const global = this.model.globalOf(decl);
    if (global) return { k: 'global', global };
    const header = this.model.headerOf(decl);
    if (header) return { k: 'header', struct: header };
    if (Node.isFunctionDeclaration(decl)) return { k: 'fn', fn: decl };
    if (Node.isEnumMember(decl)) {
      const v = this.r.literalOf(node);
      if (v !== undefined) return { k: 'int', t: typeByValue(BigInt(v)), c: BigInt(v), lit: true };
    }
    if (Node.isVariableDeclaration(decl)) {
      const init = decl.getInitializer();
      if (init && (Node.isArrowFunction(init) || Node.isFunctionExpression(init))) return { k: 'fn', fn: init };
      const stmt = decl.getVariableStatement();
      if (!stmt || stmt.getDeclarationKind() !== 'const') return fail(node, 'TSBPF_CLOSURE_MUTABLE', `'${node.getText()}' is mutable state outside the program`);
      if (!init) return fail(node, 'TSBPF_CLOSURE', `'${node.getText()}' has no value`);
      const it = this.typeOf(init);
      const tn = decl.getTypeNode();
      if (it.k === 'int' && it.c !== undefined) {
        if (!tn) return it;
        const ct = this.r.layout(tn);
        if (ct.kind === 'int') return { k: 'int', t: ct.t, c: wrap(it.c, ct.t) };
      }
      if (it.k === 'map' || it.k === 'global' || it.k === 'header' || it.k === 'fn' || it.k === 'dsl') return it;
      return fail(node, 'TSBPF_CLOSURE', `'${node.getText()}' is not a compile-time constant, map or global`);
    }
    return fail(node, 'TSBPF_UNSUPPORTED', `'${node.getText()}' cannot be used in a program`);
  }

  /** The type a local variable or parameter declaration gives its name. */
  declaredType(decl: Node): SType {
    const known = this.#types.get(decl);
    if (known) return known;
    const t = this.#declared(decl);
    this.#types.set(decl, t);
    return t;
  }

  #declared(decl: Node): SType {
    if (Node.isParameterDeclaration(decl)) {
      const fn = decl.getParent();
      const tn = decl.getTypeNode();
      // A program body's parameter is its context.
      if (!tn) {
        if (fn && this.#isProgramBody(fn)) return { k: 'ctx', ctx: this.#programCtx(fn) };
        // A forEachElem callback's parameters: the map's key and value, and the reference passed as ctx.
        const parent = fn?.getParent();
        const call = parent && Node.isCallExpression(parent) && parent.getArguments()[0] === fn ? parent : undefined;
        const walked = call ? this.#forEachMap(call) : undefined;
        if (call && walked) {
          const i = (fn as FunctionNode).getParameters().indexOf(decl);
          const element = (t: CT, ro?: 'mapkey'): SType => (t.kind === 'int' ? { k: 'int', t: t.t } : { k: 'ref', to: t, ...(ro ? { ro } : {}) });
          if (i === 0) return element(walked.key!, 'mapkey');
          if (i === 1) return element(walked.value);
          const ctxArg = call.getArguments()[1];
          if (i === 2 && ctxArg) return this.typeOf(ctxArg);
        }
        // A bpf.loop callback's parameters: the index, and the reference passed as the loop's ctx.
        const loop = fn?.getParent();
        if (fn && loop && Node.isCallExpression(loop) && loop.getArguments()[1] === fn && this.#isLoopHelper(loop)) {
          if ((Node.isArrowFunction(fn) || Node.isFunctionExpression(fn)) && fn.getParameters()[0] === decl) return { k: 'int', t: U32 };
          const ctxArg = loop.getArguments()[2];
          if (ctxArg) return this.typeOf(ctxArg);
        }
        const init = decl.getInitializer();
        if (init) return this.#valueTypeOf(this.typeOf(init));
        return fail(decl, 'TSBPF_TYPE', 'parameters need a type');
      }
      const ctx = this.#contextType(tn);
      if (ctx) return { k: 'ctx', ctx };
      return this.#annotated(tn);
    }
    if (Node.isVariableDeclaration(decl)) {
      const forOf = decl.getParent()?.getParent();
      if (forOf && Node.isForOfStatement(forOf)) return { k: 'int', t: U32 };
      const isConst = decl.getVariableStatement()?.getDeclarationKind() === 'const';
      const tn = decl.getTypeNode();
      const init = decl.getInitializer();
      if (tn) {
        const at = this.#annotated(tn);
        if (at.k !== 'int') {
          if (at.k === 'intOrNull' && init && this.typeOf(init).k !== 'null') this.checkLocalStore(this.int(init), at.t, init);
          return at;
        }
        const ct = { t: at.t };
        if (!init) return { k: 'int', t: ct.t };
        const it = this.int(init);
        this.checkLocalStore(it, ct.t, init);
        return isConst && it.c !== undefined ? { k: 'int', t: ct.t, c: wrap(it.c, ct.t) } : { k: 'int', t: ct.t };
      }
      if (!init) return fail(decl, 'TSBPF_TYPE', 'a variable without an initializer needs a type');
      const it = this.typeOf(init);
      if (it.k === 'int') {
        if (isConst && it.c !== undefined) return it;
        return { k: 'int', t: operandType(it) };
      }
      if (it.k === 'void') return fail(init, 'TSBPF_VOID', 'this expression has no value');
      if (it.k === 'ref' && !isConst) return fail(decl, 'TSBPF_LET_REF', 'references must be const');
      return it;
    }
    return fail(decl, 'TSBPF_UNSUPPORTED', `${decl.getKindName()} is not a local`);
  }

  /** The type an annotation gives: `T | null` is a nullable integer (or a reference) of T. */
  #annotated(tn: import('ts-morph').TypeNode): SType {
    let inner = tn;
    let nullable = false;
    if (Node.isUnionTypeNode(tn)) {
      const parts = tn.getTypeNodes().filter((n) => !(Node.isLiteralTypeNode(n) && n.getLiteral().getKind() === SK.NullKeyword));
      if (parts.length === 1) {
        inner = parts[0]!;
        nullable = parts.length < tn.getTypeNodes().length;
      }
    }
    const ct = this.r.layout(inner);
    if (ct.kind !== 'int') return { k: 'ref', to: ct };
    return nullable ? { k: 'intOrNull', t: ct.t } : { k: 'int', t: ct.t };
  }

  #valueTypeOf(t: SType): SType {
    return t.k === 'int' && t.c !== undefined ? { k: 'int', t: operandType(t) } : t;
  }

  #isLoopHelper(call: CallExpression): boolean {
    const callee = call.getExpression();
    if (!Node.isPropertyAccessExpression(callee) || callee.getName() !== 'loop') return false;
    const o = this.typeOf(callee.getExpression());
    return o.k === 'dsl' && o.name === 'bpf';
  }

  /** The map a `m.forEachElem(…)` call walks. */
  #forEachMap(call: CallExpression): MapSpec | undefined {
    const callee = call.getExpression();
    if (!Node.isPropertyAccessExpression(callee) || callee.getName() !== 'forEachElem') return undefined;
    const o = this.typeOf(callee.getExpression());
    return o.k === 'map' ? o.map : undefined;
  }

  #isProgramBody(fn: Node): boolean {
    for (const p of this.model.programs.values()) if (p.body === fn) return true;
    return false;
  }

  #programCtx(fn: Node): CtxKind {
    for (const p of this.model.programs.values()) {
      if (p.body !== fn) continue;
      switch (p.kind) {
        case 'xdp': return 'xdp';
        case 'tc': case 'socket_filter': case 'cgroup_skb': return 'skb';
        case 'tracepoint': return 'tracepoint';
        case 'perf_event': return 'perf';
        default: return 'args';
      }
    }
    return 'args';
  }

  #contextType(tn: Node): CtxKind | undefined {
    if (!Node.isTypeReference(tn)) return undefined;
    const name = this.r.dslName(tn.getTypeName());
    return name === undefined ? undefined : CONTEXTS[name];
  }

  // ------------------------------------------------------------ members

  #property(node: import('ts-morph').PropertyAccessExpression): SType {
    if (node.hasQuestionDotToken()) return fail(node, 'TSBPF_OPTIONAL', 'optional chaining is not supported');
    const obj = node.getExpression();
    // Constants such as XdpAction.PASS, enum members or `as const` tables, through their literal types.
    if (Node.isIdentifier(obj) || Node.isPropertyAccessExpression(obj)) {
      const root = Node.isIdentifier(obj) ? obj : undefined;
      const rootDecl = root ? this.r.declarationOf(root) : undefined;
      if (!rootDecl || !isLocal(rootDecl)) {
        const lit = this.r.literalOf(node);
        if (lit !== undefined) {
          if (!Number.isInteger(lit)) return fail(node, 'TSBPF_FLOAT', 'floating-point numbers are not supported');
          return { k: 'int', t: typeByValue(BigInt(lit)), c: BigInt(lit), lit: true };
        }
      }
    }
    const o = this.typeOf(obj);
    const name = node.getName();
    switch (o.k) {
      case 'ctx':
        if (name === 'packet' && (o.ctx === 'xdp' || o.ctx === 'skb')) return { k: 'packet' };
        if (o.ctx === 'xdp' && (name === 'ingressIfindex' || name === 'rxQueueIndex')) return { k: 'int', t: U32 };
        if (o.ctx === 'skb' && SKB_FIELDS.has(name)) return { k: 'int', t: name === 'protocol' ? INTS.be16! : U32 };
        if (o.ctx === 'perf' && (name === 'samplePeriod' || name === 'addr')) return { k: 'int', t: U64 };
        return fail(node, 'TSBPF_CTX_FIELD', `the context has no field ${name} the evaluator models`);
      case 'packet':
        if (name === 'length') return { k: 'int', t: U32 };
        return fail(node, 'TSBPF_MEMBER', `packet has no property ${name}`);
      case 'header':
        if (name === 'size') return { k: 'int', t: typeByValue(BigInt(sizeOfCT(o.struct))), c: BigInt(sizeOfCT(o.struct)), lit: true };
        return fail(node, 'TSBPF_MEMBER', 'header types have only .size');
      case 'ref': {
        if (o.to.kind === 'array' && name === 'length') return { k: 'int', t: typeByValue(BigInt(o.to.length)), c: BigInt(o.to.length), lit: true };
        if (o.to.kind !== 'struct') return fail(node, 'TSBPF_MEMBER', `not a struct: no field ${name}`);
        const f = o.to.fields.find((x) => x.name === name);
        if (!f) return fail(node, 'TSBPF_MEMBER', `${o.to.name} has no field ${name}`);
        return f.type.kind === 'int' ? { k: 'int', t: f.type.t } : { k: 'ref', to: f.type, ...(o.ro ? { ro: o.ro } : {}) };
      }
      default:
        return fail(node, 'TSBPF_MEMBER', `${o.k} has no property ${name}`);
    }
  }

  #element(node: import('ts-morph').ElementAccessExpression): SType {
    const o = this.typeOf(node.getExpression());
    if (o.k !== 'ref' || o.to.kind !== 'array') return fail(node, 'TSBPF_INDEX', 'only fixed arrays can be indexed');
    const idx = this.int(node.getArgumentExpressionOrThrow());
    if (idx.c !== undefined && (idx.c < 0n || idx.c >= BigInt(o.to.length))) return fail(node.getArgumentExpressionOrThrow(), 'TSBPF_INDEX_RANGE', `index ${idx.c} is outside the array`);
    if (idx.c === undefined && o.to.elem.kind !== 'int') return fail(node, 'TSBPF_INDEX', 'arrays of structs need constant indexes');
    return o.to.elem.kind === 'int' ? { k: 'int', t: o.to.elem.t } : { k: 'ref', to: o.to.elem, ...(o.ro ? { ro: o.ro } : {}) };
  }

  // ------------------------------------------------------------ calls

  #call(node: import('ts-morph').CallExpression): SType {
    const callee = node.getExpression();
    const args = node.getArguments();
    if (Node.isPropertyAccessExpression(callee)) {
      const o = this.typeOf(callee.getExpression());
      const m = callee.getName();
      if (o.k === 'map') return this.#mapMethod(o.map, m, node);
      if (o.k === 'global') {
        const gt = o.global.type;
        if (gt.kind !== 'int') {
          if (m === 'get') return { k: 'ref', to: gt, ...(o.global.section === 'rodata' ? { ro: 'rodata' as const } : {}) };
          if (m === 'set') return fail(callee, 'TSBPF_ARGS', `${o.global.name} is written through get()`);
        } else {
          if (m === 'get') return { k: 'int', t: gt.t };
          if (m === 'set') {
            if (o.global.section === 'rodata') return fail(node, 'TSBPF_RODATA_WRITE', `${o.global.name} is rodata`);
            this.checkStore(this.int(args[0]!), gt.t, args[0]!);
            return { k: 'void' };
          }
        }
      }
      if (o.k === 'packet') {
        if (m === 'at') {
          const h = this.typeOf(args[0]!);
          if (h.k !== 'header') return fail(args[0]!, 'TSBPF_HEADER', 'packet.at needs a header type');
          this.#checkOffset(args[1]!, sizeOfCT(h.struct), node);
          return { k: 'ref', to: h.struct };
        }
        if (m === 'byte') {
          this.#checkOffset(args[0]!, 1, node);
          return { k: 'int', t: I64 };
        }
      }
      if (o.k === 'ctx' && (m === 'arg' || m === 'ret')) return { k: 'int', t: U64 };
      if (o.k === 'dsl' && o.name === 'bpf') return this.#helper(m, node);
      return fail(callee, 'TSBPF_METHOD', `method ${m} is not supported on ${o.k}`);
    }
    const c = this.typeOf(callee);
    if (c.k === 'dsl') {
      const name = c.name;
      if (CASTS.has(name)) {
        const a = args[0];
        if (!a) return fail(node, 'TSBPF_ARGS', `${name}() needs a value`);
        const v = this.int(a);
        const to = INTS[name]!;
        return v.c !== undefined ? { k: 'int', t: to, c: wrap(v.c, to) } : { k: 'int', t: to };
      }
      if (name === 'htons' || name === 'ntohs' || name === 'htonl' || name === 'ntohl') {
        const v = this.int(args[0]!);
        const bits = name.endsWith('s') ? 16 : 32;
        const t = name === 'htons' ? INTS.be16! : name === 'ntohs' ? U16 : name === 'htonl' ? INTS.be32! : U32;
        return v.c !== undefined ? { k: 'int', t, c: swapBytes(v.c, bits) } : { k: 'int', t };
      }
      if (name === 'range') return fail(node, 'TSBPF_RANGE', 'range() is only allowed in for…of');
      return fail(node, 'TSBPF_CALL', `${name}() cannot be called inside a program`);
    }
    if (c.k === 'fn') return this.returnType(c.fn);
    return fail(callee, 'TSBPF_CALL', `'${callee.getText()}' cannot be called from a program`);
  }

  /** A constant packet offset (taken as unsigned) must leave room for `size` bytes below 65536. */
  #checkOffset(arg: Node, size: number, at: Node): void {
    const off = this.int(arg);
    const limit = 65535n - BigInt(size);
    if (off.c !== undefined && BigInt.asUintN(64, off.c) > limit) fail(at, 'TSBPF_PACKET_OFFSET', `packet offset ${BigInt.asUintN(64, off.c)} is outside 0…${limit}`);
  }

  #mapMethod(map: MapSpec, m: string, node: import('ts-morph').CallExpression): SType {
    const args = node.getArguments();
    if (map.kind === 'ringbuf') {
      if (m === 'reserve') return { k: 'ref', to: map.value };
      if (m === 'submit' || m === 'discard') return { k: 'void' };
      if (m === 'output') return { k: 'int', t: I64 };
    } else {
      if (m === 'lookup') return map.value.kind === 'int' ? { k: 'intOrNull', t: map.value.t } : { k: 'ref', to: map.value };
      if (m === 'update' || m === 'delete') return { k: 'int', t: I64 };
      // Every key/value kind the evaluator models is one bpf_for_each_map_elem walks.
      if (m === 'forEachElem') return { k: 'int', t: I64 };
      if (m === 'increment') {
        if (map.value.kind !== 'int') return fail(node, 'TSBPF_INCREMENT', 'increment needs integer values');
        if (args[1]) this.checkStore(this.int(args[1]), map.value.t, args[1]);
        return { k: 'void' };
      }
    }
    return fail(node, 'TSBPF_METHOD', `maps have no method ${m} in programs`);
  }

  #helper(name: string, node: Node): SType {
    switch (name) {
      case 'xdpAdjustHead': case 'xdpAdjustTail': case 'l3CsumReplace': case 'l4CsumReplace': return { k: 'int', t: I64 };
      case 'loop': return { k: 'int', t: INTS.i32! };
      default: return fail(node, 'TSBPF_HELPER', `bpf.${name} is not modelled by the evaluator`);
    }
  }

  /** A module function's result: its declared type, else the common type of its returns. */
  returnType(fn: FunctionNode): SType {
    const known = this.#types.get(fn);
    if (known) return known;
    const tn = fn.getReturnTypeNode();
    let t: SType;
    if (tn) {
      if (tn.getKind() === SK.VoidKeyword) t = { k: 'void' };
      else t = this.#annotated(tn);
    } else {
      this.#types.set(fn, { k: 'void' }); // recursion guard
      const body = fn.getBody();
      const exprs: Expression[] = [];
      if (body && Node.isBlock(body)) {
        body.forEachDescendant((d, walk) => {
          if (Node.isArrowFunction(d) || Node.isFunctionExpression(d) || Node.isFunctionDeclaration(d)) walk.skip();
          else if (Node.isReturnStatement(d)) {
            const e = d.getExpression();
            if (e) exprs.push(e);
          }
        });
      } else if (body) exprs.push(body as Expression);
      t = { k: 'void' };
      for (const e of exprs) t = t.k === 'void' ? this.#valueTypeOf(this.typeOf(e)) : this.#join(t, this.typeOf(e), e);
    }
    this.#types.set(fn, t);
    return t;
  }

  // ------------------------------------------------------------ operators

  #prefix(node: import('ts-morph').PrefixUnaryExpression): SType {
    const op = node.getOperatorToken();
    const operand = node.getOperand();
    if (op === SK.ExclamationToken) {
      const o = this.typeOf(operand);
      return o.k === 'int' && o.c !== undefined ? { k: 'int', t: BOOL, c: o.c === 0n ? 1n : 0n } : { k: 'int', t: BOOL };
    }
    if (op === SK.PlusPlusToken || op === SK.MinusMinusToken) {
      this.#writable(operand);
      return { k: 'int', t: this.int(operand).t };
    }
    const v = this.int(operand);
    const t = promote(operandType(v));
    if (op === SK.MinusToken) {
      if (v.c === undefined) return { k: 'int', t };
      return v.lit ? { k: 'int', t: typeByValue(-v.c), c: -v.c, lit: true } : { k: 'int', t, c: wrap(-v.c, t) };
    }
    if (op === SK.TildeToken) {
      if (v.c === undefined) return { k: 'int', t };
      return v.lit ? { k: 'int', t: typeByValue(~v.c), c: ~v.c, lit: true } : { k: 'int', t, c: wrap(~v.c, t) };
    }
    if (op === SK.PlusToken) return fail(node, 'TSBPF_OPERATOR', 'unary + is not supported');
    return fail(node, 'TSBPF_OPERATOR', `operator ${node.getText()[0]} is not supported`);
  }

  #binary(node: import('ts-morph').BinaryExpression): SType {
    const tok = node.getOperatorToken().getKind();
    const left = node.getLeft();
    const right = node.getRight();
    if (tok === SK.EqualsToken) {
      const r = this.typeOf(right);
      this.checkAssign(left, right);
      return r;
    }
    const compound = COMPOUND[tok];
    if (compound) {
      this.#writable(left);
      const target = this.int(left);
      const r = this.int(right);
      if (compound === '<<' || compound === '>>' || compound === '>>>') {
        this.#checkShift(target, r, right);
        return { k: 'int', t: shiftType(compound, target.t) };
      }
      if ((compound === '/' || compound === '%') && r.c === 0n) return fail(node, 'TSBPF_DIV_ZERO', 'division by zero');
      return { k: 'int', t: common(target.t, operandType(r)) };
    }
    const cmp = COMPARE[tok];
    if (cmp) {
      const a = this.typeOf(left);
      const b = this.typeOf(right);
      if (a.k === 'null' || b.k === 'null') {
        const other = a.k === 'null' ? b : a;
        if (other.k !== 'ref' && other.k !== 'intOrNull' && other.k !== 'null') return fail(node, 'TSBPF_NULL_COMPARE', 'only references are compared with null');
        if (cmp !== '===' && cmp !== '!==') return fail(node, 'TSBPF_NULL_COMPARE', 'compare references with === or !==');
        return { k: 'int', t: BOOL };
      }
      const x = this.int(left);
      const y = this.int(right);
      if (x.c !== undefined && y.c !== undefined) {
        if (x.lit && y.lit) return { k: 'int', t: BOOL, c: compare(cmp, x.c, y.c) ? 1n : 0n };
        const in_ = common(operandType(x), operandType(y));
        return { k: 'int', t: BOOL, c: compare(cmp, wrap(x.c, in_), wrap(y.c, in_)) ? 1n : 0n };
      }
      return { k: 'int', t: BOOL };
    }
    if (tok === SK.AmpersandAmpersandToken || tok === SK.BarBarToken) return this.#join(this.typeOf(left), this.typeOf(right), node);
    if (tok === SK.QuestionQuestionToken) {
      // a ?? b: a non-null integer never gives b; otherwise the two meet as ?: arms do.
      const a = this.typeOf(left);
      if (a.k === 'int') return a;
      if (a.k === 'null') return this.typeOf(right);
      return this.#join(a, this.typeOf(right), node);
    }
    if (tok === SK.CommaToken) {
      this.typeOf(left);
      return this.typeOf(right);
    }
    const op = ARITH[tok];
    if (!op) return fail(node.getOperatorToken(), 'TSBPF_OPERATOR', `operator ${node.getOperatorToken().getText()} is not supported`);
    const a = this.int(left);
    const b = this.int(right);
    if (op === '<<' || op === '>>' || op === '>>>') {
      this.#checkShift(a, b, right);
      const t = shiftType(op, operandType(a));
      if (a.c === undefined || b.c === undefined) return { k: 'int', t };
      const v = shift(op, a.c, b.c, operandType(a));
      return a.lit && b.lit ? { k: 'int', t: typeByValue(v), c: v, lit: true } : { k: 'int', t, c: v };
    }
    if ((op === '/' || op === '%') && b.c === 0n) return fail(node, 'TSBPF_DIV_ZERO', 'division by zero');
    if (a.c !== undefined && b.c !== undefined && a.lit && b.lit) {
      const v = exact(op, a.c, b.c);
      return { k: 'int', t: typeByValue(v), c: v, lit: true };
    }
    const t = common(operandType(a), operandType(b));
    if (a.c !== undefined && b.c !== undefined) return { k: 'int', t, c: arith(op, wrap(a.c, t), wrap(b.c, t), t) };
    return { k: 'int', t };
  }

  #checkShift(a: IntS, b: IntS, at: Node): void {
    if (b.c === undefined) return;
    const width = BigInt(shiftWidth(operandType(a)));
    if (b.c < 0n || b.c >= width) fail(at, 'TSBPF_SHIFT_RANGE', `shift by ${b.c} is outside 0…${width - 1n}`);
  }

  /** The type of `a ?: b` / `a && b` / `a || b`: integers meet in their common type; references stay references. */
  #join(a: SType, b: SType, node: Node): SType {
    const intish = (x: SType) => x.k === 'int' || x.k === 'intOrNull';
    // An integer that may be null on either side is a nullable integer.
    const nullable = a.k === 'intOrNull' || b.k === 'intOrNull' || a.k === 'null' || b.k === 'null';
    const asInt = (x: SType): IntS => (x.k === 'int' ? x : { k: 'int', t: (x as { t: IntT }).t });
    if (intish(a) && intish(b)) {
      const x = asInt(a);
      const y = asInt(b);
      const t = x.t === BOOL && y.t === BOOL && !x.lit && !y.lit ? BOOL : common(operandType(x), operandType(y));
      return nullable ? { k: 'intOrNull', t } : { k: 'int', t };
    }
    if (a.k === 'ref') return a;
    if (b.k === 'ref') return b;
    if (a.k === 'null' && b.k === 'null') return a;
    if (a.k === 'null' && intish(b)) return { k: 'intOrNull', t: operandType(asInt(b)) };
    if (b.k === 'null' && intish(a)) return { k: 'intOrNull', t: operandType(asInt(a)) };
    return fail(node, 'TSBPF_TYPE', `cannot combine ${a.k} and ${b.k}`);
  }

  // ------------------------------------------------------------ stores

  /** A store into memory: a literal must fit; anything else is truncated. */
  checkStore(v: IntS, to: IntT, at: Node): void {
    if (v.lit && !fitsValue(v.c!, to)) fail(at, 'TSBPF_LITERAL_RANGE', `${v.c} does not fit in ${to.name}`);
  }

  /** A store into a local: constants must fit; a wider non-constant type needs a cast. */
  checkLocalStore(v: IntS, to: IntT, at: Node): void {
    if (v.c !== undefined) {
      if (v.lit) this.checkStore(v, to, at);
      return;
    }
    if (v.t.bits > to.bits) fail(at, 'TSBPF_NARROWING', `${v.t.name} does not fit in ${to.name}; truncate explicitly`);
  }

  /** A field or element of read-only memory (a rodata array or struct) cannot be written. */
  #writable(target: Node): void {
    const t = Node.isParenthesizedExpression(target) ? target.getExpression() : target;
    if (!Node.isPropertyAccessExpression(t) && !Node.isElementAccessExpression(t)) return;
    const o = this.typeOf(t.getExpression());
    if (o.k === 'ref' && o.ro === 'rodata') fail(t, 'TSBPF_RODATA_WRITE', 'a rodata global is read-only in programs');
    if (o.k === 'ref' && o.ro === 'mapkey') fail(t, 'TSBPF_FOR_EACH', "forEachElem's key is read-only");
  }

  checkAssign(left: Node, right: Node): void {
    this.#writable(left);
    const target = this.typeOf(left);
    const v = this.typeOf(right);
    if (target.k === 'intOrNull' && v.k === 'null') return;
    if (target.k !== 'int' && target.k !== 'intOrNull') return fail(left, 'TSBPF_ASSIGN', 'only integers can be assigned');
    const iv = v.k === 'int' ? v : this.int(right);
    const l = Node.isParenthesizedExpression(left) ? left.getExpression() : left;
    const decl = Node.isIdentifier(l) ? this.r.declarationOf(l) : undefined;
    if (decl && isLocal(decl)) this.checkLocalStore(iv, target.t, right);
    else this.checkStore(iv, target.t, right);
  }
}

/**
 * The contract's compile-time checks over a whole function (and the
 * functions it calls), whether or not a run takes every path: what the
 * compiler must reject, the evaluator rejects before running.
 */
export class Checker {
  readonly #done = new Set<Node>();

  constructor(readonly typer: Typer) {}

  function(fn: FunctionNode): void {
    if (this.#done.has(fn)) return;
    this.#done.add(fn);
    const body = fn.getBody();
    if (!body) return;
    if (Node.isBlock(body)) this.#statement(body);
    else this.expr(body);
  }

  #statement(s: Node): void {
    if (Node.isBlock(s)) for (const x of s.getStatements()) this.#statement(x);
    else if (Node.isExpressionStatement(s)) this.expr(s.getExpression());
    else if (Node.isVariableStatement(s)) {
      for (const d of s.getDeclarations()) {
        const t = this.typer.declaredType(d);
        const init = d.getInitializer();
        if (!init) continue;
        if (t.k === 'ref' && Node.isObjectLiteralExpression(init)) this.#literal(init, t.to);
        else this.expr(init);
      }
    } else if (Node.isReturnStatement(s)) {
      const e = s.getExpression();
      if (e) this.expr(e);
    } else if (Node.isIfStatement(s)) {
      this.expr(s.getExpression());
      this.#statement(s.getThenStatement());
      const el = s.getElseStatement();
      if (el) this.#statement(el);
    } else if (Node.isSwitchStatement(s)) {
      this.expr(s.getExpression());
      for (const c of s.getCaseBlock().getClauses()) {
        if (Node.isCaseClause(c)) {
          this.expr(c.getExpression());
          if (this.typer.constant(c.getExpression()) === undefined) fail(c.getExpression(), 'TSBPF_CASE', 'case labels must be compile-time constants');
        }
        for (const x of c.getStatements()) this.#statement(x);
      }
    } else if (Node.isForOfStatement(s)) {
      const it = s.getExpression();
      if (Node.isCallExpression(it)) for (const a of it.getArguments()) if (this.typer.constant(a) === undefined) fail(a, 'TSBPF_RANGE_BOUND', 'range() bounds must be constants');
      this.#statement(s.getStatement());
    } else if (Node.isForStatement(s)) {
      const init = s.getInitializer();
      if (init && Node.isVariableDeclarationList(init)) {
        for (const d of init.getDeclarations()) {
          this.typer.declaredType(d);
          const e = d.getInitializer();
          if (e) this.expr(e);
        }
      } else if (init) this.expr(init);
      const cond = s.getCondition();
      if (cond) this.expr(cond);
      const update = s.getIncrementor();
      if (update) this.expr(update);
      this.#statement(s.getStatement());
    } else if (Node.isWhileStatement(s) || Node.isDoStatement(s)) {
      this.expr(s.getExpression());
      this.#statement(s.getStatement());
    }
  }

  /** A struct literal stored as `to`: its integer fields are stores. */
  #literal(lit: import('ts-morph').ObjectLiteralExpression, to: CT): void {
    for (const p of lit.getProperties()) {
      if (Node.isSpreadAssignment(p)) {
        const st = this.typer.typeOf(p.getExpression());
        if (st.k !== 'ref' || st.to !== to) fail(p, 'TSBPF_OBJECT', 'only a struct of the same type can be spread into a struct literal');
        this.expr(p.getExpression());
        continue;
      }
      const init = Node.isPropertyAssignment(p) ? p.getInitializer() : Node.isShorthandPropertyAssignment(p) ? p.getNameNode() : undefined;
      if (!init || !(Node.isPropertyAssignment(p) || Node.isShorthandPropertyAssignment(p))) return fail(p, 'TSBPF_OBJECT', 'only plain properties are supported in struct literals');
      const f = to.kind === 'struct' ? to.fields.find((x) => x.name === p.getName()) : undefined;
      if (f && Node.isObjectLiteralExpression(init)) this.#literal(init, f.type);
      else {
        this.expr(init);
        if (f?.type.kind === 'int') this.typer.checkStore(this.typer.int(init), f.type.t, init);
      }
    }
  }

  /** An argument stored as `to` (a key, a value, a parameter). */
  #store(arg: Node | undefined, to: CT | undefined): void {
    if (!arg) return;
    if (Node.isObjectLiteralExpression(arg)) {
      if (to) this.#literal(arg, to);
      return;
    }
    this.expr(arg);
    const t = this.typer.typeOf(arg);
    if (to?.kind === 'int' && t.k === 'int') this.typer.checkStore(t, to.t, arg);
  }

  /** A helper's callback and its ctx: the callback is a function of its own (an arrow function here, or a module function), checked as one. */
  #callback(cb: Node | undefined, ctx: Node | undefined): void {
    if (ctx) this.expr(ctx);
    const fn = cb && Node.isIdentifier(cb) ? this.typer.typeOf(cb) : undefined;
    if (fn?.k === 'fn') this.function(fn.fn);
    else if (cb && (Node.isArrowFunction(cb) || Node.isFunctionExpression(cb))) this.function(cb);
  }

  expr(node: Node): void {
    if (Node.isObjectLiteralExpression(node)) return fail(node, 'TSBPF_OBJECT', 'an object literal needs a struct type');
    if (Node.isCallExpression(node)) {
      this.typer.typeOf(node);
      const callee = node.getExpression();
      const args = node.getArguments();
      if (Node.isPropertyAccessExpression(callee)) {
        const o = this.typer.typeOf(callee.getExpression());
        if (o.k === 'map') {
          const m = callee.getName();
          if (o.map.kind === 'ringbuf') this.#store(args[0], m === 'output' ? o.map.value : undefined);
          else if (m === 'forEachElem') this.#callback(args[0], args[1]);
          else {
            this.#store(args[0], o.map.key);
            if (m === 'update') this.#store(args[1], o.map.value);
            else if (args[1]) this.expr(args[1]);
            if (args[2]) this.expr(args[2]);
          }
          return;
        }
        this.expr(callee.getExpression());
        if (o.k === 'dsl' && o.name === 'bpf' && callee.getName() === 'loop') {
          // The callback is a function of its own (an arrow function here, or a module function), checked as one.
          const [n, cb, ctx] = args;
          if (n) this.expr(n);
          this.#callback(cb, ctx);
          return;
        }
        for (const a of args) if (this.typer.typeOf(a).k !== 'header') this.expr(a);
        return;
      }
      const c = this.typer.typeOf(callee);
      if (c.k === 'fn') {
        const params = c.fn.getParameters();
        args.forEach((a, i) => {
          const pt = params[i] ? this.typer.declaredType(params[i]!) : undefined;
          this.#store(a, pt?.k === 'int' ? { kind: 'int', t: pt.t } : pt?.k === 'ref' ? pt.to : undefined);
        });
        this.function(c.fn);
        return;
      }
      for (const a of args) this.expr(a);
      return;
    }
    const t = this.typer.typeOf(node);
    // A constant was typed with everything inside it (and may come from a table the evaluator does not walk).
    if (t.k === 'int' && t.c !== undefined) return;
    if (Node.isBinaryExpression(node)) {
      this.expr(node.getLeft());
      this.expr(node.getRight());
    } else if (Node.isPrefixUnaryExpression(node) || Node.isPostfixUnaryExpression(node)) this.expr(node.getOperand());
    else if (Node.isConditionalExpression(node)) {
      this.expr(node.getCondition());
      this.expr(node.getWhenTrue());
      this.expr(node.getWhenFalse());
    } else if (Node.isParenthesizedExpression(node) || Node.isAsExpression(node) || Node.isNonNullExpression(node) || Node.isSatisfiesExpression(node)) this.expr(node.getExpression());
    else if (Node.isPropertyAccessExpression(node)) this.expr(node.getExpression());
    else if (Node.isElementAccessExpression(node)) {
      this.expr(node.getExpression());
      this.expr(node.getArgumentExpressionOrThrow());
    }
  }
}

function fitsValue(v: bigint, t: IntT): boolean {
  return wrap(v, t) === v;
}

export { EvalError };
