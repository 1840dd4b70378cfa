/**
 * CStr comparisons: `s.equals(x)` and `s.startsWith(x)` with a string
 * literal or another CStr, unrolled byte by byte up to the arrays' bounds
 * (no loop for the verifier to bound), stopping at the first NUL.
 */
import { Node } from 'ts-morph';
import { INT_TYPES } from './ctypes.js';
import { imm, reg, type VReg } from './ir.js';
import type { FunctionLowering } from './lower.js';
import type { Value } from './values.js';

type Ptr = Extract<Value, { k: 'ptr' }>;

export function cstrMethod(l: FunctionLowering, s: Ptr, method: string, args: Node[], node: Node): Value {
  if (method !== 'equals' && method !== 'startsWith') return l.fail(node, 'TSBPF_METHOD', `CStr has equals and startsWith in programs, not ${method}`);
  const argNode = l.argAt(args, 0, node);
  const length = s.to.kind === 'array' ? s.to.length : 0;
  const out = l.newReg();
  const no = l.newLabel('str_ne');
  const yes = l.newLabel('str_eq');
  l.emit({ op: 'mov', dst: out, src: imm(0), bits: 64 });
  const byte = (p: VReg, i: number): VReg => l.toReg(l.load(p, i, INT_TYPES.u8!));
  if (Node.isStringLiteral(argNode) || Node.isNoSubstitutionTemplateLiteral(argNode)) {
    const lit = new TextEncoder().encode(argNode.getLiteralValue());
    if (lit.includes(0)) l.fail(argNode, 'TSBPF_STRING', 'a string compared with a CStr cannot hold NUL');
    l.at(node);
    // Longer than the array: never equal, never a prefix.
    if (lit.length > length || (method === 'equals' && lit.length === length && length === 0)) {
      l.emit({ op: 'jmp', target: no });
    } else {
      lit.forEach((c, i) => l.emit({ op: 'br', cmp: 'ne', bits: 32, a: byte(s.reg, i), b: imm(c), target: no }));
      if (method === 'equals' && lit.length < length) l.emit({ op: 'br', cmp: 'ne', bits: 32, a: byte(s.reg, lit.length), b: imm(0), target: no });
    }
  } else {
    const o = l.expr(argNode);
    if (o.k !== 'ptr' || o.to.kind !== 'array' || !o.to.cstr) return l.fail(argNode, 'TSBPF_STRING', `${method} takes a string literal or a CStr`);
    const other = o.to.length;
    l.at(node);
    const common = Math.min(length, other);
    for (let i = 0; i < common; i++) {
      const a = byte(s.reg, i);
      const b = byte(o.reg, i);
      if (method === 'startsWith') l.emit({ op: 'br', cmp: 'eq', bits: 32, a: b, b: imm(0), target: yes });
      l.emit({ op: 'br', cmp: 'ne', bits: 32, a, b: reg(b), target: no });
      if (method === 'equals') l.emit({ op: 'br', cmp: 'eq', bits: 32, a, b: imm(0), target: yes });
    }
    // All `common` bytes matched without a NUL: the longer array (if any) must end here.
    if (method === 'equals' && length !== other) l.emit({ op: 'br', cmp: 'ne', bits: 32, a: byte(length > other ? s.reg : o.reg, common), b: imm(0), target: no });
    if (method === 'startsWith' && other > length) l.emit({ op: 'br', cmp: 'ne', bits: 32, a: byte(o.reg, common), b: imm(0), target: no });
  }
  l.label(yes);
  l.emit({ op: 'mov', dst: out, src: imm(1), bits: 64 });
  l.label(no);
  return { k: 'int', op: reg(out), t: INT_TYPES.bool! };
}

