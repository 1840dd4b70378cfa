/**
 * Kernel memory through CO-RE, as clang's BPF_CORE_READ does: a field of a
 * `Ptr<T>` is read with bpf_probe_read_kernel at `pointer + offset`, the
 * offset being a `mov` that carries a field-byte-offset relocation in
 * .BTF.ext (so the loader, libbpf or tsbpf, writes the running kernel's
 * offset there). Members of structs held by value and constant array
 * indexes extend one access path; each pointer on the way is one read.
 */
import { Node as TsNode, type Node } from 'ts-morph';
import { Helper } from '../../asm/helpers.js';
import type { CoreReloKind } from '../../btf/ext.js';
import { BOOL, INT_TYPES, type IntType, U32, U64 } from './ctypes.js';
import { imm, reg, type VReg } from './ir.js';
import { describeKType, type KernelStruct, kernelTypes, type KType, readSize } from './kernel-types.js';
import type { FunctionLowering } from './lower.js';
import type { Value } from './values.js';

type KernelValue = Extract<Value, { k: 'kernel' }>;
type IntValue = Extract<Value, { k: 'int' }>;

/** Whether an integer value is a kernel pointer (`Ptr<T>`). */
export const isKernelPointer = (v: Value): v is IntValue => v.k === 'int' && v.t.pointee !== undefined;

/** The struct a pointer points to, or a diagnostic. */
function pointee(l: FunctionLowering, v: IntValue, node: Node): KernelStruct {
  const p = v.t.pointee;
  const t = p ? kernelTypes(l.cx).resolvePointee(p) : undefined;
  if (t?.kind !== 'struct') return l.fail(node, 'TSBPF_KERNEL_TYPE', `${v.t.name} does not point to a kernel struct (an interface extending KernelType<'struct …'>), so it has no fields`);
  if (!t.s.name) return l.fail(node, 'TSBPF_KERNEL_TYPE', 'a pointer to an anonymous struct cannot be a CO-RE root; reach it from its named parent');
  return t.s;
}

/** `obj.name` where obj is a kernel pointer or kernel memory. */
export function kernelMember(l: FunctionLowering, obj: Value, name: string, node: Node): Value {
  const k = kernelTypes(l.cx);
  let v: KernelValue;
  if (obj.k === 'int') v = { k: 'kernel', base: l.toReg(obj), root: pointee(l, obj, node), path: [], type: { kind: 'opaque', text: '' }, ...(obj.t.btfPointer ? { btf: true } : {}) };
  else if (obj.k === 'kernel') {
    if (obj.type.kind === 'ptr') return kernelMember(l, readKernel(l, obj, node), name, node);
    if (obj.type.kind === 'array' && name === 'length') return { k: 'int', op: imm(obj.type.length), t: INT_TYPES.i32!, literal: true };
    if (obj.type.kind !== 'struct') return l.fail(node, 'TSBPF_MEMBER', `${describeKType(obj.type)} has no field ${name}`);
    v = obj;
  } else return l.fail(node, 'TSBPF_MEMBER', `no field ${name} here`);
  const s = v.path.length === 0 && v.root ? v.root : (v.type as Extract<KType, { kind: 'struct' }>).s;
  const t = k.member(s, name);
  if (!t) return l.fail(node, 'TSBPF_MEMBER', `${s.name ? `${s.union ? 'union' : 'struct'} ${s.name}` : 'this anonymous struct'} has no field ${name}`);
  if (!v.root) {
    // Kernel memory without a named root (an element at a run-time index): the struct itself becomes the root.
    if (!s.name) return l.fail(node, 'TSBPF_KERNEL_TYPE', 'fields of an anonymous struct reached at a run-time index cannot be relocated; use a constant index');
    return { k: 'kernel', base: v.base, root: s, path: [{ s, name }], type: t, ...(v.btf ? { btf: true } : {}) };
  }
  return { ...v, path: [...v.path, { s, name }], type: t };
}

/** `obj[i]` on a kernel array. */
export function kernelIndex(l: FunctionLowering, obj: KernelValue, index: IntValue, node: Node): Value {
  if (obj.type.kind !== 'array') return l.fail(node, 'TSBPF_INDEX', `only arrays can be indexed, not ${describeKType(obj.type)}`);
  const element = obj.type.element;
  if (index.op.kind === 'imm') {
    const i = index.op.value;
    if (i < 0n || i >= BigInt(obj.type.length)) return l.fail(node, 'TSBPF_INDEX_RANGE', `index ${i} is outside ${describeKType(obj.type)}`);
    return { ...obj, path: [...obj.path, { index: Number(i), element }], type: element };
  }
  // A run-time index: the element's address, clamped into the array (out of range reads element 0, as for other arrays).
  const size = readSize(element);
  if (size === undefined) return l.fail(node, 'TSBPF_INDEX', 'arrays of structs in kernel memory need constant indexes');
  const p = l.clampedElementAddress(kernelAddress(l, obj, node), index, obj.type.length, size, node);
  // A variable offset from a BTF pointer cannot be loaded directly: the element is read with a probe read.
  return { k: 'kernel', base: p, path: [], type: element };
}

/** A register holding a CO-RE relocated constant. */
export function coreValue(l: FunctionLowering, kind: CoreReloKind, root: KValueRoot, path: KernelValue['path']): VReg {
  const relo = kernelTypes(l.cx).add({ kind, root, path });
  const dst = l.newReg();
  l.emit({ op: 'core', dst, relo });
  return dst;
}
type KValueRoot = Parameters<ReturnType<typeof kernelTypes>['add']>[0]['root'];

/** The kernel address of kernel memory: the base plus its relocated offset. */
export function kernelAddress(l: FunctionLowering, v: KernelValue, node: Node): VReg {
  if (!v.root || v.path.length === 0) return v.base;
  l.at(node);
  const off = coreValue(l, 'fieldByteOffset', v.root, v.path);
  const dst = l.newReg();
  l.emit({ op: 'alu', alu: 'add', bits: 64, dst, a: reg(v.base), b: reg(off) });
  return dst;
}

const scratch = new WeakMap<FunctionLowering, number>();

/** Reads an integer or pointer field: bpf_probe_read_kernel into a scratch slot, then a load. */
export function readKernel(l: FunctionLowering, v: KernelValue, node: Node): IntValue {
  const t = v.type;
  let it: IntType;
  if (t.kind === 'int') it = t.int;
  else if (t.kind === 'ptr') it = kernelTypes(l.cx).pointerType(t.pointee);
  else return l.fail(node, 'TSBPF_KERNEL_READ', `${describeKType(t)} is not an integer or pointer: read a field of it, or copy it with bpf.probeReadKernel(dst, …)`);
  if (v.btf && v.root && v.path.length > 0) {
    // A BTF pointer: one load whose offset is the relocated field offset (what clang emits for a BTF pointer).
    const pointerOut = t.kind === 'ptr' ? kernelTypes(l.cx).pointerType(t.pointee, true) : undefined;
    const relo = kernelTypes(l.cx).add({ kind: 'fieldByteOffset', root: v.root, path: v.path });
    const dst = l.newReg();
    l.at(node);
    l.emit({ op: 'coreLoad', dst, base: v.base, size: (it.bits / 8) as 1 | 2 | 4 | 8, relo });
    if (it.signed && it.bits < 32) {
      l.emit({ op: 'alu', alu: 'lsh', bits: 32, dst, a: reg(dst), b: imm(32 - it.bits) });
      l.emit({ op: 'alu', alu: 'arsh', bits: 32, dst, a: reg(dst), b: imm(32 - it.bits) });
    }
    return { k: 'int', op: reg(dst), t: pointerOut ?? it };
  }
  const addr = kernelAddress(l, v, node);
  let slot = scratch.get(l);
  if (slot === undefined) {
    slot = l.slot(8, node);
    scratch.set(l, slot);
  }
  const p = l.newReg();
  l.at(node);
  l.emit({ op: 'frame', dst: p, slot, off: 0 });
  l.call(Helper.probe_read_kernel, [reg(p), imm(it.bits / 8), reg(addr)], node, false);
  const loaded = l.load(p, 0, { ...it, pointee: undefined });
  return { ...loaded, t: it };
}

/** A kernel field as a source address for bpf.probeReadKernel(Str), with its size. */
export function kernelSource(l: FunctionLowering, v: KernelValue, node: Node): { addr: VReg; size: number | undefined } {
  if (v.type.kind === 'ptr') return { addr: l.toReg(readKernel(l, v, node)), size: undefined };
  return { addr: kernelAddress(l, v, node), size: readSize(v.type) };
}

/** bpf.currentTask(), currentTaskBtf(), fieldExists, fieldSize, typeExists, typeSize, enumValue(Exists). */
export function kernelHelper(l: FunctionLowering, name: string, args: Node[], node: Node): Value | undefined {
  const k = kernelTypes(l.cx);
  switch (name) {
    case 'currentTask':
    case 'currentTaskBtf': {
      const task = kernelDeclaration(l, 'task_struct');
      if (!task) return l.fail(node, 'TSBPF_KERNEL_TYPE', 'task_struct is not declared (tsbpf/dsl/kernel is missing)');
      const r = l.call(name === 'currentTask' ? Helper.get_current_task : Helper.get_current_task_btf, [], node)!;
      return { k: 'int', op: reg(r), t: k.pointerType(task, name === 'currentTaskBtf') };
    }
    case 'fieldExists':
    case 'fieldSize': {
      const objNode = l.argAt(args, 0, node);
      const fieldNode = l.argAt(args, 1, node);
      const field = stringOf(l, fieldNode);
      if (field === undefined) return l.fail(fieldNode, 'TSBPF_CONST_STRING', 'the field name must be a string literal');
      const f = kernelMember(l, l.expr(objNode), field, fieldNode);
      if (f.k !== 'kernel' || !f.root) return l.fail(objNode, 'TSBPF_KERNEL_TYPE', `bpf.${name} needs a field of a kernel struct`);
      const r = coreValue(l, name === 'fieldExists' ? 'fieldExists' : 'fieldByteSize', f.root, f.path);
      return { k: 'int', op: reg(r), t: name === 'fieldExists' ? BOOL : U32 };
    }
    case 'typeExists':
    case 'typeSize': {
      const ta = Node_typeArg(node);
      const t = ta ? k.resolve(ta) : undefined;
      if (t?.kind !== 'struct' || !t.s.name) return l.fail(node, 'TSBPF_KERNEL_TYPE', `bpf.${name}<T>() needs a kernel struct type argument (an interface extending KernelType<'struct …'>)`);
      const r = coreValue(l, name === 'typeExists' ? 'typeExists' : 'typeSize', t.s, []);
      return { k: 'int', op: reg(r), t: name === 'typeExists' ? BOOL : U32 };
    }
    case 'enumValue':
    case 'enumValueExists': {
      const enumNode = l.argAt(args, 0, node);
      const nameNode = l.argAt(args, 1, node);
      const decl = l.cx.declarationOf(enumNode);
      const e = decl ? k.enumOfConst(decl) : undefined;
      if (!e) return l.fail(enumNode, 'TSBPF_KERNEL_TYPE', `bpf.${name} needs a kernel enum (its \`export const\` from tsbpf/dsl/kernel or btf dump)`);
      const member = stringOf(l, nameNode);
      const value = member !== undefined ? enumeratorOf(l, decl!, member) : undefined;
      if (member === undefined || value === undefined) return l.fail(nameNode, 'TSBPF_CONST_STRING', `the enumerator must be a string literal naming a member of ${e.name}`);
      if (!e.used.has(member)) e.used.set(member, value);
      const r = coreValue(l, name === 'enumValue' ? 'enumvalValue' : 'enumvalExists', e, [{ s: { name: e.name, union: false, node: decl!, used: new Map() }, name: member }]);
      return { k: 'int', op: reg(r), t: name === 'enumValue' ? U64 : BOOL };
    }
    default:
      return undefined;
  }
}

/** An interface of tsbpf/dsl/kernel by name. */
function kernelDeclaration(l: FunctionLowering, name: string): Node | undefined {
  for (const [sf, module] of l.cx.dslFiles) if (module === 'kernel') return sf.getInterface(name);
  return undefined;
}

function stringOf(l: FunctionLowering, node: Node): string | undefined {
  if (TsNode.isStringLiteral(node) || TsNode.isNoSubstitutionTemplateLiteral(node)) return node.getLiteralValue();
  const lit = l.cx.literalOf(node);
  return typeof lit === 'string' ? lit : undefined;
}

/** The value of enumerator `member` in a kernel enum's `export const e = { … } as const`. */
function enumeratorOf(l: FunctionLowering, decl: Node, member: string): bigint | undefined {
  if (!TsNode.isVariableDeclaration(decl)) return undefined;
  let init = decl.getInitializer();
  if (init && TsNode.isAsExpression(init)) init = init.getExpression();
  if (!init || !TsNode.isObjectLiteralExpression(init)) return undefined;
  const prop = init.getProperty(member);
  const value = prop && TsNode.isPropertyAssignment(prop) ? prop.getInitializer() : undefined;
  return value ? l.cx.constantOf(value) : undefined;
}

function Node_typeArg(node: Node): import('ts-morph').TypeNode | undefined {
  const call = node as unknown as { getTypeArguments?: () => import('ts-morph').TypeNode[] };
  return call.getTypeArguments?.()[0];
}
