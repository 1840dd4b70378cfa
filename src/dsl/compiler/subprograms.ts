/**
 * Module functions as bpf-to-bpf calls. A call of a module function is
 * inlined, or becomes a call of the function lowered once as a subprogram
 * (static linkage: the verifier checks it in its caller's context, so
 * stack, map value, packet and context pointers pass as they are). The
 * compiler decides (large functions called from several places), and a
 * JSDoc tag on the declaration forces either: `@inline`, `@noinline`.
 */
import { type ArrowFunction, type FunctionDeclaration, type FunctionExpression, Node, ts } from 'ts-morph';
import type { CompilerContext } from './context.js';
import { type CType, I32, I64, type IntType, U32 } from './ctypes.js';
import { Helper } from '../../asm/helpers.js';
import { imm, type IrFunction, type Operand, reg, type VReg } from './ir.js';
import { FunctionLowering, isContextType } from './lower.js';
import { reloadPacketBounds } from './lower-packet.js';
import type { Space, Value } from './values.js';
import type { MapInfo } from './module-model.js';
import { freesValues } from './map-kinds.js';
import type { Origin } from './lifetimes.js';

export type FunctionNode = FunctionDeclaration | ArrowFunction | FunctionExpression;

/** The methods that pass a callback to the kernel, as the module writes them. */
export type CallbackHelper = 'bpf.loop' | 'forEachElem';

/** MAX_CALL_FRAMES: the program's frame and at most 7 calls below it. */
export const MAX_CALL_FRAMES = 8;

/**
 * The automatic choice: a function that inlining would copy at least this
 * many times into a program and whose body has at least AUTO_MIN_NODES
 * syntax nodes is called, not inlined (inlining a small function costs less
 * than the call, and one called once is never duplicated).
 */
export const AUTO_MIN_CALLS = 2;
export const AUTO_MIN_NODES = 120;

/** How a parameter reaches a subprogram: in argument register `arg`, or (the context) in the register after the others. */
export type SubprogramParam =
  /** With `load`, the register holds a pointer to the integer (a map's key or value), read at the entry. */
  | { kind: 'int'; arg: number; t: IntType; load?: boolean }
  | { kind: 'ptr'; arg: number; to: CType; space: Space; origins: Origin[] }
  | { kind: 'ctx' };

export interface SubprogramPlan {
  /** Its name in the object (a C identifier, unique in the module's .text). */
  name: string;
  fn: FunctionNode;
  decl: Node;
  /** The first call (where its limits are reported). */
  node: Node;
  params: SubprogramParam[];
  usesCtx: boolean;
  /** Undefined: returns nothing. */
  result?: IntType;
  /** Whether it may move packet data (its callers' headers end and their bounds are reloaded). */
  movesPacket: boolean;
  /** Frames below the program's at its deepest call (1: called by the program). */
  depth: number;
  /** Whether the compiler chose it (not `@noinline`): then a program it does not fit in is lowered again with everything inlined. */
  automatic: boolean;
  /** A helper's callback (named by the method that passes it): it returns 0 or 1 (any other value is made 1) and has no program context. */
  callback?: CallbackHelper;
  lowering?: FunctionLowering;
  ir?: IrFunction;
}

/** A program's subprograms, shared by the lowerings of the program and of its subprograms. */
export class SubprogramTable {
  readonly plans = new Map<string, SubprogramPlan>();
  readonly #names = new Set<string>();
  /** False when the program is lowered again after an automatic choice did not fit. */
  automatic = true;

  uniqueName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_]/g, '_');
    let name = clean;
    for (let n = 2; this.#names.has(name); n++) name = `${clean}_${n}`;
    this.#names.add(name);
    return name;
  }
}

/** The `@inline` / `@noinline` tag of a function's declaration (a function declaration, or the `const` holding an arrow function). */
export function inlineTag(decl: Node): 'inline' | 'noinline' | undefined {
  for (const tag of ts.getJSDocTags(decl.compilerNode)) {
    const name = tag.tagName.text;
    if (name === 'inline' || name === 'noinline') return name;
  }
  return undefined;
}

export interface CallChoice {
  forced: boolean;
}

/** Whether the call of `fn` at `node` should be a bpf-to-bpf call (then the argument values decide whether it can be). */
export function planCall(l: FunctionLowering, fn: FunctionNode, decl: Node, node: Node): CallChoice | undefined {
  const tag = inlineTag(decl);
  if (tag === 'inline') return undefined;
  // Kernels before 6.3 refuse bpf-to-bpf calls while a spin lock is held: a function called inside withLock is inlined.
  if (l.lockHeld) {
    if (tag === 'noinline') l.fail(node, 'TSBPF_LOCK', 'a @noinline function is called while a spin lock is held: the verifier allows no calls inside withLock (let it be inlined)');
    return undefined;
  }
  if (tag === 'noinline') return { forced: true };
  if (!l.subprograms.automatic) return undefined;
  if ((inlinedCopies(l.cx, l.program.body).get(decl) ?? 0) < AUTO_MIN_CALLS || syntaxSize(fn) < AUTO_MIN_NODES) return undefined;
  return { forced: false };
}

/** A parameter as its declaration gives it (SubprogramParam without what the arguments decide). */
type DeclaredParam = { kind: 'int'; t: IntType } | { kind: 'ptr'; to: CType } | { kind: 'ctx' };

/** Why a function cannot be a subprogram whatever its arguments, or its parameters' kinds without the argument-dependent parts. */
function signatureOf(l: FunctionLowering, fn: FunctionNode): { why: string } | { params: DeclaredParam[] } {
  const params: DeclaredParam[] = [];
  for (const p of fn.getParameters()) {
    if (!Node.isIdentifier(p.getNameNode())) return { why: `parameter ${p.getText()} is destructured` };
    if (p.isRestParameter() || p.hasQuestionToken() || p.hasInitializer()) return { why: `parameter ${p.getName()} is optional` };
    const typeNode = p.getTypeNode();
    if (!typeNode) return { why: `parameter ${p.getName()} has no type annotation` };
    if (isContextType(l.cx, typeNode)) {
      params.push({ kind: 'ctx' });
      continue;
    }
    if (Node.isUnionTypeNode(typeNode)) return { why: `parameter ${p.getName()} may be null` };
    const t = l.cx.ctypeOf(typeNode);
    if (t.kind === 'int') {
      if (t.pointee !== undefined) return { why: `parameter ${p.getName()} is a kernel pointer` };
      params.push({ kind: 'int', t });
    } else params.push({ kind: 'ptr', to: t });
  }
  if (params.filter((p) => p.kind !== 'ctx').length > 5) return { why: 'it takes more than 5 arguments (a BPF function has 5 argument registers)' };
  const rt = fn.getReturnType();
  const parts = rt.isUnion() ? rt.getUnionTypes() : [rt];
  const scalar = parts.every((p) => p.isNumber() || p.isNumberLiteral() || p.isBigInt() || p.isBigIntLiteral() || p.isBoolean() || p.isBooleanLiteral());
  if (!(rt.isVoid() || rt.isUndefined() || scalar)) return { why: 'it returns something other than an integer (a reference or null stays in its caller: inline it)' };
  return { params };
}

/** Why a value cannot be passed in a register to a subprogram (undefined: it can). */
function unpassable(v: Value, kind: 'int' | 'ptr' | 'ctx'): string | undefined {
  if (kind === 'ctx') return v.k === 'ctx' ? undefined : 'the context parameter is not given the context';
  // A nullable integer (a map lookup's) reaches a parameter that is not nullable only narrowed by TypeScript to non-null: its value.
  if (kind === 'int') return v.k === 'int' ? undefined : 'an argument is not an integer';
  if (v.k !== 'ptr') return 'an argument is not a reference in a register';
  if (v.space === 'ringbuf') return 'an argument is a ring-buffer event (its submit or discard must stay in the function that reserves it)';
  if (v.innerMap) return 'an argument is an inner map';
  if (v.space === 'sock') return 'an argument is a socket (the verifier allows no arithmetic on it: its reads stay in the function that has it)';
  return undefined;
}

/**
 * Calls `fn` as a subprogram with the argument values already evaluated:
 * undefined when it cannot be one and the compiler chose it (the call is
 * inlined); a diagnostic when `@noinline` asked for it.
 */
export function callSubprogram(l: FunctionLowering, choice: CallChoice, fn: FunctionNode, decl: Node, values: Value[], node: Node): Value | undefined {
  const name = Node.isFunctionDeclaration(decl) || Node.isVariableDeclaration(decl) ? (decl.getName() ?? 'fn') : 'fn';
  const refuse = (why: string): undefined => {
    if (choice.forced) l.fail(node, 'TSBPF_NOINLINE', `${name} is @noinline but cannot be a BPF function: ${why}`);
    return undefined;
  };
  const sig = signatureOf(l, fn);
  if ('why' in sig) return refuse(sig.why);
  let arg = 0;
  const params: SubprogramParam[] = [];
  for (let i = 0; i < sig.params.length; i++) {
    const s = sig.params[i]!;
    const v = values[i]!;
    const why = unpassable(v, s.kind);
    if (why) return refuse(why);
    if (s.kind === 'ctx') params.push(s);
    else if (s.kind === 'int') params.push({ kind: 'int', arg: arg++, t: s.t });
    else {
      const p = v as Extract<Value, { k: 'ptr' }>;
      params.push({ kind: 'ptr', arg: arg++, to: s.to, space: p.space, origins: l.lifetimes.originsOf(p.refs ?? []) });
    }
  }
  if (l.frameDepth + 1 > MAX_CALL_FRAMES) {
    if (!choice.forced) return undefined;
    return l.fail(node, 'TSBPF_CALL_DEPTH', `calling ${name} here makes ${l.frameDepth + 1} nested BPF functions; the kernel allows ${MAX_CALL_FRAMES} frames`);
  }
  const plan = planFor(l, { name, fn, decl, node, params, automatic: !choice.forced });
  const args: Operand[] = [];
  plan.params.forEach((p, i) => {
    if (p.kind === 'ctx') return;
    const v = values[i]!;
    if (p.kind === 'int') args.push(l.coerceLoose(v as Extract<Value, { k: 'int' }>, p.t, node).op);
    else {
      // A header is passed once checked (TypeScript narrows it to non-null first): the pointer itself, whose range the
      // verifier learnt from the check (materializing it would test it again, and the verifier would follow a null).
      const ptr = v as Extract<Value, { k: 'ptr' }>;
      l.lifetimes.use(ptr.refs, node);
      args.push(reg(ptr.reg));
    }
  });
  if (plan.usesCtx) args.push(reg(l.ctxReg));
  l.at(node);
  const dst = plan.result ? l.newReg() : undefined;
  l.emit({ op: 'call', helper: 0, args, subprogram: plan.name, ...(dst !== undefined ? { dst } : {}) });
  afterCall(l, plan, `${name}()`, node);
  return dst !== undefined ? { k: 'int', op: reg(dst), t: plan.result! } : { k: 'void' };
}

/** The subprogram of `fn` for parameters passed this way: lowered on its first use, once per program. */
function planFor(l: FunctionLowering, base: Pick<SubprogramPlan, 'name' | 'fn' | 'decl' | 'node' | 'params' | 'automatic' | 'callback'>): SubprogramPlan {
  // One subprogram per function and kind of memory each reference points to (the code differs: packet bounds, read-only data).
  const key = `${base.callback ?? ''}:${keyOf(base.fn)}|${base.params.map((p) => (p.kind === 'ptr' ? `${p.arg}:${p.space}:${p.origins.map(originKey).join('+')}` : p.kind === 'int' ? `${p.arg}:int${p.load ? '*' : ''}` : p.kind)).join(',')}`;
  let plan = l.subprograms.plans.get(key);
  if (!plan) {
    plan = { ...base, name: l.subprograms.uniqueName(base.name), usesCtx: false, movesPacket: false, depth: l.frameDepth };
    const sub = new FunctionLowering(l.cx, l.model, l.program, l.subprograms, [...l.functionChain]);
    sub.frameDepth = l.frameDepth + 1;
    plan.ir = sub.lowerSubprogram(plan);
    plan.lowering = sub;
    plan.movesPacket = sub.movesPacket;
    l.subprograms.plans.set(key, plan);
  }
  plan.depth = Math.max(plan.depth, l.frameDepth);
  return plan;
}

/** After a call of `plan` (or a helper calling it back): what it may have moved or freed ends in the caller too. */
function afterCall(l: FunctionLowering, plan: SubprogramPlan, what: string, node: Node): void {
  if (plan.movesPacket) reloadPacketBounds(l, what, node);
  // What the callee may free (a map value it deletes or updates), the caller's references to it included.
  for (const r of plan.lowering!.lifetimes.releases) if (r.kind === 'values') l.lifetimes.release(r, what, node);
}

/** The function passed to a helper: an arrow function written there, or a module function by name. */
function callbackFunction(l: FunctionLowering, cbArg: Node, what: CallbackHelper): { fn: FunctionNode; decl: Node } {
  let fn: Node | undefined = cbArg;
  let decl: Node = cbArg;
  if (Node.isIdentifier(cbArg)) {
    decl = l.cx.declarationOf(cbArg) ?? cbArg;
    fn = Node.isVariableDeclaration(decl) ? decl.getInitializer() : decl;
  }
  if (!fn || !(Node.isFunctionDeclaration(fn) || Node.isArrowFunction(fn) || Node.isFunctionExpression(fn))) {
    return l.fail(cbArg, 'TSBPF_HELPER_ARG', `${what} calls a function: an arrow function or a module function`);
  }
  if (l.functionChain.includes(fn)) return l.fail(cbArg, 'TSBPF_RECURSION', `a ${what} callback cannot call back into itself: BPF programs cannot recurse`);
  return { fn, decl };
}

/** A callback's `ctx` argument: stack memory (the kernel takes nothing else there), or none. */
function callbackContext(l: FunctionLowering, ctxArg: Node | undefined, what: CallbackHelper): Extract<Value, { k: 'ptr' }> | undefined {
  if (!ctxArg) return undefined;
  const v = l.expr(ctxArg);
  if (v.k !== 'ptr' || v.space !== 'stack') return l.fail(ctxArg, 'TSBPF_HELPER_ARG', `${what}'s context is stack memory: a struct local (copy a map value into one first)`);
  return v;
}

/**
 * Lowers the callback as a subprogram (once per program and parameter
 * kinds), calls `helper` with its address (lddw BPF_PSEUDO_FUNC) in the
 * argument register `fnArg`, and ends in the caller what the callback may
 * have moved or freed. The helper's result, a long, in a register.
 */
function callWithCallback(
  l: FunctionLowering, what: CallbackHelper, cb: { fn: FunctionNode; decl: Node }, params: SubprogramParam[], node: Node,
  helper: number, args: (fn: VReg) => Operand[], ctx: Extract<Value, { k: 'ptr' }> | undefined,
): VReg {
  if (l.frameDepth + 1 > MAX_CALL_FRAMES) return l.fail(node, 'TSBPF_CALL_DEPTH', `this ${what} callback makes ${l.frameDepth + 1} nested BPF functions; the kernel allows ${MAX_CALL_FRAMES} frames`);
  const { fn, decl } = cb;
  const suffix = what === 'bpf.loop' ? 'loop' : 'each';
  const named = Node.isFunctionDeclaration(decl) || Node.isVariableDeclaration(decl) ? (decl.getName() ?? `${suffix}_callback`) : `${l.program.name}_${suffix}`;
  const plan = planFor(l, { name: named, fn, decl, node, params, automatic: false, callback: what });
  const f = l.newReg();
  l.at(node);
  l.emit({ op: 'func', dst: f, subprogram: plan.name });
  if (ctx) l.lifetimes.use(ctx.refs, node);
  const dst = l.call(helper, args(f), node)!;
  afterCall(l, plan, `${what}()`, node);
  return dst;
}

/**
 * `bpf.loop(n, callback, ctx?)`: bpf_loop with the callback lowered as a
 * subprogram whose address is an lddw BPF_PSEUDO_FUNC. Its parameters are
 * the index (u32) and `ctx`, which the kernel takes as stack memory (a
 * struct local, passed by reference) or nothing.
 */
export function loopCall(l: FunctionLowering, args: Node[], node: Node): Value {
  const [nArg, cbArg, ctxArg] = args;
  if (!nArg || !cbArg) return l.fail(node, 'TSBPF_ARGS', 'bpf.loop takes a count, a callback and optionally a context');
  const n = l.coerceLoose(l.int(nArg), U32, nArg).op;
  const cb = callbackFunction(l, cbArg, 'bpf.loop');
  const ctx = callbackContext(l, ctxArg, 'bpf.loop');
  const fnParams = cb.fn.getParameters();
  if (fnParams.length > 2) return l.fail(fnParams[2]!, 'TSBPF_HELPER_ARG', 'a bpf.loop callback takes the index and the context');
  if (fnParams.length === 2 && !ctx) return l.fail(fnParams[1]!, 'TSBPF_HELPER_ARG', 'the callback takes a context: pass it as bpf.loop\'s third argument');
  const params: SubprogramParam[] = [];
  if (fnParams.length > 0) params.push({ kind: 'int', arg: 0, t: U32 });
  if (fnParams.length > 1 && ctx) params.push({ kind: 'ptr', arg: 1, to: ctx.to, space: 'stack', origins: l.lifetimes.originsOf(ctx.refs ?? []) });
  const dst = callWithCallback(l, 'bpf.loop', cb, params, node, Helper.loop, (f) => [n, reg(f), ctx ? reg(ctx.reg) : imm(0), imm(0)], ctx);
  // An i32: the verifier's inlined bpf_loop writes -E2BIG with a 32-bit move (0xfffffff9), the helper as a long.
  return { k: 'int', op: reg(dst), t: I32 };
}

/**
 * `m.forEachElem(callback, ctx?)`: bpf_for_each_map_elem. The kernel calls
 * back with (map, key, value, ctx): the key and the value are pointers into
 * the map, the key read-only; an integer key or value is read at the
 * callback's entry (a value, as `lookup` gives it), a struct one is a
 * reference, which a delete or update of a hash map in the callback ends.
 */
export function forEachCall(l: FunctionLowering, map: MapInfo, args: Node[], node: Node): Value {
  const what = 'forEachElem';
  const [cbArg, ctxArg] = args;
  if (!cbArg) return l.fail(node, 'TSBPF_ARGS', `${what} takes a callback and optionally a context`);
  const cb = callbackFunction(l, cbArg, what);
  const ctx = callbackContext(l, ctxArg, what);
  const fnParams = cb.fn.getParameters();
  if (fnParams.length > 3) return l.fail(fnParams[3]!, 'TSBPF_FOR_EACH', `a ${what} callback takes the key, the value and the context`);
  if (fnParams.length === 3 && !ctx) return l.fail(fnParams[2]!, 'TSBPF_FOR_EACH', `the callback takes a context: pass it as ${what}'s second argument`);
  // A hash map's element goes away when the callback deletes or replaces it (any key may be the one visited).
  const origins: Origin[] = freesValues(map.kind) ? [{ kind: 'value', map, key: undefined }] : [];
  const element = (t: CType, arg: number, space: Space): SubprogramParam =>
    t.kind === 'int' ? { kind: 'int', arg, t, load: true } : { kind: 'ptr', arg, to: t, space, origins };
  const params: SubprogramParam[] = [element(map.key!, 1, 'mapkey'), element(map.value, 2, 'map')].slice(0, fnParams.length);
  if (fnParams.length > 2 && ctx) params.push({ kind: 'ptr', arg: 3, to: ctx.to, space: 'stack', origins: l.lifetimes.originsOf(ctx.refs ?? []) });
  const dst = callWithCallback(l, what, cb, params, node, Helper.for_each_map_elem, (f) => [reg(l.mapFd(map)), reg(f), ctx ? reg(ctx.reg) : imm(0), imm(0)], ctx);
  return { k: 'int', op: reg(dst), t: I64 };
}

const originKey = (o: Origin): string => (o.kind === 'value' ? `value:${o.map.name}:${o.key ?? ''}` : o.kind);

const keys = new WeakMap<Node, number>();
let nextKey = 0;
function keyOf(fn: Node): number {
  let k = keys.get(fn);
  if (k === undefined) keys.set(fn, (k = nextKey++));
  return k;
}

/** Syntax nodes in a function's body: its size before lowering. */
export function syntaxSize(fn: FunctionNode): number {
  let n = 0;
  const visit = (x: ts.Node) => {
    n++;
    ts.forEachChild(x, visit);
  };
  const body = fn.getBody();
  if (body) visit(body.compilerNode);
  return n;
}

const copiesByContext = new WeakMap<CompilerContext, Map<Node, Map<Node, number>>>();

/**
 * How many copies of each module function inlining everything would put in
 * the code reached from `root` (a program's body or a function): a call in a
 * function called twice counts twice.
 */
export function inlinedCopies(cx: CompilerContext, root: Node): Map<Node, number> {
  let memo = copiesByContext.get(cx);
  if (!memo) copiesByContext.set(cx, (memo = new Map()));
  const visit = (node: Node, active: Set<Node>): Map<Node, number> => {
    const known = memo!.get(node);
    if (known) return known;
    const counts = new Map<Node, number>();
    const add = (d: Node, n: number) => counts.set(d, (counts.get(d) ?? 0) + n);
    node.forEachDescendant((n) => {
      if (!Node.isCallExpression(n)) return;
      const callee = n.getExpression();
      if (!Node.isIdentifier(callee)) return;
      const d = cx.declarationOf(callee);
      const fn = d && Node.isVariableDeclaration(d) ? d.getInitializer() : d;
      if (!d || !fn || !(Node.isFunctionDeclaration(fn) || Node.isArrowFunction(fn) || Node.isFunctionExpression(fn))) return;
      add(d, 1);
      // Recursion is TSBPF_RECURSION elsewhere: here it only must not loop.
      if (active.has(fn)) return;
      active.add(fn);
      for (const [inner, k] of visit(fn, active)) add(inner, k);
      active.delete(fn);
    });
    memo!.set(node, counts);
    return counts;
  };
  return visit(root, new Set([root]));
}
