/**
 * One visitor per syntax kind, registered in the tables of lower.ts. A kind
 * without a visitor is reported as unsupported with its own code.
 */
import { Node, ts } from 'ts-morph';
import { I32, INT_TYPES, type IntType, sizeOf, typeName } from './ctypes.js';
import { Abandon } from './diagnostics.js';
import { imm, reg, type VReg } from './ir.js';
import { ARITH_TOKENS, COMPARISONS, COMPOUND_TOKENS, describeValue, unionRefs, withRefs, expressionVisitors as E, type FunctionLowering, literalType, statementVisitors as S, wrapTo } from './lower.js';
import { ctxField } from './lower-context.js';
import { lowerFor, lowerWhile } from './lower-loops.js';
import { kernelIndex, kernelMember } from './lower-kernel.js';
import { packetBounds, packetLength } from './lower-packet.js';
import { globalIntType } from './module-model.js';
import type { Value } from './values.js';

const SK = ts.SyntaxKind;

// ------------------------------------------------------------ statements

S[SK.Block] = (l, n) => {
  if (Node.isBlock(n)) l.block(n);
};
S[SK.EmptyStatement] = () => {};
S[SK.VariableStatement] = (l, n) => {
  if (!Node.isVariableStatement(n)) return;
  const kind = n.getDeclarationKind();
  // `var` is reported once; its names are then declared as `let`s, so their uses give no diagnostics of their own.
  if (kind === 'var') l.cx.report(n, 'TSBPF_VAR', 'use const or let, not var');
  for (const d of n.getDeclarations()) {
    try {
      l.declareVariable(d, kind === 'const');
    } catch (e) {
      if (e instanceof Abandon) l.markFailed(d);
      throw e;
    }
  }
};
S[SK.ExpressionStatement] = (l, n) => {
  if (Node.isExpressionStatement(n)) l.expr(n.getExpression());
};
S[SK.ReturnStatement] = (l, n) => {
  if (Node.isReturnStatement(n)) l.returnStatement(n.getExpression(), n);
};
S[SK.IfStatement] = (l, n) => {
  if (Node.isIfStatement(n)) l.ifStatement(n);
};
S[SK.ForOfStatement] = (l, n) => {
  if (Node.isForOfStatement(n)) l.forOf(n);
};
S[SK.ForStatement] = (l, n) => {
  if (Node.isForStatement(n)) lowerFor(l, n);
};
S[SK.WhileStatement] = (l, n) => {
  if (Node.isWhileStatement(n)) lowerWhile(l, n);
};
S[SK.DoStatement] = (l, n) => {
  if (Node.isDoStatement(n)) lowerWhile(l, n);
};
S[SK.SwitchStatement] = (l, n) => {
  if (Node.isSwitchStatement(n)) l.switchStatement(n);
};
S[SK.BreakStatement] = (l, n) => {
  if (Node.isBreakStatement(n) && n.getLabel()) l.fail(n, 'TSBPF_LABEL', 'labelled break is not supported');
  l.jumpOut('break', n);
};
S[SK.ContinueStatement] = (l, n) => {
  if (Node.isContinueStatement(n) && n.getLabel()) l.fail(n, 'TSBPF_LABEL', 'labelled continue is not supported');
  l.jumpOut('continue', n);
};
S[SK.LabeledStatement] = (l, n) => l.fail(n, 'TSBPF_LABEL', 'labelled statements are not supported; use a flag or a function with return');
// Type-only declarations inside a body have no code.
S[SK.InterfaceDeclaration] = () => {};
S[SK.TypeAliasDeclaration] = () => {};
S[SK.FunctionDeclaration] = (l, n) => l.fail(n, 'TSBPF_NESTED_FUNCTION', 'declare helper functions at module level');

// ------------------------------------------------------------ expressions

E[SK.NumericLiteral] = (l, n) => {
  if (!Node.isNumericLiteral(n)) throw new Error('kind');
  const v = n.getLiteralValue();
  if (!Number.isInteger(v)) l.fail(n, 'TSBPF_FLOAT', 'floating-point numbers are not supported');
  if (!Number.isSafeInteger(v)) l.fail(n, 'TSBPF_LITERAL_RANGE', `${n.getText()} is not exact as a number; write a bigint with u64(…n)`);
  return { k: 'int', op: imm(v), t: literalType(BigInt(v)), literal: true };
};
E[SK.BigIntLiteral] = (l, n) => {
  const v = l.cx.constantOf(n)!;
  if (v < -(1n << 63n) || v >= 1n << 64n) l.fail(n, 'TSBPF_LITERAL_RANGE', `${n.getText()} does not fit in 64 bits`);
  return { k: 'int', op: imm(v), t: literalType(v), literal: true };
};
E[SK.TrueKeyword] = () => ({ k: 'int', op: imm(1), t: INT_TYPES.bool! });
E[SK.FalseKeyword] = () => ({ k: 'int', op: imm(0), t: INT_TYPES.bool! });
E[SK.NullKeyword] = () => ({ k: 'null' });
E[SK.Identifier] = (l, n) => l.identifier(n);
E[SK.ParenthesizedExpression] = (l, n) => l.expr((n as import('ts-morph').ParenthesizedExpression).getExpression());
E[SK.AsExpression] = (l, n) => l.expr((n as import('ts-morph').AsExpression).getExpression());
E[SK.NonNullExpression] = (l, n) => l.expr((n as import('ts-morph').NonNullExpression).getExpression());
E[SK.SatisfiesExpression] = (l, n) => l.expr((n as import('ts-morph').SatisfiesExpression).getExpression());
E[SK.CallExpression] = (l, n) => {
  if (!Node.isCallExpression(n)) throw new Error('kind');
  if (n.getQuestionDotTokenNode()) l.fail(n, 'TSBPF_OPTIONAL', 'optional calls are not supported');
  return l.callExpression(n);
};

E[SK.PropertyAccessExpression] = (l, n) => {
  if (!Node.isPropertyAccessExpression(n)) throw new Error('kind');
  if (n.hasQuestionDotToken()) l.fail(n, 'TSBPF_OPTIONAL', 'optional chaining is not supported; compare with null first');
  const objNode = n.getExpression();
  // Constants such as XdpAction.PASS or a user `as const` table fold through their literal type.
  if (Node.isIdentifier(objNode) || Node.isPropertyAccessExpression(objNode)) {
    const lit = l.cx.literalOf(n);
    const objDecl = l.cx.declarationOf(objNode);
    const local = objDecl && Node.isParameterDeclaration(objDecl);
    if (typeof lit === 'number' && !local) {
      if (!Number.isInteger(lit)) l.fail(n, 'TSBPF_FLOAT', 'floating-point numbers are not supported');
      return { k: 'int', op: imm(lit), t: literalType(BigInt(lit)), literal: true };
    }
  }
  const obj = l.expr(objNode);
  const name = n.getName();
  switch (obj.k) {
    case 'ctx': return ctxField(l, name, n);
    case 'kernel': return kernelMember(l, obj, name, n);
    case 'int':
      if (obj.t.pointee !== undefined) return kernelMember(l, obj, name, n);
      return l.fail(n, 'TSBPF_MEMBER', `${describeValue(obj)} has no property ${name}`);
    case 'packet':
      if (name === 'length') return packetLength(l, n);
      return l.fail(n, 'TSBPF_MEMBER', `packet has no property ${name}`);
    case 'ptr':
      if (obj.to.kind === 'array' && name === 'length') return { k: 'int', op: imm(obj.to.length), t: I32, literal: true };
      return l.member(obj, name, n);
    case 'header':
      if (name === 'size') return { k: 'int', op: imm(sizeOf(obj.struct)), t: I32, literal: true };
      return l.fail(n, 'TSBPF_MEMBER', `header types have only .size`);
    case 'dsl':
      return l.fail(n, 'TSBPF_MEMBER', `${obj.name}.${name} cannot be used as a value`);
    default:
      return l.fail(n, 'TSBPF_MEMBER', `${describeValue(obj)} has no property ${name}`);
  }
};

E[SK.ElementAccessExpression] = (l, n) => {
  if (!Node.isElementAccessExpression(n)) throw new Error('kind');
  const obj = l.expr(n.getExpression());
  const argNode = n.getArgumentExpressionOrThrow();
  if (obj.k === 'kernel') return kernelIndex(l, obj, l.int(argNode), argNode);
  if (obj.k !== 'ptr' || obj.to.kind !== 'array') return l.fail(n, 'TSBPF_INDEX', `only fixed arrays can be indexed, not ${describeValue(obj)}`);
  const elem = obj.to.element;
  const esize = sizeOf(elem);
  // Constant indexes (literals, constants, unrolled loop variables) are plain offsets.
  const index = l.int(argNode);
  const c = index.op.kind === 'imm' ? index.op.value : undefined;
  if (c !== undefined) {
    if (c < 0n || c >= BigInt(obj.to.length)) l.fail(argNode, 'TSBPF_INDEX_RANGE', `index ${c} is outside ${typeName(obj.to)}`);
    return { k: 'ptr', reg: l.offsetPtr(obj.reg, Number(c) * esize), to: elem, space: obj.space, ...withRefs(obj.refs) };
  }
  if (elem.kind !== 'int') return l.fail(argNode, 'TSBPF_INDEX', 'arrays of structs need constant indexes');
  if (obj.space === 'ctx') return l.fail(argNode, 'TSBPF_INDEX', 'context arrays take constant indexes (the verifier allows no variable offset into the context); copy the array first: bpf.probeReadKernel(local, ctx.field)');
  const p = l.clampedElementAddress(obj.reg, index, obj.to.length, esize, argNode);
  if (obj.space === 'packet') {
    // A variable offset makes the verifier forget the checked range: check this element against data_end again.
    const end = l.newReg();
    l.emit({ op: 'alu', alu: 'add', bits: 64, dst: end, a: reg(p), b: imm(esize) });
    return { k: 'ptr', reg: p, to: elem, space: obj.space, nullIf: { a: end, b: packetBounds(l).end }, ...withRefs(obj.refs) };
  }
  return { k: 'ptr', reg: p, to: elem, space: obj.space, ...withRefs(obj.refs) };
};

E[SK.PrefixUnaryExpression] = (l, n) => {
  if (!Node.isPrefixUnaryExpression(n)) throw new Error('kind');
  const tok = n.getOperatorToken();
  const operand = n.getOperand();
  switch (tok) {
    case SK.ExclamationToken: return l.boolValue(n);
    case SK.MinusToken: {
      const v = l.int(operand);
      // An untyped literal stays exact; anything else is 0 - v in the promoted type.
      if (v.op.kind === 'imm' && v.literal) return { ...v, op: imm(-v.op.value), t: literalType(-v.op.value) };
      return l.arith('sub', { k: 'int', op: imm(0), t: I32, literal: true }, v, n);
    }
    case SK.TildeToken: {
      const v = l.int(operand);
      if (v.op.kind === 'imm' && v.literal) return { ...v, op: imm(~v.op.value), t: literalType(~v.op.value) };
      return l.arith('xor', v, { k: 'int', op: imm(-1), t: I32, literal: true }, n);
    }
    case SK.PlusPlusToken:
    case SK.MinusMinusToken: {
      const p = l.place(operand);
      const cur = l.readPlace(p);
      const next = l.arith(tok === SK.PlusPlusToken ? 'add' : 'sub', cur, { k: 'int', op: imm(1), t: I32, literal: true }, n);
      const t = p.k === 'global' ? globalIntType(p.global) : p.t;
      l.writePlace(p, l.convert(next, t, n), n);
      return l.readPlace(p);
    }
    default:
      return l.fail(n, 'TSBPF_OPERATOR', `operator ${n.getText()[0]} is not supported`);
  }
};

E[SK.PostfixUnaryExpression] = (l, n) => {
  if (!Node.isPostfixUnaryExpression(n)) throw new Error('kind');
  const p = l.place(n.getOperand());
  const cur = l.readPlace(p);
  const old = l.newReg();
  l.emit({ op: 'mov', dst: old, src: cur.op, bits: 64 });
  const next = l.arith(n.getOperatorToken() === SK.PlusPlusToken ? 'add' : 'sub', cur, { k: 'int', op: imm(1), t: I32, literal: true }, n);
  const t = p.k === 'global' ? globalIntType(p.global) : p.t;
  l.writePlace(p, l.convert(next, t, n), n);
  return { k: 'int', op: reg(old), t: cur.t };
};

E[SK.BinaryExpression] = (l, n) => {
  if (!Node.isBinaryExpression(n)) throw new Error('kind');
  const tok = n.getOperatorToken().getKind();
  if (tok === SK.EqualsToken) {
    const p = l.place(n.getLeft());
    const v = l.int(n.getRight());
    l.writePlace(p, v, n.getRight());
    return v;
  }
  const compound = COMPOUND_TOKENS[tok];
  if (compound) {
    const p = l.place(n.getLeft());
    const cur = l.readPlace(p);
    const right = l.int(n.getRight());
    const next = tok === SK.GreaterThanGreaterThanGreaterThanEqualsToken ? l.shift('ursh', cur, right, n) : l.arith(compound, cur, right, n);
    const t = p.k === 'global' ? globalIntType(p.global) : p.t;
    // Compound assignment truncates to the target's type, as in C.
    l.writePlace(p, l.convert(next, t, n), n);
    return next;
  }
  if ((tok === SK.AmpersandAmpersandToken || tok === SK.BarBarToken) && !isBooleanExpression(l, n)) return logicalValue(l, n, tok === SK.AmpersandAmpersandToken);
  if (COMPARISONS[tok] || tok === SK.AmpersandAmpersandToken || tok === SK.BarBarToken) return l.boolValue(n);
  const alu = ARITH_TOKENS[tok];
  if (alu) {
    const a = l.int(n.getLeft());
    const b = l.int(n.getRight());
    if (tok === SK.GreaterThanGreaterThanGreaterThanToken) return l.shift('ursh', a, b, n);
    return l.arith(alu, a, b, n);
  }
  if (tok === SK.QuestionQuestionToken) return nullish(l, n);
  if (tok === SK.CommaToken) {
    l.expr(n.getLeft());
    return l.expr(n.getRight());
  }
  return l.fail(n.getOperatorToken(), 'TSBPF_OPERATOR', `operator ${n.getOperatorToken().getText()} is not supported`);
};

E[SK.ConditionalExpression] = (l, n) => {
  if (!Node.isConditionalExpression(n)) throw new Error('kind');
  const elseLabel = l.newLabel('else');
  const end = l.newLabel('endcond');
  const dst = l.newReg();
  const arms = [n.getWhenTrue(), n.getWhenFalse()] as const;
  // A reference when TypeScript says both arms are (or null); otherwise an integer, nullable when an arm may be null.
  const refResult = isReferenceExpression(l, n);
  const nullFlag = !refResult && mayBeNull(l, n) ? l.newReg() : undefined;
  l.branch(n.getCondition(), elseLabel, false);
  const values: Value[] = [];
  const jumps: Array<ReturnType<typeof l.lastOp>> = [];
  arms.forEach((arm, i) => {
    // Each arm's value is taken in its own branch (an integer field is read there).
    const v = l.taken(l.expr(arm), arm);
    if (refResult) {
      if (v.k !== 'ptr' && v.k !== 'null') l.fail(arm, 'TSBPF_NOT_INTEGER', `expected a reference here, got ${describeValue(v)}`);
      const m = v.k === 'ptr' ? l.materializeRef(v) : v;
      l.emit({ op: 'mov', dst, src: m.k === 'ptr' ? reg(m.reg) : imm(0), bits: 64 });
      values.push(m);
    } else {
      values.push(v.k === 'null' && nullFlag !== undefined ? v : l.intOf(v, arm));
    }
    if (i === 0) {
      l.emit({ op: 'jmp', target: end });
      jumps.push(l.lastOp());
      l.label(elseLabel);
    }
  });
  if (refResult) {
    l.label(end);
    const ptr = values.find((v) => v.k === 'ptr');
    // Either arm's references: the result is released when either is.
    const refs = values.reduce<number[]>((acc, v) => (v.k === 'ptr' ? unionRefs(acc, v.refs) : acc), []);
    return ptr ? { ...ptr, reg: dst, ...withRefs(refs) } : { k: 'null' };
  }
  // Integer arms are converted to their common type, in their own branch.
  const ints = values.filter((v): v is Extract<Value, { k: 'int' }> => v.k === 'int');
  const t = ints.length === 2 ? l.commonType(ints[0]!, ints[1]!) : ints[0]?.t ?? I32;
  const assign = (v: Value, node: Node) => assignIntArm(l, { dst, t, nullFlag }, v, node);
  l.emitBefore(jumps[0]!, () => assign(values[0]!, arms[0]));
  assign(values[1]!, arms[1]);
  l.label(end);
  return { k: 'int', op: reg(dst), t, ...(nullFlag !== undefined ? { orNull: nullFlag } : {}) };
};

/**
 * One arm of a choice between integers (`?:`, `??`): its value converted to
 * the result type `t` into `dst` (0 for null), and whether it is present
 * into `nullFlag` when the result may be null.
 */
function assignIntArm(l: FunctionLowering, to: { dst: VReg; t: IntType; nullFlag: VReg | undefined }, v: Value, node: Node): void {
  if (v.k === 'int') {
    const c = l.convert(v, to.t, node);
    l.emit({ op: 'mov', dst: to.dst, src: c.op.kind === 'imm' ? imm(wrapTo(c.op.value, to.t)) : c.op, bits: 64 });
  } else {
    l.emit({ op: 'mov', dst: to.dst, src: imm(0), bits: 64 });
  }
  if (to.nullFlag !== undefined) l.emit({ op: 'mov', dst: to.nullFlag, src: v.k === 'int' ? (v.orNull !== undefined ? reg(v.orNull) : imm(1)) : imm(0), bits: 64 });
}

/** `a ?? b`: `a` unless it is null, else `b`, which runs only then; integers meet in their common type, in their own branch. */
function nullish(l: FunctionLowering, n: import('ts-morph').BinaryExpression): Value {
  const [leftNode, rightNode] = [n.getLeft(), n.getRight()];
  const left = l.taken(l.expr(leftNode), leftNode);
  if (left.k === 'null') return l.taken(l.expr(rightNode), rightNode);
  // An integer that cannot be null: `b` never runs.
  if (left.k === 'int' && left.orNull === undefined) return left;
  if (left.k !== 'int' && left.k !== 'ptr') return l.fail(leftNode, 'TSBPF_NOT_INTEGER', `?? needs a reference or a nullable integer on its left, got ${describeValue(left)}`);
  const dst = l.newReg();
  const useRight = l.newLabel('nullish');
  const end = l.newLabel('endnullish');
  if (isReferenceExpression(l, n)) {
    if (left.k !== 'ptr') return l.fail(leftNode, 'TSBPF_NOT_INTEGER', `expected a reference here, got ${describeValue(left)}`);
    const m = l.materializeRef(left);
    l.emit({ op: 'mov', dst, src: reg(m.reg), bits: 64 });
    l.emit({ op: 'br', cmp: 'ne', bits: 64, a: dst, b: imm(0), target: end });
    const r = l.taken(l.expr(rightNode), rightNode);
    if (r.k !== 'ptr' && r.k !== 'null') l.fail(rightNode, 'TSBPF_NOT_INTEGER', `expected a reference here, got ${describeValue(r)}`);
    const rm = r.k === 'ptr' ? l.materializeRef(r) : undefined;
    l.emit({ op: 'mov', dst, src: rm ? reg(rm.reg) : imm(0), bits: 64 });
    l.label(end);
    // Either side's references: the result is released when either is.
    return { ...m, reg: dst, ...withRefs(unionRefs(m.refs, rm?.refs)) };
  }
  if (left.k !== 'int') return l.fail(leftNode, 'TSBPF_NOT_INTEGER', `expected an integer here, got ${describeValue(left)}`);
  const nullFlag = mayBeNull(l, n) ? l.newReg() : undefined;
  l.emit({ op: 'br', cmp: 'eq', bits: 64, a: left.orNull!, b: imm(0), target: useRight });
  l.emit({ op: 'jmp', target: end });
  const jump = l.lastOp();
  l.label(useRight);
  const right = l.taken(l.expr(rightNode), rightNode);
  const r = right.k === 'null' && nullFlag !== undefined ? right : l.intOf(right, rightNode);
  const t = r.k === 'int' ? l.commonType(left, r) : left.t;
  const assign = (v: Value, node: Node) => assignIntArm(l, { dst, t, nullFlag }, v, node);
  l.emitBefore(jump, () => assign({ k: 'int', op: left.op, t: left.t }, leftNode));
  assign(r, rightNode);
  l.label(end);
  return { k: 'int', op: reg(dst), t, ...(nullFlag !== undefined ? { orNull: nullFlag } : {}) };
}

E[SK.TypeOfExpression] = (l, n) => l.fail(n, 'TSBPF_UNSUPPORTED', 'typeof is not supported in BPF programs');
E[SK.DeleteExpression] = (l, n) => l.fail(n, 'TSBPF_HEAP', 'delete is not supported (there is no heap)');

/** Whether an expression's TypeScript type is an object (a reference) or null, rather than a number. */
function isReferenceExpression(l: FunctionLowering, node: Node): boolean {
  const t = l.cx.checker.getTypeAtLocation(node);
  if (t.isNull()) return true;
  const parts = t.isUnion() ? t.getUnionTypes() : [t];
  return parts.every((p) => p.isNull() || p.isObject());
}

/** Whether an expression's TypeScript type includes null. */
function isBooleanExpression(l: FunctionLowering, node: Node): boolean {
  const t = l.cx.checker.getTypeAtLocation(node);
  const parts = t.isUnion() ? t.getUnionTypes() : [t];
  return parts.every((p) => p.isBoolean() || p.isBooleanLiteral());
}

/**
 * `a && b` and `a || b` as integer values, as TypeScript gives them: `a`
 * when it decides (0 for &&, not 0 for ||), else `b`, which runs only then;
 * both converted to their common type (each in its own branch).
 */
function logicalValue(l: FunctionLowering, n: import('ts-morph').BinaryExpression, isAnd: boolean): Value {
  const dst = l.newReg();
  const end = l.newLabel('endlogic');
  const nullFlag = mayBeNull(l, n) ? l.newReg() : undefined;
  const a = l.intOf(l.taken(l.expr(n.getLeft()), n.getLeft()), n.getLeft());
  const test = l.toReg(a);
  l.emit({ op: 'br', cmp: isAnd ? 'eq' : 'ne', bits: a.t.bits === 64 || a.orNull !== undefined ? 64 : 32, a: test, b: imm(0), target: end });
  const decided = l.lastOp();
  const right = l.taken(l.expr(n.getRight()), n.getRight());
  const b = right.k === 'null' && nullFlag !== undefined ? undefined : l.intOf(right, n.getRight());
  const t = !b ? a.t : a.t.name === 'bool' && b.t.name === 'bool' ? a.t : l.commonType(a, b);
  const assign = (v: Extract<Value, { k: 'int' }> | undefined, node: Node) => {
    const c = v ? l.convert(v, t, node) : undefined;
    l.emit({ op: 'mov', dst, src: c ? (c.op.kind === 'imm' ? imm(wrapTo(c.op.value, t)) : c.op) : imm(0), bits: 64 });
    if (nullFlag !== undefined) l.emit({ op: 'mov', dst: nullFlag, src: v ? (v.orNull !== undefined ? reg(v.orNull) : imm(1)) : imm(0), bits: 64 });
  };
  l.emitBefore(decided, () => assign(a, n.getLeft()));
  assign(b, n.getRight());
  l.label(end);
  return { k: 'int', op: reg(dst), t, ...(nullFlag !== undefined ? { orNull: nullFlag } : {}) };
}

function mayBeNull(l: FunctionLowering, node: Node): boolean {
  const t = l.cx.checker.getTypeAtLocation(node);
  return t.isNull() || (t.isUnion() && t.getUnionTypes().some((p) => p.isNull()));
}
