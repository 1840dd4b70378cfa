/**
 * Lowering of one program body to IR. One visitor per syntax kind (tables
 * `statementVisitors` and `expressionVisitors`); anything without a visitor
 * is a coded diagnostic. Module functions are inlined at their call sites.
 */
import { type Block, type CallExpression, type Expression, Node, type SourceFile, ts } from 'ts-morph';
import type { SourceSpan } from '../../asm/instruction.js';
import { type CompilerContext, lineAndColumn, sourceLine } from './context.js';
import { helperName } from '../../asm/helpers.js';
import { type CType, I32, I64, INT_TYPES, type IntType, intRange, sizeOf, SPIN_LOCK, spinLocks, STACK_LIMIT, type StructType, typeName, U32, U64 } from './ctypes.js';
import { Abandon, type DslDiagnostic } from './diagnostics.js';
import { type AluName, type CmpName, imm, type IrFunction, type Op, type Operand, reg, type SpannedOp, type StackSlot, uses, type VReg } from './ir.js';
import { callSubprogram, type FunctionNode, planCall, type SubprogramPlan, SubprogramTable } from './subprograms.js';
import { type GlobalInfo, globalIntType, isProgramFactory, type MapInfo, type ModuleModel, type ProgramInfo } from './module-model.js';
import { BTF_KINDS } from './program-kinds.js';
import type { TracepointField } from './tracepoint-format.js';
import { describeKType, kernelTypes } from './kernel-types.js';
import { ctxMethod } from './lower-context.js';
import { isKernelPointer, readKernel } from './lower-kernel.js';
import { helperCall } from './lower-helpers.js';
import { Lifetimes } from './lifetimes.js';
import { mapMethod } from './lower-maps.js';
import { atomicCall } from './lower-atomics.js';
import { cstrMethod } from './lower-strings.js';
import { packetMethod } from './lower-packet.js';
import type { Place, Space, Value } from './values.js';
import { isSocket, socketField } from './lower-sock.js';

/** A name's binding: an integer local (`nullFlag`: a nullable one, see Value), or a value fixed when it was bound. */
type Binding = { k: 'var'; reg: VReg; t: IntType; nullFlag?: VReg } | { k: 'value'; value: Value };

interface Frame {
  /** `subprogram`: a bpf-to-bpf callee, whose `return` is the machine's. */
  kind: 'program' | 'inline' | 'subprogram';
  decl: Node;
  end: string;
  result?: VReg;
  resultType?: IntType;
  resultPtr?: { to: CType; space: Space; refs: number[] };
  /** For a function whose TypeScript type returns `number | null`: 0 when the integer result is null. */
  resultNull?: VReg;
  /** A helper's callback frame (results 0 or 1). */
  callback?: boolean;
}

export interface LoopTarget {
  breakLabel: string;
  continueLabel?: string;
}

const SK = ts.SyntaxKind;

/** Loops of at most this many iterations are unrolled. */
export const UNROLL_LIMIT = 8;
/** …and loops of at most this many whose body is one assignment with no calls or struct/array literals (a copy of an array, byte by byte), as clang unrolls them fully. */
export const SMALL_BODY_UNROLL_LIMIT = 32;

/** Whether a loop of `trips` iterations around `body` is unrolled. */
export function unrolls(trips: bigint, body: Node): boolean {
  if (trips <= BigInt(UNROLL_LIMIT)) return true;
  if (trips > BigInt(SMALL_BODY_UNROLL_LIMIT)) return false;
  const statement = Node.isBlock(body) && body.getStatements().length === 1 ? body.getStatements()[0]! : body;
  if (!Node.isExpressionStatement(statement)) return false;
  const e = statement.getExpression();
  // No calls and no literals of structs or arrays: each copy of the body needs no stack of its own.
  const grows = [SK.CallExpression, SK.ObjectLiteralExpression, SK.ArrayLiteralExpression].some((k) => e.getDescendantsOfKind(k).length > 0);
  return Node.isBinaryExpression(e) && e.getOperatorToken().getKind() === SK.EqualsToken && !grows;
}

const intType = (bits: 32 | 64, signed: boolean): IntType => (bits === 64 ? (signed ? I64 : U64) : signed ? I32 : U32);

/** The type a bare literal gets before it meets a typed operand. */
function literalType(v: bigint): IntType {
  if (v >= -(1n << 31n) && v < 1n << 31n) return I32;
  if (v >= -(1n << 63n) && v < 1n << 63n) return I64;
  return U64;
}

/** The type an operand takes part in arithmetic with: an untyped literal is typed by its value. */
const operandType = (v: Extract<Value, { k: 'int' }>): IntType => (v.literal && v.op.kind === 'imm' ? literalType(v.op.value) : v.t);

/** Integer promotion: types narrower than 32 bits (bool, u8, i8, u16, i16, be16) become i32. */
function promote(t: IntType): IntType {
  return t.bits < 32 ? I32 : intType(t.bits as 32 | 64, t.signed);
}

/** C's usual arithmetic conversions after promotion (docs/language.md, Integers). */
function commonOf(x: IntType, y: IntType): IntType {
  const a = promote(x);
  const b = promote(y);
  if (a.signed === b.signed) return intType(a.bits === 64 || b.bits === 64 ? 64 : 32, a.signed);
  const [u, s] = a.signed ? [b, a] : [a, b];
  return u.bits >= s.bits ? u : s;
}

/** Wraps a constant to what a register of type t would hold (mathematical value). */
function wrapTo(v: bigint, t: IntType): bigint {
  return t.signed ? BigInt.asIntN(t.bits, v) : BigInt.asUintN(t.bits, v);
}

/** The verifier refuses loads, stores and helper reads that touch a map value's bpf_spin_lock, so such a value is not copied whole. */
function lockedCopy(l: FunctionLowering, node: Node): never {
  return l.fail(node, 'TSBPF_LOCK', 'this copies a map value that holds a SpinLock, which the verifier refuses: copy its other fields one by one');
}

export class FunctionLowering {
  readonly ops: SpannedOp[] = [];
  readonly slots: StackSlot[] = [];
  #vregs = 0;
  #labels = 0;
  #span: SourceSpan | undefined;
  readonly #bindings = new Map<Node, Binding>();
  readonly #frames: Frame[] = [];
  readonly #loops: LoopTarget[] = [];
  /** The tracepoint's fields, parsed on first use. */
  tracepointFields: Map<string, TracepointField> | undefined;

  constructor(
    readonly cx: CompilerContext,
    readonly model: ModuleModel,
    readonly program: ProgramInfo,
    /** The program's subprograms (shared with the lowerings of its subprograms). */
    readonly subprograms: SubprogramTable = new SubprogramTable(),
    /** Functions being lowered around this lowering (a subprogram's callers), for recursion and depth. */
    outer: Node[] = [],
  ) {
    this.#inlining = [...outer];
  }

  // ------------------------------------------------------------ plumbing

  newReg(): VReg {
    return this.#vregs++;
  }

  newLabel(hint = 'L'): string {
    return `${hint}${this.#labels++}`;
  }

  emit(op: Op): void {
    this.ops.push(this.#span ? { ...op, span: this.#span } : op);
  }

  label(l: string): void {
    this.emit({ op: 'label', label: l });
  }

  /** The operation emitted last (an anchor for emitBefore). */
  lastOp(): SpannedOp {
    return this.ops[this.ops.length - 1]!;
  }

  /** Emits what `body` emits just before `anchor` instead of at the end (code for a branch lowered earlier). */
  emitBefore(anchor: SpannedOp, body: () => void): void {
    const from = this.ops.length;
    body();
    const moved = this.ops.splice(from);
    this.ops.splice(this.ops.indexOf(anchor), 0, ...moved);
  }

  /** A stack slot for `node`; one larger than the whole stack is reported there (and abandons the construct). */
  slot(size: number, node: Node, align = 8): number {
    if (size > STACK_LIMIT) this.fail(node, 'TSBPF_STACK', `this needs ${size} bytes of stack; a BPF program has ${STACK_LIMIT} (keep large values in a map or a ring-buffer event)`);
    this.slots.push({ size: Math.ceil(size / 8) * 8, align });
    return this.slots.length - 1;
  }

  /** Sets the span later operations carry. */
  at(node: Node): void {
    const sf = node.getSourceFile();
    const { line, column } = lineAndColumn(sf, node.getStart());
    const text = sourceLine(sf, line) ?? '';
    this.#span = { file: sf.getFilePath(), line, column, text };
  }

  fail(node: Node, code: string, message: string): never {
    return this.cx.fail(node, code, message);
  }

  #incomplete = false;

  /** Abandons a use of a name whose declaration already has its diagnostic: one mistake, one diagnostic. */
  followOn(): never {
    this.#incomplete = true;
    throw new Abandon('follow-on of an earlier diagnostic');
  }

  /** Marks a declaration as failed (its diagnostic given), unless it is only being tried as a module constant. */
  markFailed(decl: Node): void {
    if (this.#foldingConstants.size === 0) this.cx.failedDeclarations.add(decl);
  }

  // ------------------------------------------------------------ entry

  lower(): IrFunction {
    const body = this.program.body;
    if (!(Node.isArrowFunction(body) || Node.isFunctionExpression(body))) throw new Error('program body');
    this.at(body);
    const params = body.getParameters();
    const btfTyped = BTF_KINDS.has(this.program.kind);
    if (params.length > 1 && !btfTyped) this.cx.report(params[1]!, 'TSBPF_PARAMS', 'a program takes one parameter, its context');
    const ctxReg = this.newReg();
    this.emit({ op: 'mov', dst: ctxReg, src: { kind: 'reg', reg: -1 }, bits: 64 });
    const ctxParam = btfTyped ? undefined : params[0];
    // BTF-typed kinds: parameter i is the hook's argument i, a u64 slot of the context.
    if (btfTyped) params.forEach((p, i) => this.#btfArgument(p, i, ctxReg));
    if (ctxParam) {
      if (!Node.isIdentifier(ctxParam.getNameNode())) this.cx.report(ctxParam, 'TSBPF_DESTRUCTURE', 'destructuring the context is not supported; name it (ctx) and use ctx.field');
      this.#bindings.set(ctxParam, { k: 'value', value: { k: 'ctx' } });
    }
    this.ctxReg = ctxReg;
    const end = this.newLabel('exit');
    this.#frames.push({ kind: 'program', decl: body, end });
    this.#lowerFunctionBody(body.getBody());
    // Falling off the end of a program returns 0.
    this.emit({ op: 'ret', value: imm(0) });
    this.label(end);
    // A construct abandoned because of a diagnostic given elsewhere (another program) leaves the IR incomplete.
    if (this.#incomplete) throw new Abandon('incomplete after an earlier diagnostic');
    return { name: this.program.name, ops: this.ops, slots: this.slots, vregCount: this.#vregs, packetPointers: this.packetPointers };
  }

  /**
   * Lowers a module function as a subprogram: its register parameters
   * arrive in r1… in order, the context (when the body uses it) in the
   * register after them; integer results are returned in r0.
   */
  lowerSubprogram(plan: SubprogramPlan): IrFunction {
    const fn = plan.fn;
    this.at(fn);
    const params = fn.getParameters();
    const entry: Array<{ dst: VReg; from: number }> = [];
    const regs = plan.params.map((sp) => {
      if (sp.kind === 'ctx') return -1;
      const r = this.newReg();
      entry.push({ dst: r, from: sp.arg + 1 });
      return r;
    });
    const ctxArg = plan.params.filter((p) => p.kind !== 'ctx').length;
    const ctxReg = this.newReg();
    this.ctxReg = ctxReg;
    for (const e of entry) this.emit({ op: 'mov', dst: e.dst, src: { kind: 'reg', reg: -e.from }, bits: 64 });
    this.emit({ op: 'mov', dst: ctxReg, src: { kind: 'reg', reg: -(ctxArg + 1) }, bits: 64 });
    // References passed in are references here too (made at the entry), so what the body releases ends them.
    plan.params.forEach((sp, i) => {
      const p = params[i]!;
      if (sp.kind === 'ctx') this.#bindings.set(p, { k: 'value', value: { k: 'ctx' } });
      else if (sp.kind === 'int' && sp.load) {
        // A pointer to the integer (forEachElem's key or value): the parameter is its value at the entry.
        const r = this.newReg();
        this.emit({ op: 'mov', dst: r, src: this.load(regs[i]!, 0, sp.t).op, bits: 64 });
        this.#bindings.set(p, { k: 'var', reg: r, t: sp.t });
      } else if (sp.kind === 'int') this.#bindings.set(p, { k: 'var', reg: regs[i]!, t: sp.t });
      else {
        const refs = sp.origins.map((o) => this.lifetimes.acquire(o));
        this.#bindings.set(p, { k: 'value', value: { k: 'ptr', reg: regs[i]!, to: sp.to, space: sp.space, ...withRefs(refs) } });
      }
    });
    const frame: Frame = { kind: 'subprogram', decl: plan.decl, end: this.newLabel('exit'), ...(plan.callback ? { callback: true } : {}) };
    const rt = fn.getReturnTypeNode();
    if (rt && rt.getKind() !== SK.VoidKeyword && !plan.callback) {
      const t = this.#tryCtype(rt);
      if (t?.kind === 'int') frame.resultType = t;
    }
    this.#inlining.push(fn);
    this.#frames.push(frame);
    this.#lowerFunctionBody(fn.getBody());
    this.#frames.pop();
    this.#inlining.pop();
    this.emit({ op: 'ret', value: imm(0) });
    if (this.#incomplete) throw new Abandon('incomplete after an earlier diagnostic');
    const ops = this.ops;
    const ctxUsed = ops.some((op, i) => i !== entry.length && uses(op).includes(ctxReg));
    // The context costs an argument register only when the body reads it.
    if (!ctxUsed) ops.splice(entry.length, 1);
    else if (plan.callback) this.fail(plan.node, 'TSBPF_HELPER_ARG', `a ${plan.callback} callback has no program context (the kernel passes it only ${plan.callback === 'bpf.loop' ? 'the index' : 'the key, the value'} and its ctx): read what it needs from the context before the call, into the callback's ctx`);
    else if (ctxArg >= 5) this.fail(plan.node, 'TSBPF_NOINLINE', `${plan.name} takes ${ctxArg} arguments and the context: a BPF function takes at most 5`);
    plan.usesCtx = ctxUsed;
    if (frame.resultType) plan.result = frame.resultType;
    // As the kernel declares a callback: long (*)(u32 index, void *ctx), long (*)(map, key, value, ctx).
    if (plan.callback) plan.result = I64;
    return { name: plan.name, ops, slots: this.slots, vregCount: this.#vregs };
  }

  /** Where references are made, used and released (checked after lowering). */
  readonly lifetimes = new Lifetimes((label) => this.label(label));

  #btfArgument(p: import('ts-morph').ParameterDeclaration, i: number, ctxReg: VReg): void {
    if (!Node.isIdentifier(p.getNameNode())) this.fail(p, 'TSBPF_DESTRUCTURE', 'destructuring arguments is not supported');
    const typeNode = p.getTypeNode();
    if (!typeNode) this.fail(p, 'TSBPF_BTF_ARG', `annotate ${p.getName()} with the argument's type (an integer type or Ptr<T>), as the kernel's BTF declares it`);
    const declared = this.cx.ctypeOf(typeNode);
    // A pointer argument is a BTF pointer: its fields are loaded directly.
    const t = declared.kind === 'int' && declared.pointee !== undefined ? kernelTypes(this.cx).pointerType(declared.pointee ?? undefined, true) : declared;
    if (t.kind !== 'int') this.fail(typeNode, 'TSBPF_BTF_ARG', 'arguments are integers or kernel pointers (Ptr<T>); a struct argument is reached through a Ptr');
    if (i >= 12) this.fail(p, 'TSBPF_BTF_ARG', 'BPF trampolines pass at most 12 arguments');
    const raw = this.load(ctxReg, i * 8, U64);
    const v = this.convert(raw, { ...t, pointee: undefined }, p);
    const r = this.newReg();
    this.emit({ op: 'mov', dst: r, src: v.op, bits: 64 });
    this.#bindings.set(p, { k: 'var', reg: r, t });
  }

  /** The context (r1 at entry). */
  ctxReg: VReg = -1;
  /** Frames of BPF functions down to this one (1: the program's own). */
  frameDepth = 1;
  /** Whether a helper (or a subprogram) called here may move packet data. */
  movesPacket = false;
  /** ctx->data / ctx->data_end registers, once loaded (see packetBounds). */
  packetBoundsCache: { data: VReg; end: VReg } | undefined;
  /** ctx.sk, once loaded (see packetSocket). */
  socketCache: VReg | undefined;
  /** See IrFunction.packetPointers. */
  readonly packetPointers = new Set<VReg>();

  #lowerFunctionBody(body: Node | undefined): void {
    if (!body) return;
    if (Node.isBlock(body)) this.block(body);
    else this.#return(body as Expression, body);
  }

  // ------------------------------------------------------------ statements

  block(b: Block): void {
    for (const s of b.getStatements()) this.statement(s);
  }

  statement(node: Node): void {
    this.at(node);
    const visit = statementVisitors[node.getKind()];
    try {
      if (!visit) this.fail(node, unsupportedCode(node), `${describeKind(node)} is not supported in BPF programs`);
      visit(this, node);
    } catch (e) {
      if (!(e instanceof Abandon)) throw e;
    }
  }

  #return(expr: Expression | undefined, node: Node): void {
    const frame = this.#frames[this.#frames.length - 1]!;
    if (frame.kind === 'subprogram') {
      if (!expr) {
        this.emit({ op: 'ret', value: imm(0) });
        return;
      }
      const iv = this.intOf(this.taken(this.expr(expr), expr), expr);
      if (frame.callback) {
        // The verifier wants a callback's r0 in [0, 1]: any value but 0 stops the loop, as bpf_loop reads it.
        if (iv.op.kind === 'imm') return this.emit({ op: 'ret', value: imm(iv.op.value === 0n ? 0 : 1) });
        const r = this.newReg();
        const zero = this.newLabel('stay');
        this.emit({ op: 'mov', dst: r, src: imm(0), bits: 64 });
        this.emit({ op: 'br', cmp: 'eq', bits: iv.t.bits === 64 ? 64 : 32, a: iv.op.reg, b: imm(0), target: zero });
        this.emit({ op: 'mov', dst: r, src: imm(1), bits: 64 });
        this.label(zero);
        this.emit({ op: 'ret', value: reg(r) });
        return;
      }
      frame.resultType ??= iv.literal ? literalType(iv.op.kind === 'imm' ? iv.op.value : 0n) : iv.t;
      const r = this.newReg();
      this.#assignReg(r, this.convert(iv, frame.resultType, expr));
      this.emit({ op: 'ret', value: reg(r) });
      return;
    }
    if (frame.kind === 'program') {
      if (!expr) {
        this.emit({ op: 'ret', value: imm(0) });
        return;
      }
      const v = this.int(expr);
      this.emit({ op: 'ret', value: this.convert(v, intType(v.t.bits === 64 ? 64 : 32, v.t.signed), expr).op });
      return;
    }
    if (expr) {
      const v = this.taken(this.expr(expr), expr);
      if (v.k === 'null' && frame.resultNull !== undefined) {
        // null from a function that returns integers or null: a nullable integer.
        frame.result ??= this.newReg();
        this.emit({ op: 'mov', dst: frame.result, src: imm(0), bits: 64 });
        this.emit({ op: 'mov', dst: frame.resultNull, src: imm(0), bits: 64 });
      } else if (v.k === 'ptr' || v.k === 'null') {
        if (frame.resultType) this.fail(node, 'TSBPF_RETURN', 'a function returns either integers or references, not both');
        if (v.k === 'ptr') {
          frame.resultPtr ??= { to: v.to, space: v.space, refs: [] };
          frame.resultPtr.refs = unionRefs(frame.resultPtr.refs, v.refs);
        }
        frame.result ??= this.newReg();
        const m = v.k === 'ptr' ? this.materializeRef(v) : undefined;
        this.emit({ op: 'mov', dst: frame.result, src: m ? reg(m.reg) : imm(0), bits: 64 });
      } else {
        const iv = this.intOf(v, expr);
        if (frame.resultPtr) this.fail(node, 'TSBPF_RETURN', 'a function returns either integers or references, not both');
        frame.resultType ??= iv.literal ? literalType(iv.op.kind === 'imm' ? iv.op.value : 0n) : iv.t;
        frame.result ??= this.newReg();
        this.#assignReg(frame.result, this.convert(iv, frame.resultType, expr));
        if (frame.resultNull !== undefined) this.emit({ op: 'mov', dst: frame.resultNull, src: iv.orNull !== undefined ? reg(iv.orNull) : imm(1), bits: 64 });
      }
    }
    this.emit({ op: 'jmp', target: frame.end });
  }

  // ------------------------------------------------------------ expressions

  /**
   * A value as it leaves the expression that produced it, to be kept: bound
   * to a name, passed to a function, returned, or held while other operands
   * run. An integer field of a header, map value, event or struct is read
   * now (a number is a value, taken when the line runs); references stay references.
   */
  taken(v: Value, node: Node): Value {
    if (v.k === 'ptr' && v.to.kind === 'int') return this.intOf(v, node);
    // Kernel integer and pointer fields too (a read through CO-RE).
    if (v.k === 'kernel' && (v.type.kind === 'int' || v.type.kind === 'ptr')) return readKernel(this, v, node);
    return v;
  }

  expr(node: Node): Value {
    const saved = this.#span;
    this.at(node);
    try {
      const visit = expressionVisitors[node.getKind()];
      if (!visit) return this.fail(node, unsupportedCode(node), `${describeKind(node)} is not supported in BPF programs`);
      return visit(this, node);
    } finally {
      this.#span = saved;
    }
  }

  /** An expression that must be an integer. */
  int(node: Node): Extract<Value, { k: 'int' }> {
    return this.intOf(this.expr(node), node);
  }

  intOf(v: Value, node: Node): Extract<Value, { k: 'int' }> {
    if (v.k === 'int') return v;
    if (v.k === 'ptr' && v.to.kind === 'int') return v.nullIf ? this.readPlace({ k: 'mem', base: v.reg, off: 0, t: v.to, guard: v.nullIf }) : this.load(v.reg, 0, v.to);
    if (v.k === 'global' && v.global.type.kind === 'int') return this.readPlace({ k: 'global', global: v.global });
    if (v.k === 'kernel') return readKernel(this, v, node);
    return this.fail(node, 'TSBPF_NOT_INTEGER', `expected an integer here, got ${describeValue(v)}`);
  }

  /** Puts an integer in a register (constants are materialised). */
  toReg(v: Extract<Value, { k: 'int' }>): VReg {
    if (v.op.kind === 'reg') return v.op.reg;
    const r = this.newReg();
    this.emit({ op: 'mov', dst: r, src: imm(wrapTo(v.op.value, v.t)), bits: v.t.bits === 64 ? 64 : 32 });
    return r;
  }

  #assignReg(dst: VReg, v: Extract<Value, { k: 'int' }>): void {
    this.emit({ op: 'mov', dst, src: v.op.kind === 'imm' ? imm(wrapTo(v.op.value, v.t)) : v.op, bits: v.t.bits === 64 || v.op.kind === 'reg' ? 64 : 32 });
  }

  /** Loads an integer of type t from memory, with C sign extension. */
  load(base: VReg, off: number, t: CType): Extract<Value, { k: 'int' }> {
    if (t.kind !== 'int') throw new Error('load of non-integer');
    const dst = this.newReg();
    this.emit({ op: 'load', dst, base, off, size: (t.bits / 8) as 1 | 2 | 4 | 8 });
    if (t.signed && t.bits < 32) {
      this.emit({ op: 'alu', alu: 'lsh', bits: 32, dst, a: reg(dst), b: imm(32 - t.bits) });
      this.emit({ op: 'alu', alu: 'arsh', bits: 32, dst, a: reg(dst), b: imm(32 - t.bits) });
    }
    return { k: 'int', op: reg(dst), t };
  }

  /**
   * The address of element `index` of an array of `length` elements of `size` bytes at `base`, for a run-time
   * index: clamped so the verifier sees a bounded offset; an index out of range addresses element 0.
   */
  clampedElementAddress(base: VReg, index: Extract<Value, { k: 'int' }>, length: number, size: number, node: Node): VReg {
    const idx = this.toReg(this.convert(index, U64, node));
    const safe = this.newReg();
    const ok = this.newLabel('idx');
    this.emit({ op: 'mov', dst: safe, src: imm(0), bits: 64 });
    this.emit({ op: 'br', cmp: 'ge', bits: 64, a: idx, b: imm(length), target: ok });
    this.emit({ op: 'mov', dst: safe, src: reg(idx), bits: 64 });
    this.label(ok);
    if (size > 1) this.emit({ op: 'alu', alu: 'mul', bits: 64, dst: safe, a: reg(safe), b: imm(size) });
    const p = this.newReg();
    this.emit({ op: 'alu', alu: 'add', bits: 64, dst: p, a: reg(base), b: reg(safe) });
    return p;
  }

  /** Converts between integer types with C semantics (truncation, sign or zero extension). */
  convert(v: Extract<Value, { k: 'int' }>, to: IntType, _node: Node): Extract<Value, { k: 'int' }> {
    if (v.op.kind === 'imm') return { k: 'int', op: imm(wrapTo(v.op.value, to)), t: to, ...(v.folded ? { folded: true } : {}) };
    const from = v.t;
    const src = v.op.reg;
    // Registers hold values below 64 bits as 32-bit patterns (small signed types sign-extended to 32).
    const same = from.bits === to.bits && (from.signed === to.signed || to.bits >= 32);
    if (same || (from.bits < to.bits && to.bits === 32) || (from.bits < to.bits && !from.signed && to.bits < 32)) return { k: 'int', op: v.op, t: to };
    const dst = this.newReg();
    if (to.bits === 64) {
      if (from.signed) {
        this.emit({ op: 'alu', alu: 'lsh', bits: 64, dst, a: reg(src), b: imm(32) });
        this.emit({ op: 'alu', alu: 'arsh', bits: 64, dst, a: reg(dst), b: imm(32) });
      } else {
        return { k: 'int', op: v.op, t: to };
      }
    } else if (to.bits === 32) {
      this.emit({ op: 'mov', dst, src: reg(src), bits: 32 });
    } else if (to.signed) {
      this.emit({ op: 'alu', alu: 'lsh', bits: 32, dst, a: reg(src), b: imm(32 - to.bits) });
      this.emit({ op: 'alu', alu: 'arsh', bits: 32, dst, a: reg(dst), b: imm(32 - to.bits) });
    } else {
      this.emit({ op: 'alu', alu: 'and', bits: 32, dst, a: reg(src), b: imm(to.bits === 8 ? 0xff : 0xffff) });
    }
    return { k: 'int', op: reg(dst), t: to };
  }

  /** Converts for an assignment to a declared type: literals are range-checked, narrowing must be explicit. */
  coerce(v: Extract<Value, { k: 'int' }>, to: IntType, node: Node): Extract<Value, { k: 'int' }> {
    if (v.op.kind === 'imm' && v.literal) {
      const [lo, hi] = intRange(to);
      const val = v.op.value;
      if (val < lo || val > hi) this.fail(node, 'TSBPF_LITERAL_RANGE', `${val} does not fit in ${to.name} (${lo}…${hi})`);
      return { k: 'int', op: v.op, t: to };
    }
    if (v.op.kind === 'reg' && v.t.bits > to.bits) {
      this.fail(node, 'TSBPF_NARROWING', `${v.t.name} does not fit in ${to.name}; truncate explicitly with ${to.name}(…)`);
    }
    return this.convert(v, to, node);
  }

  /** The common type of a binary operation: C's usual arithmetic conversions, after integer promotion. */
  commonType(a: Extract<Value, { k: 'int' }>, b: Extract<Value, { k: 'int' }>): IntType {
    return commonOf(operandType(a), operandType(b));
  }

  arith(alu: AluName, a: Extract<Value, { k: 'int' }>, b: Extract<Value, { k: 'int' }>, node: Node): Extract<Value, { k: 'int' }> {
    if (alu === 'lsh' || alu === 'rsh') return this.shift(alu, a, b, node);
    const t = this.commonType(a, b);
    const literal = Boolean(a.literal && b.literal);
    const folded = a.folded || b.folded ? { folded: true as const } : {};
    if ((alu === 'div' || alu === 'mod') && b.op.kind === 'imm' && b.op.value === 0n) {
      // A compile-time constant 0 divisor is an error; one the compiler folded (a loop variable) divides as eBPF does.
      if (!b.folded) this.fail(node, 'TSBPF_DIV_ZERO', 'division by zero');
      return alu === 'div' ? { k: 'int', op: imm(0), t, ...folded } : { ...this.convert(a, t, node), ...(a.op.kind === 'imm' ? folded : {}) };
    }
    if (a.op.kind === 'imm' && b.op.kind === 'imm') {
      const v = foldAlu(alu, wrapTo(a.op.value, literal ? literalType(a.op.value) : t), wrapTo(b.op.value, literal ? literalType(b.op.value) : t), t)!;
      return { k: 'int', op: imm(literal ? v : wrapTo(v, t)), t: literal ? literalType(v) : t, ...(literal ? { literal } : {}), ...folded };
    }
    const ca = this.convert(a, t, node);
    const cb = this.convert(b, t, node);
    let op = alu;
    if (t.signed && alu === 'div') op = 'sdiv';
    if (t.signed && alu === 'mod') op = 'smod';
    const dst = this.newReg();
    this.emit({ op: 'alu', alu: op, bits: t.bits === 64 ? 64 : 32, dst, a: ca.op.kind === 'imm' ? reg(this.toReg(ca)) : ca.op, b: cb.op });
    return { k: 'int', op: reg(dst), t };
  }

  /**
   * `<<`, `>>` (arithmetic for signed types) and `>>>` ('ursh': logical, on
   * the promoted left operand reinterpreted as unsigned). The result has the
   * promoted type of the left operand (unsigned for `>>>`); the amount's type
   * does not matter and it is taken modulo the width, as eBPF does.
   */
  shift(kind: 'lsh' | 'rsh' | 'ursh', a: Extract<Value, { k: 'int' }>, b: Extract<Value, { k: 'int' }>, node: Node): Extract<Value, { k: 'int' }> {
    const lt = promote(operandType(a));
    const t = kind === 'ursh' ? intType(lt.bits as 32 | 64, false) : lt;
    const width = BigInt(lt.bits);
    let amount = b.op;
    if (b.op.kind === 'imm') {
      if (!b.folded && (b.op.value < 0n || b.op.value >= width)) {
        this.fail(node, 'TSBPF_SHIFT_RANGE', `shift by ${b.op.value} is outside 0…${width - 1n} for a ${lt.bits}-bit ${lt.name}`);
      }
      amount = imm(BigInt.asUintN(64, b.op.value) % width);
    }
    if (a.op.kind === 'imm' && amount.kind === 'imm') {
      const n = amount.value;
      const av = wrapTo(a.op.value, lt);
      const v = kind === 'lsh' ? wrapTo(av << n, lt) : kind === 'rsh' ? av >> n : BigInt.asUintN(lt.bits, av) >> n;
      const literal = Boolean(a.literal && b.literal);
      return { k: 'int', op: imm(v), t: literal ? literalType(v) : t, ...(literal ? { literal } : {}), ...(a.folded || b.folded ? { folded: true } : {}) };
    }
    const ca = this.convert(a, lt, node);
    const op: AluName = kind === 'lsh' ? 'lsh' : kind === 'rsh' && lt.signed ? 'arsh' : 'rsh';
    const dst = this.newReg();
    this.emit({ op: 'alu', alu: op, bits: lt.bits === 64 ? 64 : 32, dst, a: ca.op.kind === 'imm' ? reg(this.toReg(ca)) : ca.op, b: amount });
    return { k: 'int', op: reg(dst), t };
  }

  // ------------------------------------------------------------ conditions

  /** Jumps to `target` when the condition's truth equals `when`; falls through otherwise. */
  branch(node: Node, target: string, when: boolean): void {
    if (Node.isParenthesizedExpression(node)) return this.branch(node.getExpression(), target, when);
    if (Node.isPrefixUnaryExpression(node) && node.getOperatorToken() === SK.ExclamationToken) return this.branch(node.getOperand(), target, !when);
    if (Node.isBinaryExpression(node)) {
      const k = node.getOperatorToken().getKind();
      if (k === SK.AmpersandAmpersandToken || k === SK.BarBarToken) {
        const isAnd = k === SK.AmpersandAmpersandToken;
        if (isAnd !== when) {
          // (a && b) false: either false; (a || b) true: either true.
          this.branch(node.getLeft(), target, when);
          this.branch(node.getRight(), target, when);
        } else {
          const skip = this.newLabel();
          this.branch(node.getLeft(), skip, !when);
          this.branch(node.getRight(), target, when);
          this.label(skip);
        }
        return;
      }
      const cmp = COMPARISONS[k];
      if (cmp) return this.#compareBranch(node, cmp, target, when);
    }
    // An integer field tested for truth is its value (`if (ev.flag)`), not its reference.
    const v = this.taken(this.expr(node), node);
    this.at(node);
    if (v.k === 'null') {
      if (!when) this.emit({ op: 'jmp', target });
      return;
    }
    if (v.k === 'ptr') {
      if (v.nullIf) this.emit({ op: 'br', cmp: when ? 'le' : 'gt', bits: 64, a: v.nullIf.a, b: reg(v.nullIf.b), target });
      else this.emit({ op: 'br', cmp: when ? 'ne' : 'eq', bits: 64, a: v.reg, b: imm(0), target });
      return;
    }
    const iv = this.intOf(v, node);
    if (iv.op.kind === 'imm') {
      if ((iv.op.value !== 0n) === when) this.emit({ op: 'jmp', target });
      return;
    }
    this.emit({ op: 'br', cmp: when ? 'ne' : 'eq', bits: iv.t.bits === 64 ? 64 : 32, a: iv.op.reg, b: imm(0), target });
  }

  /** `ntohs(x) === C` is `x === htons(C)`: compare in network order, no swap at run time. */
  #networkOrderOperand(n: Node, other: Node): { inner: Node; bits: 16 | 32 } | undefined {
    if (!Node.isCallExpression(n) || this.cx.constantOf(other) === undefined) return undefined;
    const name = this.cx.dslRef(n.getExpression())?.name;
    const inner = n.getArguments()[0];
    if (!inner || (name !== 'ntohs' && name !== 'ntohl')) return undefined;
    return { inner, bits: name === 'ntohs' ? 16 : 32 };
  }

  #compareBranch(node: Node & { getLeft(): Node; getRight(): Node }, cmp: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge', target: string, when: boolean): void {
    if (cmp === 'eq' || cmp === 'ne') {
      const [l, r] = [node.getLeft(), node.getRight()];
      const swapped = this.#networkOrderOperand(l, r) ?? this.#networkOrderOperand(r, l);
      if (swapped) {
        const constNode = swapped.inner.getParent() === l ? r : l;
        const c = BigInt.asUintN(swapped.bits, this.cx.constantOf(constNode)!);
        const raw = this.convert(this.int(swapped.inner), swapped.bits === 16 ? INT_TYPES.u16! : U32, node);
        const inRange = this.cx.constantOf(constNode)! === c;
        const effective = when ? cmp : NEGATE[cmp];
        this.at(node);
        if (!inRange) {
          // ntohs(x) is never outside 0…65535
          if (effective === 'ne') this.emit({ op: 'jmp', target });
          return;
        }
        this.emit({ op: 'br', cmp: effective, bits: 32, a: this.toReg(raw), b: imm(swapBytes(c, swapped.bits)), target });
        return;
      }
    }
    // The left operand's value is taken before the right one runs (it may store to the same field).
    const left = this.taken(this.expr(node.getLeft()), node.getLeft());
    const right = this.expr(node.getRight());
    this.at(node);
    const effective = when ? cmp : NEGATE[cmp];
    // Pointer against null.
    if (left.k === 'null' || right.k === 'null') {
      const other = left.k === 'null' ? right : left;
      if (other.k === 'null') {
        if ((cmp === 'eq') === when) this.emit({ op: 'jmp', target });
        return;
      }
      const nullable = other.k === 'int' && other.orNull !== undefined ? other.orNull : undefined;
      const kernelPointer = isKernelPointer(other) || (other.k === 'kernel' && other.type.kind === 'ptr');
      if (other.k !== 'ptr' && nullable === undefined && !kernelPointer) this.fail(node, 'TSBPF_NULL_COMPARE', 'only references (lookup, reserve, packet.at results) and kernel pointers can be compared with null');
      if (kernelPointer && nullable === undefined) {
        if (effective !== 'eq' && effective !== 'ne') this.fail(node, 'TSBPF_NULL_COMPARE', 'compare pointers with === or !== null');
        this.emit({ op: 'br', cmp: effective, bits: 64, a: this.toReg(this.intOf(other, node)), b: imm(0), target });
        return;
      }
      if (effective !== 'eq' && effective !== 'ne') this.fail(node, 'TSBPF_NULL_COMPARE', 'compare references with === or !== null');
      if (nullable !== undefined) this.emit({ op: 'br', cmp: effective, bits: 64, a: nullable, b: imm(0), target });
      else if (other.k !== 'ptr') throw new Error('unreachable');
      else if (other.nullIf) this.emit({ op: 'br', cmp: effective === 'eq' ? 'gt' : 'le', bits: 64, a: other.nullIf.a, b: reg(other.nullIf.b), target });
      else this.emit({ op: 'br', cmp: effective, bits: 64, a: other.reg, b: imm(0), target });
      return;
    }
    const a = this.intOf(left, node.getLeft());
    const b = this.intOf(right, node.getRight());
    const t = this.commonType(a, b);
    if (a.op.kind === 'imm' && b.op.kind === 'imm') {
      if (evalCompare(effective, wrapTo(a.op.value, t), wrapTo(b.op.value, t))) this.emit({ op: 'jmp', target });
      return;
    }
    let ca = this.convert(a, t, node);
    let cb = this.convert(b, t, node);
    let c: string = effective;
    if (ca.op.kind === 'imm') {
      [ca, cb] = [cb, ca];
      c = MIRROR[effective];
    }
    const signedCmp = t.signed && c !== 'eq' && c !== 'ne' ? (`s${c}` as CmpName) : (c as CmpName);
    this.emit({ op: 'br', cmp: signedCmp, bits: t.bits === 64 ? 64 : 32, a: (ca.op as { reg: VReg }).reg, b: cb.op, target });
  }

  /**
   * A new register holding 0 when `guard.a > guard.b`, else `value()`, whose
   * code is emitted on the in-bounds path only.
   */
  #zeroUnless(guard: { a: VReg; b: VReg }, labelHint: string, value: () => Operand): VReg {
    const dst = this.newReg();
    const skip = this.newLabel(labelHint);
    this.emit({ op: 'mov', dst, src: imm(0), bits: 64 });
    this.emit({ op: 'br', cmp: 'gt', bits: 64, a: guard.a, b: reg(guard.b), target: skip });
    this.emit({ op: 'mov', dst, src: value(), bits: 64 });
    this.label(skip);
    return dst;
  }

  /** A reference as a register holding the pointer or 0 (for values that flow through merges). */
  materializeRef(v: Extract<Value, { k: 'ptr' }>): Extract<Value, { k: 'ptr' }> {
    if (!v.nullIf) return v;
    const dst = this.#zeroUnless(v.nullIf, 'pkt', () => reg(v.reg));
    return { k: 'ptr', reg: dst, to: v.to, space: v.space, ...withRefs(v.refs) };
  }

  /** A condition as a 0/1 value. */
  boolValue(node: Node): Extract<Value, { k: 'int' }> {
    const dst = this.newReg();
    const done = this.newLabel();
    this.emit({ op: 'mov', dst, src: imm(1), bits: 64 });
    this.branch(node, done, true);
    this.emit({ op: 'mov', dst, src: imm(0), bits: 64 });
    this.label(done);
    return { k: 'int', op: reg(dst), t: INT_TYPES.bool! };
  }

  // ------------------------------------------------------------ names and places

  bind(decl: Node, b: Binding): void {
    this.#bindings.set(decl, b);
  }

  identifier(node: Node): Value {
    const decl = this.cx.declarationOf(node);
    if (!decl) {
      if (node.getText() === 'undefined') return this.fail(node, 'TSBPF_UNDEFINED', 'undefined has no value in BPF programs; use null or 0');
      return this.fail(node, 'TSBPF_UNKNOWN_NAME', `cannot resolve '${node.getText()}'`);
    }
    const b = this.#bindings.get(decl);
    if (b?.k === 'value' && b.value.k === 'ptr') this.lifetimes.use(b.value.refs, node);
    if (b) return b.k === 'var' ? { k: 'int', op: reg(b.reg), t: b.t, ...(b.nullFlag !== undefined ? { orNull: b.nullFlag } : {}) } : b.value;
    if (this.cx.failedDeclarations.has(decl)) this.followOn();
    const lit = this.#literalTypeValue(node);
    if (lit) return lit;
    const factory = this.model.factoryOf(decl);
    if (factory?.name === 'header') {
      const target = factory.call.getTypeArguments()[0];
      if (!target) return this.fail(node, 'TSBPF_HEADER', 'header<T>() needs its interface as a type argument');
      return { k: 'header', struct: this.cx.ctypeOf(target) };
    }
    const dsl = this.cx.dslRef(node);
    if (dsl) return this.#dslValue(dsl.name, node);
    const map = this.model.mapOf(decl);
    if (map) return map.invalid ? this.followOn() : { k: 'map', map };
    const global = this.model.globalOf(decl);
    if (global) return global.invalid ? this.followOn() : { k: 'global', global };
    if (Node.isVariableDeclaration(decl)) {
      const list = decl.getVariableStatement();
      const isConst = list ? list.getDeclarationKind() === 'const' : (decl.getParent()?.getFlags() ?? 0) & ts.NodeFlags.Const;
      if (!isConst) {
        this.markFailed(decl);
        return this.fail(node, 'TSBPF_CLOSURE_MUTABLE', `'${node.getText()}' is mutable state outside the program; use global() for shared mutable values`);
      }
      const init = decl.getInitializer();
      // An alias of another module-level name (const count = counter).
      if (init && Node.isIdentifier(init) && !decl.getTypeNode()) return this.identifier(init);
      if (isProgramFactory(this.model.factoryOf(decl)?.name)) {
        this.markFailed(decl);
        return this.fail(node, 'TSBPF_PROGRAM_REF', 'programs cannot be used as values inside programs');
      }
      return this.#moduleConstant(decl, node);
    }
    if (Node.isFunctionDeclaration(decl)) return this.fail(node, 'TSBPF_FUNCTION_VALUE', 'functions can only be called, not used as values');
    if (Node.isParameterDeclaration(decl)) return this.fail(node, 'TSBPF_CLOSURE', `'${node.getText()}' belongs to an enclosing function; closures are not supported`);
    return this.fail(node, 'TSBPF_UNSUPPORTED', `'${node.getText()}' cannot be used in a BPF program`);
  }

  readonly #foldingConstants = new Set<Node>();

  /**
   * A module-level `const NAME = e`: `e` lowered as it would be in a
   * program, which must give a constant without code (`EthHdr.size + 10`,
   * `u64(0x9e37_79b9_7f4a_7c15n)`, arithmetic over other constants).
   */
  #moduleConstant(decl: import('ts-morph').VariableDeclaration, node: Node): Value {
    const init = decl.getInitializer();
    const r = init && !this.#foldingConstants.has(decl) ? this.#trial(decl, init) : { inner: undefined };
    if (r.constant) {
      const typeNode = decl.getTypeNode();
      const t = typeNode ? this.cx.ctypeOf(typeNode) : undefined;
      return t?.kind === 'int' ? { k: 'int', op: imm(wrapTo(r.constant.op.value, t)), t } : r.constant;
    }
    this.markFailed(decl);
    // A mistake inside a constant expression (1.5, 2 ** 3, 1 / 0) is the cause: it is reported where it is written.
    if (r.inner && !NOT_A_CONSTANT.has(r.inner.code)) {
      this.cx.diagnostics.push(r.inner);
      throw new Abandon(r.inner.message);
    }
    const why = r.value && r.value.k !== 'int' && r.value.k !== 'void' ? `: it is ${describeValue(r.value)}` : ': its value is only known when the module runs in Node';
    return this.fail(node, 'TSBPF_CLOSURE', `'${node.getText()}' is not a compile-time constant, map or global${why}`);
  }

  /** The value of an expression that is a constant (lowered without code), or undefined; nothing is emitted or reported either way. */
  tryConstant(node: Node): (Extract<Value, { k: 'int' }> & { op: { kind: 'imm' } }) | undefined {
    return this.#trial(node, node).constant;
  }

  /** Lowers `e` on trial: the code and diagnostics it gives are taken back; a constant result is kept. */
  #trial(key: Node, e: Node): { constant?: Extract<Value, { k: 'int' }> & { op: { kind: 'imm' } }; value?: Value; inner: DslDiagnostic | undefined } {
    // Everything a lowering can change: ops (packet bounds are spliced in at the entry), slots, the bounds cache, diagnostics.
    const ops = this.ops.slice();
    const slots = this.slots.length;
    const bounds = this.packetBoundsCache;
    const socket = this.socketCache;
    const diagnostics = this.cx.diagnostics.length;
    let v: Value | undefined;
    this.#foldingConstants.add(key);
    try {
      v = this.expr(e);
    } catch (err) {
      if (!(err instanceof Abandon)) throw err;
    } finally {
      this.#foldingConstants.delete(key);
    }
    const inner = this.cx.diagnostics[diagnostics];
    const emitted = this.ops.length > ops.length;
    if (emitted) {
      this.ops.length = 0;
      for (const op of ops) this.ops.push(op);
    }
    this.slots.length = slots;
    this.packetBoundsCache = bounds;
    this.socketCache = socket;
    this.cx.diagnostics.length = diagnostics;
    const constant = v?.k === 'int' && v.op.kind === 'imm' && !emitted && !inner ? (v as Extract<Value, { k: 'int' }> & { op: { kind: 'imm' } }) : undefined;
    return { ...(constant ? { constant } : {}), ...(v ? { value: v } : {}), inner };
  }

  /** The type of an integer local as bound now (undefined for anything else). */
  localType(decl: Node): IntType | undefined {
    const b = this.#bindings.get(decl);
    return b?.k === 'var' ? b.t : b?.k === 'value' && b.value.k === 'int' ? b.value.t : undefined;
  }

  /** Lowers `body` with `target` as the innermost place `break` (and `continue`) jump to. */
  loop(target: LoopTarget, body: () => void): void {
    this.#inside(target, body);
  }

  #literalTypeValue(node: Node): Value | undefined {
    const lit = this.cx.literalOf(node);
    if (typeof lit === 'number') {
      if (!Number.isInteger(lit)) this.fail(node, 'TSBPF_FLOAT', 'floating-point numbers are not supported');
      return { k: 'int', op: imm(BigInt(lit)), t: literalType(BigInt(lit)), literal: true };
    }
    return undefined;
  }

  #dslValue(name: string, node: Node): Value {
    if (name === 'bpf') return { k: 'dsl', name: 'bpf' };
    return { k: 'dsl', name };
  }

  /** Where an assignment writes. */
  place(node: Node): Place {
    if (Node.isParenthesizedExpression(node)) return this.place(node.getExpression());
    if (Node.isIdentifier(node)) {
      const decl = this.cx.declarationOf(node);
      const b = decl ? this.#bindings.get(decl) : undefined;
      if (b?.k === 'var') return { k: 'var', reg: b.reg, t: b.t, ...(b.nullFlag !== undefined ? { nullFlag: b.nullFlag } : {}) };
      if (!b && decl && this.cx.failedDeclarations.has(decl)) this.followOn();
      if (b) this.fail(node, 'TSBPF_ASSIGN', `'${node.getText()}' cannot be assigned`);
      return this.fail(node, 'TSBPF_CLOSURE_MUTABLE', `'${node.getText()}' is not a local variable of this program; use global() for shared mutable values`);
    }
    if (Node.isPropertyAccessExpression(node) || Node.isElementAccessExpression(node)) {
      const obj = Node.isPropertyAccessExpression(node) ? node.getExpression() : undefined;
      // Context fields read as values, so the check is on the object (an identifier costs no code to look at).
      if (obj && Node.isIdentifier(obj) && this.expr(obj).k === 'ctx') this.fail(node, 'TSBPF_CTX_WRITE', 'context fields are read-only');
      const v = this.expr(node);
      if (v.k === 'kernel') this.fail(node, 'TSBPF_KERNEL_WRITE', 'kernel memory is read-only: copy the value into a local, map value or event');
      if (v.k === 'ptr' && v.to.kind === 'int') {
        if (v.space === 'ctx') this.fail(node, 'TSBPF_CTX_WRITE', 'context fields are read-only');
        if (v.space === 'rodata') this.fail(node, 'TSBPF_RODATA_WRITE', 'a rodata global is read-only in programs: set it from user space before load (--set)');
        if (v.space === 'sock') this.fail(node, 'TSBPF_CTX_WRITE', "a socket's fields are read-only");
        if (v.space === 'mapkey') this.fail(node, 'TSBPF_FOR_EACH', "forEachElem's key is the map's own key, read-only: copy it to change it ({ ...key })");
        return { k: 'mem', base: v.reg, off: 0, t: v.to, ...(v.nullIf ? { guard: v.nullIf } : {}) };
      }
      return this.fail(node, 'TSBPF_ASSIGN', 'only integer fields can be assigned (copy structs field by field)');
    }
    return this.fail(node, 'TSBPF_ASSIGN', 'this expression cannot be assigned');
  }

  /** A reference to an array or struct global in its section. */
  globalRef(g: GlobalInfo): Value {
    const base = this.newReg();
    this.emit({ op: 'map', dst: base, map: g.section, valueOffset: g.offset });
    return { k: 'ptr', reg: base, to: g.type, space: g.section === '.rodata' ? 'rodata' : 'map' };
  }

  readPlace(p: Place): Extract<Value, { k: 'int' }> {
    if (p.k === 'var') return { k: 'int', op: reg(p.reg), t: p.t };
    if (p.k === 'mem' && p.guard) {
      // Outside the packet reads as 0.
      const dst = this.#zeroUnless(p.guard, 'oob', () => this.load(p.base, p.off, p.t).op);
      return { k: 'int', op: reg(dst), t: p.t };
    }
    if (p.k === 'mem') return this.load(p.base, p.off, p.t);
    const base = this.newReg();
    this.emit({ op: 'map', dst: base, map: p.global.section, valueOffset: p.global.offset });
    return this.load(base, 0, p.global.type);
  }

  writePlace(p: Place, v: Extract<Value, { k: 'int' }>, node: Node): void {
    if (p.k === 'var') {
      this.#assignReg(p.reg, this.coerce(v, p.t, node));
      // An integer stored in a nullable local: present (or as null as the value stored).
      if (p.nullFlag !== undefined) this.emit({ op: 'mov', dst: p.nullFlag, src: v.orNull !== undefined ? reg(v.orNull) : imm(1), bits: 64 });
      return;
    }
    const t = p.k === 'mem' ? p.t : globalIntType(p.global);
    if (p.k === 'global' && p.global.section === '.rodata') this.fail(node, 'TSBPF_RODATA_WRITE', `${p.global.name} is rodata: set it from user space before load`);
    const value = v.op.kind === 'imm' && v.literal ? this.coerce(v, t, node) : this.convert(v, t, node);
    let base: VReg;
    let off = 0;
    if (p.k === 'mem') {
      base = p.base;
      off = p.off;
    } else {
      base = this.newReg();
      this.emit({ op: 'map', dst: base, map: p.global.section, valueOffset: p.global.offset });
    }
    const skip = p.k === 'mem' && p.guard ? this.newLabel('oob') : undefined;
    if (skip && p.k === 'mem' && p.guard) this.emit({ op: 'br', cmp: 'gt', bits: 64, a: p.guard.a, b: reg(p.guard.b), target: skip });
    this.emit({ op: 'store', base, off, size: (t.bits / 8) as 1 | 2 | 4 | 8, value: value.op });
    if (skip) this.label(skip);
  }

  /** A pointer `base + off` as a new register (no-op for 0). */
  offsetPtr(base: VReg, off: number): VReg {
    if (off === 0) return base;
    const dst = this.newReg();
    this.emit({ op: 'alu', alu: 'add', bits: 64, dst, a: reg(base), b: imm(off) });
    return dst;
  }

  /** Member access on a struct pointer. */
  member(v: Extract<Value, { k: 'ptr' }>, name: string, node: Node): Value {
    if (v.to === SPIN_LOCK) return this.fail(node, 'TSBPF_LOCK', 'a SpinLock has no fields: it is only taken with bpf.withLock(lock, () => …)');
    if (v.to.kind !== 'struct') return this.fail(node, 'TSBPF_MEMBER', `${typeName(v.to)} has no fields`);
    if (isSocket(v)) return socketField(this, v, name, node);
    const f = v.to.fields.find((x) => x.name === name);
    if (!f) return this.fail(node, 'TSBPF_MEMBER', `${v.to.name} has no field ${name}`);
    return { k: 'ptr', reg: this.offsetPtr(v.reg, f.offset), to: f.type, space: v.space, ...withRefs(v.refs) };
  }

  // ------------------------------------------------------------ memory for helpers

  /** Stack memory holding a value of type t built from an expression (for keys, values, events). */
  materialize(node: Node, t: CType): VReg {
    if (Node.isObjectLiteralExpression(node)) {
      if (t.kind !== 'struct') this.fail(node, 'TSBPF_TYPE', `an object literal cannot be a ${typeName(t)}`);
      return this.structLiteral(node, t);
    }
    return this.materializeValue(this.expr(node), t, node);
  }

  /** Like materialize, for a value already evaluated from `node`. */
  materializeValue(v: Value, t: CType, node: Node): VReg {
    if (isSocket(v)) return this.fail(node, 'TSBPF_HELPER_ARG', 'a socket is not memory to copy: read its fields into a struct');
    if (v.k === 'ptr' && v.space === 'map' && spinLocks(v.to).count > 0) lockedCopy(this, node);
    if (v.k === 'ptr' && sameType(v.to, t)) return v.reg;
    if (t.kind !== 'int') return this.fail(node, 'TSBPF_TYPE', `expected a ${typeName(t)} here, got ${describeValue(v)}`);
    const iv = this.coerceLoose(this.intOf(v, node), t, node);
    const s = this.slot(8, node);
    const p = this.newReg();
    this.emit({ op: 'frame', dst: p, slot: s, off: 0 });
    this.emit({ op: 'store', base: p, off: 0, size: (t.bits / 8) as 1 | 2 | 4 | 8, value: iv.op });
    return p;
  }

  /** Like coerce, but accepts any integer expression (values stored into typed memory). */
  coerceLoose(v: Extract<Value, { k: 'int' }>, t: IntType, node: Node): Extract<Value, { k: 'int' }> {
    return v.op.kind === 'imm' && v.literal ? this.coerce(v, t, node) : this.convert(v, t, node);
  }

  /** The struct an object literal copies with its first `...spread` (`{ ...hdr, ttl: 1 }`), from the spread's TypeScript type. */
  #spreadStruct(node: import('ts-morph').ObjectLiteralExpression): StructType | undefined {
    const spread = node.getProperties().find((p) => Node.isSpreadAssignment(p));
    if (!spread || !Node.isSpreadAssignment(spread)) return undefined;
    const decl = this.cx.checker.getTypeAtLocation(spread.getExpression()).getNonNullableType().getSymbol()?.getDeclarations().find((d) => Node.isInterfaceDeclaration(d));
    if (!decl) return this.fail(spread, 'TSBPF_OBJECT', 'only a struct (a header, map value, event or struct local) can be spread into a copy');
    return this.cx.structOf(decl);
  }

  /** A struct built on the stack from an object literal; padding and missing fields are zero. */
  structLiteral(node: Node, t: StructType): VReg {
    if (!Node.isObjectLiteralExpression(node)) return this.fail(node, 'TSBPF_TYPE', 'expected an object literal');
    const s = this.slot(t.size, node, 8);
    const p = this.newReg();
    this.emit({ op: 'frame', dst: p, slot: s, off: 0 });
    // Zero only the 8-byte words that integer fields given in the literal do not cover entirely (padding, omitted fields); a spread covers all.
    const covered = new Uint8Array(this.slots[s]!.size);
    for (const prop of node.getProperties()) {
      if (Node.isSpreadAssignment(prop)) covered.fill(1, 0, t.size);
      const f = (Node.isPropertyAssignment(prop) || Node.isShorthandPropertyAssignment(prop)) ? t.fields.find((x) => x.name === prop.getName()) : undefined;
      if (f?.type.kind === 'int') covered.fill(1, f.offset, f.offset + f.type.bits / 8);
    }
    for (let o = 0; o < covered.length; o += 8) {
      if (covered.subarray(o, o + 8).every((b) => b === 1)) continue;
      this.emit({ op: 'store', base: p, off: o, size: 8, value: imm(0) });
    }
    // Properties run in order, as in TypeScript: a later one overrides what an earlier one or a spread gave.
    for (const prop of node.getProperties()) {
      let name: string;
      let init: Node;
      if (Node.isSpreadAssignment(prop)) {
        const v = this.expr(prop.getExpression());
        if (isSocket(v)) this.fail(prop, 'TSBPF_OBJECT', 'a socket is not copied whole (the verifier lets a program only read its fields one by one): copy the fields you need');
        if (v.k !== 'ptr' || !sameType(v.to, t)) this.fail(prop, 'TSBPF_OBJECT', `only a ${t.name} can be spread into a ${t.name}, not ${describeValue(v)}`);
        if (v.space === 'map' && spinLocks(t).count > 0) lockedCopy(this, prop);
        this.at(prop);
        this.#copy(p, 0, v.reg, t.size);
        continue;
      }
      if (Node.isPropertyAssignment(prop)) {
        name = prop.getName();
        init = prop.getInitializerOrThrow();
      } else if (Node.isShorthandPropertyAssignment(prop)) {
        name = prop.getName();
        init = prop.getNameNode();
      } else {
        this.fail(prop, 'TSBPF_OBJECT', 'only plain properties are supported in struct literals');
      }
      const f = t.fields.find((x) => x.name === name);
      if (!f) this.fail(prop, 'TSBPF_MEMBER', `${t.name} has no field ${name}`);
      if (f.type.kind === 'int') {
        const v = this.coerceLoose(this.int(init), f.type, init);
        this.at(prop);
        this.emit({ op: 'store', base: p, off: f.offset, size: (f.type.bits / 8) as 1 | 2 | 4 | 8, value: v.op });
      } else if (f.type.kind === 'struct' && Node.isObjectLiteralExpression(init)) {
        const inner = this.structLiteral(init, f.type);
        this.#copy(p, f.offset, inner, sizeOf(f.type));
      } else {
        this.fail(init, 'TSBPF_OBJECT', `field ${name} (${typeName(f.type)}) cannot be set in a literal; fill it after creating the struct`);
      }
    }
    return p;
  }

  #copy(dst: VReg, dstOff: number, src: VReg, size: number): void {
    for (let o = 0; o < size; ) {
      const n = size - o >= 8 ? 8 : size - o >= 4 ? 4 : size - o >= 2 ? 2 : 1;
      const t = this.newReg();
      this.emit({ op: 'load', dst: t, base: src, off: o, size: n as 1 | 2 | 4 | 8 });
      this.emit({ op: 'store', base: dst, off: dstOff + o, size: n as 1 | 2 | 4 | 8, value: reg(t) });
      o += n;
    }
  }

  /** The withLock call whose callback is being lowered: a spin lock is held, so no helper may be called. */
  lockHeld: Node | undefined;

  /** A helper call; its result goes to a new register, or to `into` (a register other paths also set). */
  call(helper: number, args: Operand[], node: Node, withResult = true, into?: VReg): VReg | undefined {
    if (this.lockHeld) this.fail(node, 'TSBPF_LOCK', `this calls bpf_${helperName(helper) ?? helper} while a spin lock is held: the verifier allows no helper calls inside withLock; move it before or after`);
    this.at(node);
    const dst = withResult ? (into ?? this.newReg()) : undefined;
    this.emit({ op: 'call', helper, args, ...(dst !== undefined ? { dst } : {}) });
    return dst;
  }

  mapFd(map: MapInfo): VReg {
    if (map.fdReg !== undefined) return map.fdReg;
    const r = this.newReg();
    this.emit({ op: 'map', dst: r, map: map.name });
    return r;
  }

  // ------------------------------------------------------------ calls

  /** Argument i of a call, or a diagnostic when it is missing. */
  argAt(args: Node[], i: number, node: Node): Node {
    const a = args[i];
    if (!a) return this.fail(node, 'TSBPF_ARGS', `missing argument ${i + 1}`);
    return a;
  }

  callExpression(node: CallExpression): Value {
    const callee = node.getExpression();
    const args = node.getArguments();
    if (Node.isPropertyAccessExpression(callee)) {
      const objNode = callee.getExpression();
      const method = callee.getName();
      const obj = this.expr(objNode);
      if (obj.k === 'map') return mapMethod(this, obj.map, method, args, node);
      if (obj.k === 'dsl' && obj.name === 'bpf') return helperCall(this, method, args, node);
      if (obj.k === 'dsl' && obj.name === 'atomic') return atomicCall(this, method, args, node);
      if (obj.k === 'ptr' && obj.innerMap) return mapMethod(this, { ...obj.innerMap, fdReg: obj.reg }, method, args, node);
      if (obj.k === 'ptr' && obj.to.kind === 'array' && obj.to.cstr) return cstrMethod(this, obj, method, args, node);
      if (obj.k === 'packet') return packetMethod(this, method, args, node);
      if (obj.k === 'ctx') return ctxMethod(this, method, args, node);
      if (obj.k === 'global') {
        // An array or struct global is memory: get() is a reference into its section (read-only for rodata).
        if (obj.global.type.kind !== 'int') {
          if (method === 'get') return this.globalRef(obj.global);
          if (method === 'set') return this.fail(callee, 'TSBPF_ARGS', `${obj.global.name} is a ${typeName(obj.global.type)}: write its ${obj.global.type.kind === 'array' ? 'elements' : 'fields'} through ${obj.global.name}.get()`);
        }
        if (method === 'get') return this.readPlace({ k: 'global', global: obj.global });
        if (method === 'set') {
          this.writePlace({ k: 'global', global: obj.global }, this.int(this.argAt(args, 0, node)), node);
          return { k: 'void' };
        }
      }
      return this.fail(callee, 'TSBPF_METHOD', `method '${method}' is not supported on ${describeValue(obj)}`);
    }
    const dsl = this.cx.dslRef(callee);
    if (dsl) return this.dslFunction(dsl.name, args, node);
    const decl = this.cx.declarationOf(callee);
    if (decl) {
      let fn: Node | undefined = decl;
      if (Node.isVariableDeclaration(decl)) fn = decl.getInitializer();
      if (fn && (Node.isFunctionDeclaration(fn) || Node.isArrowFunction(fn) || Node.isFunctionExpression(fn))) return this.inline(fn, decl, args, node);
    }
    return this.fail(callee, 'TSBPF_CALL', `'${callee.getText()}' cannot be called from a BPF program`);
  }

  dslFunction(name: string, args: Node[], node: Node): Value {
    const int = INT_TYPES[name];
    if (int && name !== 'bool' && name !== 'be16' && name !== 'be32') {
      const a = args[0];
      if (!a) return this.fail(node, 'TSBPF_ARGS', `${name}() needs a value`);
      if (Node.isBigIntLiteral(a)) return { k: 'int', op: imm(wrapTo(this.cx.constantOf(a)!, int)), t: int };
      return this.convert(this.int(a), int, node);
    }
    if (name === 'htons' || name === 'ntohs' || name === 'htonl' || name === 'ntohl') {
      const bits = name.endsWith('s') ? 16 : 32;
      const v = this.int(this.argAt(args, 0, node));
      const t = bits === 16 ? (name === 'htons' ? INT_TYPES.be16! : INT_TYPES.u16!) : name === 'htonl' ? INT_TYPES.be32! : INT_TYPES.u32!;
      if (v.op.kind === 'imm') return { k: 'int', op: imm(swapBytes(BigInt.asUintN(bits, v.op.value), bits)), t, ...(v.folded ? { folded: true } : {}) };
      const dst = this.newReg();
      this.emit({ op: 'bswap', dst, src: v.op, bits });
      return { k: 'int', op: reg(dst), t };
    }
    if (name === 'range') return this.fail(node, 'TSBPF_RANGE', 'range() is only allowed as the iterable of a for…of loop');
    return this.fail(node, 'TSBPF_CALL', `${name}() cannot be called inside a program`);
  }

  #inlining: Node[];

  /** A call of a module function: inlined, or a bpf-to-bpf call of it as a subprogram (see subprograms.ts). */
  inline(fn: Node, decl: Node, args: Node[], node: Node): Value {
    if (!(Node.isFunctionDeclaration(fn) || Node.isArrowFunction(fn) || Node.isFunctionExpression(fn))) return this.fail(node, 'TSBPF_CALL', 'not a function');
    if (this.#inlining.includes(fn)) return this.fail(node, 'TSBPF_RECURSION', `recursive call to '${Node.isCallExpression(node) ? node.getExpression().getText() : 'function'}': BPF programs cannot recurse`);
    if (fn.isAsync()) return this.fail(fn, 'TSBPF_ASYNC', 'async functions are not supported');
    if (Node.isFunctionDeclaration(fn) && fn.isGenerator()) return this.fail(fn, 'TSBPF_GENERATOR', 'generators are not supported');
    if (this.#inlining.length > 16) return this.fail(node, 'TSBPF_INLINE_DEPTH', 'functions nest too deeply');
    const choice = planCall(this, fn, decl, node);
    const values = this.#argumentValues(fn, args, node);
    if (choice) {
      const called = callSubprogram(this, choice, fn, decl, values, node);
      if (called) return called;
    }
    return this.#inlineWith(fn, decl, values, args);
  }

  /** The functions being lowered around this point (outermost first). */
  get functionChain(): readonly Node[] {
    return this.#inlining;
  }

  /** Arguments are evaluated in the caller, left to right, before the callee's bindings exist. */
  #argumentValues(fn: FunctionNode, args: Node[], node: Node): Value[] {
    const params = fn.getParameters();
    // Arguments are evaluated in the caller, before the callee's bindings exist.
    const values: Value[] = [];
    params.forEach((p, i) => {
      const a = args[i];
      if (!a) {
        const init = p.getInitializer();
        if (init) values.push(this.expr(init));
        else this.fail(node, 'TSBPF_ARGS', `missing argument ${p.getName()}`);
        return;
      }
      const typeNode = p.getTypeNode();
      const t = typeNode && !isContextType(this.cx, typeNode) ? this.declaredCtype(typeNode) : undefined;
      if (t?.kind === 'struct' && Node.isObjectLiteralExpression(a)) values.push({ k: 'ptr', reg: this.structLiteral(a, t), to: t, space: 'stack' });
      // An integer argument is taken now, before later arguments run (they may store to the same field).
      else values.push(this.taken(this.expr(a), a));
    });
    return values;
  }

  #inlineWith(fn: FunctionNode, decl: Node, values: Value[], args: Node[]): Value {
    const params = fn.getParameters();
    this.#inlining.push(fn);
    const frame: Frame = { kind: 'inline', decl, end: this.newLabel('ret') };
    try {
      params.forEach((p, i) => {
        if (!Node.isIdentifier(p.getNameNode())) this.fail(p, 'TSBPF_DESTRUCTURE', 'destructuring parameters is not supported');
        const v = values[i]!;
        const typeNode = p.getTypeNode();
        const t = typeNode && !isContextType(this.cx, typeNode) ? this.declaredCtype(typeNode) : undefined;
        if (v.k === 'null' && t?.kind === 'int') {
          // null passed for a nullable integer parameter.
          const r = this.newReg();
          const flag = this.newReg();
          this.emit({ op: 'mov', dst: r, src: imm(0), bits: 64 });
          this.emit({ op: 'mov', dst: flag, src: imm(0), bits: 64 });
          this.bind(p, { k: 'var', reg: r, t, nullFlag: flag });
        } else if (t?.kind === 'int' || (!t && v.k === 'int')) {
          const iv = this.intOf(v, args[i] ?? p);
          // A BTF pointer passed for a Ptr<T> parameter stays one (its fields are still loaded directly).
          const ty = t?.kind === 'int' ? (t.pointee !== undefined && iv.t.btfPointer ? iv.t : t) : iv.literal ? literalType(iv.op.kind === 'imm' ? iv.op.value : 0n) : iv.t;
          const r = this.newReg();
          this.#assignReg(r, this.coerceLoose(iv, ty, args[i] ?? p));
          this.bind(p, { k: 'var', reg: r, t: ty, ...(iv.orNull !== undefined ? { nullFlag: this.#copyReg(iv.orNull) } : {}) });
        } else {
          this.bind(p, { k: 'value', value: v });
        }
      });
      const rt = fn.getReturnTypeNode();
      if (rt && rt.getKind() !== SK.VoidKeyword) {
        const t = this.#tryCtype(rt);
        if (t?.kind === 'int') frame.resultType = t;
      }
      if (returnsNullableNumber(fn)) {
        frame.resultNull = this.newReg();
        this.emit({ op: 'mov', dst: frame.resultNull, src: imm(1), bits: 64 });
      }
      this.#frames.push(frame);
      this.#lowerFunctionBody(fn.getBody());
      this.label(frame.end);
    } finally {
      this.#frames.pop();
      this.#inlining.pop();
    }
    if (frame.result === undefined) return { k: 'void' };
    if (frame.resultPtr) return { k: 'ptr', reg: frame.result, to: frame.resultPtr.to, space: frame.resultPtr.space, ...withRefs(frame.resultPtr.refs) };
    return { k: 'int', op: reg(frame.result), t: frame.resultType ?? I64, ...(frame.resultNull !== undefined ? { orNull: frame.resultNull } : {}) };
  }

  /** A register holding a copy of `r` (a flag that later assignments change, while `r` stays as it was). */
  #copyReg(r: VReg): VReg {
    const dst = this.newReg();
    this.emit({ op: 'mov', dst, src: reg(r), bits: 64 });
    return dst;
  }

  /** The C type of a local's or parameter's annotation; `T | null` is a nullable T (an integer that may be null, or a reference). */
  declaredCtype(node: import('ts-morph').TypeNode): CType {
    if (Node.isUnionTypeNode(node)) {
      const parts = node.getTypeNodes().filter((n) => !(Node.isLiteralTypeNode(n) && n.getLiteral().getKind() === SK.NullKeyword));
      if (parts.length === 1) return this.cx.ctypeOf(parts[0]!);
    }
    return this.cx.ctypeOf(node);
  }

  #tryCtype(node: import('ts-morph').TypeNode): CType | undefined {
    const before = this.cx.diagnostics.length;
    try {
      return this.declaredCtype(node);
    } catch (e) {
      if (!(e instanceof Abandon)) throw e;
      this.cx.diagnostics.length = before;
      return undefined;
    }
  }

  // ------------------------------------------------------------ statement helpers used by visitors

  declareVariable(decl: import('ts-morph').VariableDeclaration, isConst: boolean): void {
    const nameNode = decl.getNameNode();
    if (!Node.isIdentifier(nameNode)) this.fail(nameNode, 'TSBPF_DESTRUCTURE', 'destructuring is not supported');
    const init = decl.getInitializer();
    const typeNode = decl.getTypeNode();
    const t = typeNode ? this.declaredCtype(typeNode) : undefined;
    if (!init) {
      if (!t || t.kind === 'int') {
        if (!t) this.fail(decl, 'TSBPF_TYPE', 'a variable without an initializer needs an integer type annotation');
        const r = this.newReg();
        this.emit({ op: 'mov', dst: r, src: imm(0), bits: 64 });
        this.bind(decl, { k: 'var', reg: r, t: t as IntType });
        return;
      }
      // A struct or array local, zero-filled on the stack.
      const s = this.slot(sizeOf(t), decl);
      const p = this.newReg();
      this.emit({ op: 'frame', dst: p, slot: s, off: 0 });
      for (let o = 0; o < this.slots[s]!.size; o += 8) this.emit({ op: 'store', base: p, off: o, size: 8, value: imm(0) });
      this.bind(decl, { k: 'value', value: { k: 'ptr', reg: p, to: t, space: 'stack' } });
      return;
    }
    if (t && t.kind === 'struct') {
      // A literal is new stack memory; a reference of the same type is aliased (and keeps its lifetime).
      const v = Node.isObjectLiteralExpression(init) ? undefined : this.expr(init);
      if (v?.k === 'ptr' && sameType(v.to, t)) this.bind(decl, { k: 'value', value: v });
      else this.bind(decl, { k: 'value', value: { k: 'ptr', reg: v ? this.fail(init, 'TSBPF_TYPE', `expected a ${typeName(t)} here, got ${describeValue(v)}`) : this.structLiteral(init, t), to: t, space: 'stack' } });
      return;
    }
    // `const copy = { ...hdr }`: a copy on the stack, of the struct spread into it.
    const spreadType = Node.isObjectLiteralExpression(init) ? this.#spreadStruct(init) : undefined;
    if (spreadType) {
      this.bind(decl, { k: 'value', value: { k: 'ptr', reg: this.structLiteral(init, spreadType), to: spreadType, space: 'stack' } });
      return;
    }
    if (Node.isObjectLiteralExpression(init)) this.fail(init, 'TSBPF_OBJECT', 'an object literal needs a struct type annotation (const k: Key = { … })');
    // A number is a value: an integer field is read here, when the line runs.
    const v = this.taken(this.expr(init), init);
    if (v.k === 'int') {
      const iv = t?.kind === 'int' ? this.coerce(v, t, init) : v;
      if (isConst && iv.op.kind === 'imm') {
        this.bind(decl, { k: 'value', value: iv });
        return;
      }
      const ty = iv.literal ? literalType(iv.op.kind === 'imm' ? iv.op.value : 0n) : iv.t;
      const r = this.newReg();
      this.#assignReg(r, { ...iv, t: ty });
      const nullFlag = v.orNull !== undefined ? (isConst ? v.orNull : this.#copyReg(v.orNull)) : undefined;
      this.bind(decl, { k: 'var', reg: r, t: ty, ...(nullFlag !== undefined ? { nullFlag } : {}) });
      return;
    }
    if (v.k === 'null' && !isConst && t?.kind === 'int') {
      // let n: u32 | null = null
      const r = this.newReg();
      const flag = this.newReg();
      this.emit({ op: 'mov', dst: r, src: imm(0), bits: 64 });
      this.emit({ op: 'mov', dst: flag, src: imm(0), bits: 64 });
      this.bind(decl, { k: 'var', reg: r, t, nullFlag: flag });
      return;
    }
    if (v.k === 'void') this.fail(init, 'TSBPF_VOID', 'this expression has no value');
    if (!isConst && v.k === 'ptr') this.fail(decl, 'TSBPF_LET_REF', 'references must be const');
    this.bind(decl, { k: 'value', value: v });
  }

  returnStatement(expr: Expression | undefined, node: Node): void {
    this.#return(expr, node);
  }

  ifStatement(node: import('ts-morph').IfStatement): void {
    const elseLabel = this.newLabel('else');
    this.branch(node.getExpression(), elseLabel, false);
    this.statement(node.getThenStatement());
    const elseStmt = node.getElseStatement();
    if (elseStmt) {
      const end = this.newLabel('endif');
      this.emit({ op: 'jmp', target: end });
      this.label(elseLabel);
      this.statement(elseStmt);
      this.label(end);
    } else {
      this.label(elseLabel);
    }
  }

  forOf(node: import('ts-morph').ForOfStatement): void {
    const iter = node.getExpression();
    if (!Node.isCallExpression(iter) || this.cx.dslRef(iter.getExpression())?.name !== 'range') {
      this.fail(iter, 'TSBPF_LOOP', 'only `for (const i of range(n))` loops are supported (bounded loops)');
    }
    if (node.isAwaited()) this.fail(node, 'TSBPF_ASYNC', 'for await is not supported');
    const args = iter.getArguments();
    const bounds = args.map((a) => this.cx.constantOf(a));
    if (args.length === 0 || bounds.some((b) => b === undefined)) this.fail(iter, 'TSBPF_RANGE_BOUND', 'range() bounds must be compile-time constants so the verifier can prove the loop ends');
    const [start, end] = bounds.length === 1 ? [0n, bounds[0]!] : [bounds[0]!, bounds[1]!];
    if (start < 0n || end > 1n << 20n) this.fail(iter, 'TSBPF_RANGE_BOUND', 'range() bounds must lie in 0…1048576');
    const init = node.getInitializer();
    const decl = Node.isVariableDeclarationList(init) ? init.getDeclarations()[0] : undefined;
    if (!decl || !Node.isIdentifier(decl.getNameNode())) return this.fail(node, 'TSBPF_LOOP', 'declare the loop variable: for (const i of range(n))');
    // Short loops are unrolled, as clang does: the verifier walks them once and constant indexes fold.
    if (unrolls(end - start, node.getStatement())) {
      const exit = this.newLabel('endloop');
      for (let k = start; k < end; k++) {
        const next = this.newLabel('next');
        this.bind(decl, { k: 'value', value: { k: 'int', op: imm(k), t: U32, folded: true } });
        this.#inside({ breakLabel: exit, continueLabel: next }, () => this.statement(node.getStatement()));
        this.label(next);
      }
      this.label(exit);
      return;
    }
    const i = this.newReg();
    this.emit({ op: 'mov', dst: i, src: imm(start), bits: 64 });
    this.bind(decl, { k: 'var', reg: i, t: U32 });
    const head = this.newLabel('loop');
    const cont = this.newLabel('next');
    const exit = this.newLabel('endloop');
    this.label(head);
    this.emit({ op: 'br', cmp: 'ge', bits: 64, a: i, b: imm(end), target: exit });
    this.#inside({ breakLabel: exit, continueLabel: cont }, () => this.statement(node.getStatement()));
    this.label(cont);
    this.emit({ op: 'alu', alu: 'add', bits: 64, dst: i, a: reg(i), b: imm(1) });
    this.emit({ op: 'jmp', target: head });
    this.label(exit);
  }

  switchStatement(node: import('ts-morph').SwitchStatement): void {
    const subject = this.int(node.getExpression());
    const end = this.newLabel('endswitch');
    const clauses = node.getCaseBlock().getClauses();
    const labels = clauses.map(() => this.newLabel('case'));
    let defaultLabel: string | undefined;
    clauses.forEach((c, i) => {
      if (Node.isDefaultClause(c)) {
        defaultLabel = labels[i];
        return;
      }
      const v = this.cx.constantOf(c.getExpression());
      if (v === undefined) return this.fail(c.getExpression(), 'TSBPF_CASE', 'case labels must be compile-time constants');
      // As `===` would: both converted to their common type.
      const label: Extract<Value, { k: 'int' }> = { k: 'int', op: imm(v), t: literalType(v), literal: true };
      const t = this.commonType(subject, label);
      this.emit({ op: 'br', cmp: 'eq', bits: t.bits === 64 ? 64 : 32, a: this.toReg(this.convert(subject, t, node)), b: imm(wrapTo(v, t)), target: labels[i]! });
    });
    this.emit({ op: 'jmp', target: defaultLabel ?? end });
    this.#inside({ breakLabel: end }, () =>
      clauses.forEach((c, i) => {
        this.label(labels[i]!);
        for (const s of c.getStatements()) this.statement(s);
      }),
    );
    this.label(end);
  }

  /** Lowers `body` with `target` as the innermost place `break` (and `continue`) jump to. */
  #inside(target: LoopTarget, body: () => void): void {
    this.#loops.push(target);
    try {
      body();
    } finally {
      this.#loops.pop();
    }
  }

  jumpOut(kind: 'break' | 'continue', node: Node): void {
    for (let i = this.#loops.length - 1; i >= 0; i--) {
      const l = this.#loops[i]!;
      const target = kind === 'break' ? l.breakLabel : l.continueLabel;
      if (target) {
        this.emit({ op: 'jmp', target });
        return;
      }
    }
    this.fail(node, 'TSBPF_JUMP', `${kind} outside a loop`);
  }

  get sourceFile(): SourceFile {
    return this.program.body.getSourceFile();
  }
}

// ------------------------------------------------------------ tables

/** Diagnostics that only say an initializer is not something a program can compute: the constant's own diagnostic is clearer. */
const NOT_A_CONSTANT = new Set(['TSBPF_CLOSURE', 'TSBPF_CLOSURE_MUTABLE', 'TSBPF_CALL', 'TSBPF_METHOD', 'TSBPF_UNKNOWN_NAME', 'TSBPF_UNSUPPORTED', 'TSBPF_HEAP', 'TSBPF_OBJECT', 'TSBPF_CLASS', 'TSBPF_STRING', 'TSBPF_MEMBER', 'TSBPF_FUNCTION_VALUE', 'TSBPF_PROGRAM_REF']);

const COMPARISONS: Partial<Record<number, 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'>> = {
  [SK.EqualsEqualsEqualsToken]: 'eq', [SK.EqualsEqualsToken]: 'eq', [SK.ExclamationEqualsEqualsToken]: 'ne', [SK.ExclamationEqualsToken]: 'ne',
  [SK.LessThanToken]: 'lt', [SK.LessThanEqualsToken]: 'le', [SK.GreaterThanToken]: 'gt', [SK.GreaterThanEqualsToken]: 'ge',
};
const NEGATE = { eq: 'ne', ne: 'eq', lt: 'ge', ge: 'lt', gt: 'le', le: 'gt' } as const;
const MIRROR = { eq: 'eq', ne: 'ne', lt: 'gt', gt: 'lt', le: 'ge', ge: 'le' } as const;

export const ARITH_TOKENS: Partial<Record<number, AluName>> = {
  [SK.PlusToken]: 'add', [SK.MinusToken]: 'sub', [SK.AsteriskToken]: 'mul', [SK.SlashToken]: 'div', [SK.PercentToken]: 'mod',
  [SK.AmpersandToken]: 'and', [SK.BarToken]: 'or', [SK.CaretToken]: 'xor', [SK.LessThanLessThanToken]: 'lsh',
  [SK.GreaterThanGreaterThanToken]: 'rsh', [SK.GreaterThanGreaterThanGreaterThanToken]: 'rsh',
};

export const COMPOUND_TOKENS: Partial<Record<number, AluName>> = {
  [SK.PlusEqualsToken]: 'add', [SK.MinusEqualsToken]: 'sub', [SK.AsteriskEqualsToken]: 'mul', [SK.SlashEqualsToken]: 'div',
  [SK.PercentEqualsToken]: 'mod', [SK.AmpersandEqualsToken]: 'and', [SK.BarEqualsToken]: 'or', [SK.CaretEqualsToken]: 'xor',
  [SK.LessThanLessThanEqualsToken]: 'lsh', [SK.GreaterThanGreaterThanEqualsToken]: 'rsh', [SK.GreaterThanGreaterThanGreaterThanEqualsToken]: 'rsh',
};

export { COMPARISONS };

function evalCompare(c: string, a: bigint, b: bigint): boolean {
  switch (c) {
    case 'eq': return a === b;
    case 'ne': return a !== b;
    case 'lt': return a < b;
    case 'le': return a <= b;
    case 'gt': return a > b;
    default: return a >= b;
  }
}

export function foldAlu(alu: AluName, a: bigint, b: bigint, t: IntType): bigint | undefined {
  switch (alu) {
    case 'add': return a + b;
    case 'sub': return a - b;
    case 'mul': return a * b;
    case 'div': case 'sdiv': return b === 0n ? undefined : a / b;
    case 'mod': case 'smod': return b === 0n ? undefined : a % b;
    case 'and': return a & b;
    case 'or': return a | b;
    case 'xor': return a ^ b;
    case 'lsh': return wrapTo(a << (b & BigInt(t.bits - 1)), t);
    case 'rsh': case 'arsh': return wrapTo(a, t) >> (b & BigInt(t.bits - 1));
    case 'neg': return -a;
  }
}

function swapBytes(v: bigint, bits: number): bigint {
  let out = 0n;
  for (let i = 0; i < bits / 8; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

function sameType(a: CType, b: CType): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  if (a.kind === 'int' && b.kind === 'int') return a.bits === b.bits;
  if (a.kind === 'array' && b.kind === 'array') return a.length === b.length && sameType(a.element, b.element);
  if (a.kind === 'struct' && b.kind === 'struct') return a.name === b.name && a.size === b.size;
  return false;
}

/** The union of two sets of reference ids. */
export function unionRefs(a: readonly number[] | undefined, b: readonly number[] | undefined): number[] {
  return [...new Set([...(a ?? []), ...(b ?? [])])];
}

/** `{ refs }` to spread into a reference Value, or nothing when there are none. */
export function withRefs(refs: readonly number[] | undefined): { refs?: readonly number[] } {
  return refs && refs.length > 0 ? { refs } : {};
}

/** Whether a function's TypeScript return type is a number that may be null (`number | null`). */
function returnsNullableNumber(fn: Node): boolean {
  if (!(Node.isFunctionDeclaration(fn) || Node.isArrowFunction(fn) || Node.isFunctionExpression(fn))) return false;
  const t = fn.getReturnType();
  if (!t.isUnion()) return false;
  const parts = t.getUnionTypes();
  return parts.some((p) => p.isNull()) && parts.some((p) => p.isNumber() || p.isNumberLiteral() || p.isBigInt() || p.isBigIntLiteral() || p.isBoolean() || p.isBooleanLiteral());
}

export function isContextType(cx: CompilerContext, node: Node): boolean {
  if (!Node.isTypeReference(node)) return false;
  const ref = cx.dslRef(node.getTypeName());
  return ref !== undefined && /Context$/.test(ref.name);
}

export function describeValue(v: Value): string {
  switch (v.k) {
    case 'int': return `an integer (${v.t.name})`;
    case 'ptr': return `a reference to ${typeName(v.to)}`;
    case 'null': return 'null';
    case 'kernel': return `kernel memory (${describeKType(v.type)})`;
    case 'void': return 'nothing (void)';
    case 'ctx': return 'the context';
    case 'packet': return 'the packet';
    case 'map': return `map ${v.map.name}`;
    case 'global': return `global ${v.global.name}`;
    case 'header': return 'a header type';
    case 'dsl': return v.name;
  }
}

function describeKind(node: Node): string {
  return node.getKindName().replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

/** The diagnostic code for a construct the compiler does not lower. */
function unsupportedCode(node: Node): string {
  switch (node.getKind()) {
    case SK.ClassDeclaration: case SK.ClassExpression: case SK.ThisKeyword: case SK.NewExpression: return node.getKind() === SK.NewExpression ? 'TSBPF_HEAP' : 'TSBPF_CLASS';
    case SK.TryStatement: case SK.ThrowStatement: return 'TSBPF_EXCEPTION';
    case SK.AwaitExpression: return 'TSBPF_ASYNC';
    case SK.StringLiteral: case SK.TemplateExpression: case SK.NoSubstitutionTemplateLiteral: return 'TSBPF_STRING';
    case SK.ArrayLiteralExpression: case SK.ObjectLiteralExpression: return 'TSBPF_HEAP';
    case SK.WhileStatement: case SK.DoStatement: case SK.ForStatement: case SK.ForInStatement: return 'TSBPF_LOOP';
    case SK.ArrowFunction: case SK.FunctionExpression: case SK.FunctionDeclaration: return 'TSBPF_CLOSURE';
    case SK.YieldExpression: return 'TSBPF_GENERATOR';
    default: return 'TSBPF_UNSUPPORTED';
  }
}

// Visitor tables are filled by visitors.ts (kept apart so each syntax kind has one small function).
export const statementVisitors: Partial<Record<number, (l: FunctionLowering, n: Node) => void>> = {};
export const expressionVisitors: Partial<Record<number, (l: FunctionLowering, n: Node) => Value>> = {};
export { wrapTo, literalType };
