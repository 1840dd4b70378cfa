/**
 * The program context: fields of xdp_md / __sk_buff / perf events by DSL
 * name, tracepoint fields from the tracepoint's format, probe arguments.
 */
import { Node } from 'ts-morph';
import { INT_TYPES, U32, U64, type IntType } from './ctypes.js';
import { imm, reg } from './ir.js';
import type { FunctionLowering } from './lower.js';
import { PROGRAM_KINDS } from './program-kinds.js';
import { parseTracepointFormat, type TracepointField } from './tracepoint-format.js';
import type { Value } from './values.js';
import { packetSocket } from './lower-sock.js';

export function ctxMethod(l: FunctionLowering, method: string, args: Node[], node: Node): Value {
  const info = PROGRAM_KINDS[l.program.kind];
  if (method === 'arg' && info.args) {
    const n = args[0] ? l.cx.constantOf(args[0]) : undefined;
    if (n === undefined || n < 0n || n >= BigInt(info.args.length)) l.fail(args[0] ?? node, 'TSBPF_ARG_INDEX', `argument index must be a constant 0…${info.args.length - 1}`);
    return l.load(l.ctxReg, info.args[Number(n)]!, U64);
  }
  if (method === 'ret' && info.ret !== undefined) {
    if (l.program.kind !== 'kretprobe' && l.program.kind !== 'uretprobe') l.fail(node, 'TSBPF_RET', 'ctx.ret() is only available in kretprobe and uretprobe programs');
    return l.load(l.ctxReg, info.ret, U64);
  }
  return l.fail(node, 'TSBPF_METHOD', `the ${l.program.kind} context has no method ${method}`);
}

export function ctxField(l: FunctionLowering, name: string, node: Node): Value {
  const info = PROGRAM_KINDS[l.program.kind];
  if (name === 'packet') {
    if (info.packet) return { k: 'packet' };
    if (l.program.kind !== 'tracepoint') return l.fail(node, 'TSBPF_PACKET', `${l.program.kind} programs have no packet`);
  }
  if (name === 'sk') return packetSocket(l, node);
  const f = info.fields[name];
  if (f) {
    const t = name === 'protocol' ? INT_TYPES.be16! : f.size === 8 ? U64 : U32;
    const dst = l.newReg();
    l.emit({ op: 'load', dst, base: l.ctxReg, off: f.offset, size: f.size });
    return { k: 'int', op: reg(dst), t };
  }
  if (l.program.kind === 'tracepoint') {
    const fields = tracepointFields(l, node);
    const tf = fields.get(name);
    if (!tf) return l.fail(node, 'TSBPF_TP_FIELD', `tracepoint ${l.program.target} has no field '${name}' (fields: ${[...fields.keys()].join(', ')})`);
    if (tf.dataLoc) {
      // The data's kernel address: the record (ctx) plus the low 16 bits of the field.
      const loc = l.load(l.ctxReg, tf.offset, U32);
      const dst = l.newReg();
      l.emit({ op: 'alu', alu: 'and', bits: 64, dst, a: loc.op, b: imm(0xffff) });
      l.emit({ op: 'alu', alu: 'add', bits: 64, dst, a: reg(dst), b: reg(l.ctxReg) });
      return { k: 'int', op: reg(dst), t: U64 };
    }
    if (tf.length !== undefined) {
      const esize = tf.size / tf.length;
      if (esize !== 1 && esize !== 2 && esize !== 4 && esize !== 8) return l.fail(node, 'TSBPF_TP_FIELD', `field '${name}' is an array of ${esize}-byte elements; only integer arrays can be read`);
      const element = INT_TYPES[`${tf.signed && !tf.char ? 'i' : 'u'}${esize * 8}`]!;
      return { k: 'ptr', reg: l.offsetPtr(l.ctxReg, tf.offset), to: { kind: 'array', element, length: tf.length, ...(tf.char ? { cstr: true } : {}) }, space: 'ctx' };
    }
    if (tf.size !== 1 && tf.size !== 2 && tf.size !== 4 && tf.size !== 8) return l.fail(node, 'TSBPF_TP_FIELD', `field '${name}' is ${tf.size} bytes; only integer and pointer fields can be read`);
    const declared = declaredPointer(l, node);
    if (declared) {
      // A pointer the format declares (`const void * skaddr`) read as the Ptr<T> the module says it is.
      if (!tf.pointer || tf.size !== 8) return l.fail(node, 'TSBPF_TP_FIELD', `field '${name}' is not a pointer in the tracepoint's format; only pointer fields can be declared Ptr<T>`);
      return l.load(l.ctxReg, tf.offset, declared);
    }
    const t = INT_TYPES[`${tf.signed ? 'i' : 'u'}${tf.size * 8}`]!;
    return l.load(l.ctxReg, tf.offset, t);
  }
  return l.fail(node, 'TSBPF_CTX_FIELD', `the ${l.program.kind} context has no field '${name}'`);
}

/** The Ptr<T> type a tracepoint field is declared with in the program's type argument (`tracepoint<{ skaddr: Ptr<sock> }>`), if any. */
function declaredPointer(l: FunctionLowering, node: Node): IntType | undefined {
  if (!Node.isPropertyAccessExpression(node)) return undefined;
  const decl = l.cx.checker.getSymbolAtLocation(node.getNameNode())?.getDeclarations()[0];
  const typeNode = decl && Node.isPropertySignature(decl) ? decl.getTypeNode() : undefined;
  if (!typeNode || !Node.isTypeReference(typeNode) || l.cx.dslRef(typeNode.getTypeName())?.name !== 'Ptr') return undefined;
  const t = l.cx.ctypeOf(typeNode);
  return t.kind === 'int' && t.pointee !== undefined ? t : undefined;
}

function tracepointFields(l: FunctionLowering, node: Node): Map<string, TracepointField> {
  if (l.tracepointFields) return l.tracepointFields;
  const [group, name] = (l.program.target ?? '').split('/');
  const text = l.cx.hooks.tracepointFormat?.(group ?? '', name ?? '');
  if (typeof text === 'object') return l.fail(node, 'TSBPF_TRACEPOINT', `the format of tracepoint ${l.program.target} cannot be read: ${text.unavailable}`);
  if (text === undefined) return l.fail(node, 'TSBPF_TRACEPOINT', `the format of tracepoint ${l.program.target} is not available (is tracefs mounted, and does the tracepoint exist?)`);
  l.tracepointFields = parseTracepointFormat(text);
  return l.tracepointFields;
}
