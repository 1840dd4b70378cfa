/**
 * `atomic.*`: BPF_ATOMIC read-modify-write operations on a 32/64-bit
 * integer field of a reference (`atomic.add(stats, 'bytes', n)`) or on a
 * `global()`, as clang emits them for the __sync_* builtins.
 */
import { Node } from 'ts-morph';
import { type IntType, typeName } from './ctypes.js';
import { type AtomicCall, imm, reg, type VReg } from './ir.js';
import type { FunctionLowering } from './lower.js';
import { globalIntType } from './module-model.js';
import type { Value } from './values.js';

const METHODS: Record<string, { aop: AtomicCall['aop']; fetch: boolean; operands: 1 | 2 }> = {
  add: { aop: 'add', fetch: false, operands: 1 },
  or: { aop: 'or', fetch: false, operands: 1 },
  and: { aop: 'and', fetch: false, operands: 1 },
  xor: { aop: 'xor', fetch: false, operands: 1 },
  fetchAdd: { aop: 'add', fetch: true, operands: 1 },
  fetchOr: { aop: 'or', fetch: true, operands: 1 },
  fetchAnd: { aop: 'and', fetch: true, operands: 1 },
  fetchXor: { aop: 'xor', fetch: true, operands: 1 },
  exchange: { aop: 'xchg', fetch: true, operands: 1 },
  compareExchange: { aop: 'cmpxchg', fetch: true, operands: 2 },
};

/** The memory an atomic works on: a base register, an offset and the integer type there. */
export interface AtomicTarget {
  base: VReg;
  off: number;
  t: IntType;
}

export function atomicCall(l: FunctionLowering, method: string, args: Node[], node: Node): Value {
  const m = METHODS[method];
  if (!m) return l.fail(node, 'TSBPF_METHOD', `atomic has ${Object.keys(METHODS).join(', ')}, not ${method}`);
  const { target, rest } = atomicTarget(l, args, node);
  const operands = rest.map((a) => l.toReg(l.coerceLoose(l.int(a), target.t, a)));
  if (operands.length < m.operands) l.fail(node, 'TSBPF_ARGS', `atomic.${method} needs ${m.operands} value(s)`);
  return atomicOp(l, target, m.aop, m.fetch, operands, node);
}

/** Emits one atomic on `target`; the fetch forms give the old value. */
export function atomicOp(l: FunctionLowering, target: AtomicTarget, aop: AtomicCall['aop'], fetch: boolean, operands: VReg[], node: Node): Value {
  const size = (target.t.bits / 8) as 4 | 8;
  l.at(node);
  if (aop === 'add' && !fetch) {
    l.emit({ op: 'atomicAdd', base: target.base, off: target.off, size, value: operands[0]! });
    return { k: 'void' };
  }
  // r2 the value to store, r3 (cmpxchg) the expected one: operands come as (expected, value).
  const args = aop === 'cmpxchg' ? [reg(target.base), reg(operands[1]!), reg(operands[0]!)] : [reg(target.base), reg(operands[0]!)];
  const dst = fetch ? l.newReg() : undefined;
  l.emit({ op: 'call', helper: -1, args, ...(dst !== undefined ? { dst } : {}), atomic: { aop, fetch, size, off: target.off } });
  if (dst === undefined) return { k: 'void' };
  // A 32-bit fetch gives the old value zero-extended, as the type's register form is.
  return { k: 'int', op: reg(dst), t: target.t };
}

/** The field or global an `atomic.*` call names, and the arguments after it. */
function atomicTarget(l: FunctionLowering, args: Node[], node: Node): { target: AtomicTarget; rest: Node[] } {
  const first = l.argAt(args, 0, node);
  const v = l.expr(first);
  let target: AtomicTarget;
  let rest: Node[];
  if (v.k === 'global') {
    if (v.global.section === '.rodata') l.fail(first, 'TSBPF_RODATA_WRITE', `${v.global.name} is rodata: set it from user space before load`);
    if (v.global.type.kind !== 'int') l.fail(first, 'TSBPF_ATOMIC', `atomics work on integer globals; ${v.global.name} is ${typeName(v.global.type)} (name one of its integer elements or fields)`);
    const base = l.newReg();
    l.emit({ op: 'map', dst: base, map: v.global.section, valueOffset: v.global.offset });
    target = { base, off: 0, t: globalIntType(v.global) };
    rest = args.slice(1);
  } else if (v.k === 'ptr' && v.to.kind === 'struct') {
    const nameNode = l.argAt(args, 1, node);
    const name = Node.isStringLiteral(nameNode) || Node.isNoSubstitutionTemplateLiteral(nameNode) ? nameNode.getLiteralValue() : undefined;
    if (name === undefined) return l.fail(nameNode, 'TSBPF_ATOMIC', 'name the field with a string literal: atomic.add(stats, \'bytes\', n)');
    const f = v.to.fields.find((x) => x.name === name);
    if (!f) return l.fail(nameNode, 'TSBPF_MEMBER', `${v.to.name} has no field ${name}`);
    if (f.type.kind !== 'int') return l.fail(nameNode, 'TSBPF_ATOMIC', `atomics work on integer fields; ${name} is ${typeName(f.type)}`);
    if (v.space === 'packet' || v.space === 'ctx' || v.space === 'mapkey' || v.space === 'sock') l.fail(first, 'TSBPF_ATOMIC', `atomics work on map values, globals, events and the stack, not on ${v.space === 'packet' ? 'packet data' : v.space === 'ctx' ? 'the context' : v.space === 'sock' ? 'a socket' : "a map's key"}`);
    target = { base: v.reg, off: f.offset, t: f.type };
    rest = args.slice(2);
  } else {
    return l.fail(first, 'TSBPF_ATOMIC', 'atomics work on an integer field of a reference (atomic.add(stats, \'bytes\', n)) or on a global()');
  }
  if (target.t.bits !== 32 && target.t.bits !== 64) l.fail(args[v.k === 'global' ? 0 : 1]!, 'TSBPF_ATOMIC', `atomics work on 32- and 64-bit integers, not ${target.t.name}`);
  return { target, rest };
}

