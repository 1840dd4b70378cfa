/**
 * The initial bytes of a `rodata`/`global`: a constant for an integer, an
 * array literal for a FixedArray, an object literal for a struct, nested as
 * the type is; what is not given is zero.
 */
import { Node } from 'ts-morph';
import type { CompilerContext } from './context.js';
import { type CType, sizeOf, typeName } from './ctypes.js';

export function initialBytes(cx: CompilerContext, t: CType, node: Node | undefined): Uint8Array {
  const out = new Uint8Array(sizeOf(t));
  if (node) write(cx, t, node, out, 0);
  return out;
}

function write(cx: CompilerContext, t: CType, node: Node, out: Uint8Array, at: number): void {
  const n = Node.isParenthesizedExpression(node) || Node.isAsExpression(node) || Node.isSatisfiesExpression(node) ? node.getExpression() : node;
  if (t.kind === 'int') {
    const v = cx.constantOf(n);
    if (v === undefined) return cx.report(n, 'TSBPF_CONST', "a global's initial value must be a constant");
    const u = BigInt.asUintN(t.bits, v);
    for (let i = 0; i < t.bits / 8; i++) out[at + i] = Number((u >> BigInt(8 * i)) & 0xffn);
    return;
  }
  if (t.kind === 'array') {
    if (!Node.isArrayLiteralExpression(n)) return cx.report(n, 'TSBPF_CONST', `the initial value of a ${typeName(t)} is an array literal of constants`);
    const elements = n.getElements();
    if (elements.length > t.length) return cx.report(elements[t.length]!, 'TSBPF_CONST', `${elements.length} elements do not fit ${typeName(t)}`);
    const size = sizeOf(t.element);
    elements.forEach((e, i) => write(cx, t.element, e, out, at + i * size));
    return;
  }
  if (!Node.isObjectLiteralExpression(n)) return cx.report(n, 'TSBPF_CONST', `the initial value of struct ${t.name} is an object literal of constants`);
  for (const p of n.getProperties()) {
    const init = Node.isPropertyAssignment(p) ? p.getInitializer() : Node.isShorthandPropertyAssignment(p) ? p.getNameNode() : undefined;
    const f = init && (Node.isPropertyAssignment(p) || Node.isShorthandPropertyAssignment(p)) ? t.fields.find((x) => x.name === p.getName()) : undefined;
    if (!init || !f) {
      cx.report(p, 'TSBPF_CONST', `struct ${t.name} is initialised with plain properties of its fields`);
      continue;
    }
    write(cx, f.type, init, out, at + f.offset);
  }
}
