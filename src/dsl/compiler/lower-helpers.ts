/**
 * The `bpf.*` helpers: checked against the program kind, lowered to helper
 * calls with their arguments in C form.
 */
import { Node, SyntaxKind } from 'ts-morph';
import { parseBprintfFormat } from '../../asm/bprintf-format.js';
import { Helper } from '../../asm/helpers.js';
import { I32, I64, type IntType, sizeOf, SPIN_LOCK, U32, U64 } from './ctypes.js';
import { HELPER_PROGRAMS } from './helpers.js';
import { imm, type Operand, reg, type VReg } from './ir.js';
import type { FunctionLowering } from './lower.js';
import { kernelHelper, kernelSource } from './lower-kernel.js';
import { reloadPacketBounds } from './lower-packet.js';
import { loopCall } from './subprograms.js';
import { skFullsock } from './lower-sock.js';
import type { Value } from './values.js';

/** sizeof(struct bpf_fib_lookup). */
const FIB_PARAMS_SIZE = 64;

export function helperCall(l: FunctionLowering, name: string, args: Node[], node: Node): Value {
  const allowed = HELPER_PROGRAMS[name];
  if (!allowed) return l.fail(node, 'TSBPF_HELPER', `bpf.${name} is not a helper`);
  if (!allowed.includes(l.program.kind)) return l.fail(node, 'TSBPF_HELPER_PROGRAM_TYPE', `bpf.${name} is not available in ${l.program.kind} programs`);
  const intArg = (i: number, t: IntType = U64) => (args[i] ? l.coerceLoose(l.int(args[i]!), t, args[i]!).op : imm(0));
  const ptrArg = (i: number): Extract<Value, { k: 'ptr' }> => {
    const v = args[i] ? l.expr(args[i]!) : undefined;
    if (!v || v.k !== 'ptr') return l.fail(args[i] ?? node, 'TSBPF_HELPER_ARG', `bpf.${name} needs a struct, array or CStr to write into`);
    return v;
  };
  const ctxArg = (i: number) => {
    const v = args[i] ? l.expr(args[i]!) : undefined;
    if (!v || v.k !== 'ctx') l.fail(args[i] ?? node, 'TSBPF_HELPER_ARG', `bpf.${name} takes the program's ctx first`);
    return reg(l.ctxReg);
  };
  const result = (r: VReg | undefined, t: IntType): Value => ({ k: 'int', op: reg(r!), t });
  const kernel = kernelHelper(l, name, args, node);
  if (kernel) return kernel;
  switch (name) {
    case 'loop': return loopCall(l, args, node);
    case 'ktimeNs': return result(l.call(Helper.ktime_get_ns, [], node), U64);
    case 'random': return result(l.call(Helper.get_prandom_u32, [], node), U32);
    case 'cpu': return result(l.call(Helper.get_smp_processor_id, [], node), U32);
    case 'pidTgid': return result(l.call(Helper.get_current_pid_tgid, [], node), U64);
    case 'pid':
    case 'tgid':
    case 'gid': {
      const r = l.call(name === 'gid' ? Helper.get_current_uid_gid : Helper.get_current_pid_tgid, [], node)!;
      const dst = l.newReg();
      l.emit({ op: 'alu', alu: 'rsh', bits: 64, dst, a: reg(r), b: imm(32) });
      return { k: 'int', op: reg(dst), t: U32 };
    }
    case 'tid':
    case 'uid': {
      const r = l.call(name === 'uid' ? Helper.get_current_uid_gid : Helper.get_current_pid_tgid, [], node)!;
      const dst = l.newReg();
      l.emit({ op: 'mov', dst, src: reg(r), bits: 32 });
      return { k: 'int', op: reg(dst), t: U32 };
    }
    case 'currentComm': {
      const p = ptrArg(0);
      return result(l.call(Helper.get_current_comm, [reg(p.reg), imm(sizeOf(p.to))], node), I64);
    }
    case 'probeReadKernel':
    case 'probeReadUser':
    case 'probeReadKernelStr':
    case 'probeReadUserStr': {
      const p = ptrArg(0);
      const srcValue = l.expr(l.argAt(args, 1, node));
      const kernelSrc = srcValue.k === 'kernel' ? kernelSource(l, srcValue, args[1]!) : undefined;
      // A kernel struct's field read whole needs room for all of it (the helper reads sizeof(dst) bytes).
      if (kernelSrc?.size !== undefined && (name === 'probeReadKernel' || name === 'probeReadUser') && kernelSrc.size < sizeOf(p.to)) {
        l.fail(args[1]!, 'TSBPF_HELPER_ARG', `the kernel field is ${kernelSrc.size} bytes, smaller than the ${sizeOf(p.to)} bytes of the destination`);
      }
      // An array or struct reference (a tracepoint's char array, a struct local) is copied from where it is.
      const refSrc = srcValue.k === 'ptr' && srcValue.to.kind !== 'int' ? srcValue : undefined;
      if (refSrc && (name === 'probeReadKernel' || name === 'probeReadUser') && sizeOf(refSrc.to) < sizeOf(p.to)) {
        l.fail(args[1]!, 'TSBPF_HELPER_ARG', `the source is ${sizeOf(refSrc.to)} bytes, smaller than the ${sizeOf(p.to)} bytes of the destination`);
      }
      const src = kernelSrc ? reg(kernelSrc.addr) : refSrc ? reg(refSrc.reg) : l.coerceLoose(l.intOf(srcValue, args[1]!), U64, args[1]!).op;
      const id = { probeReadKernel: Helper.probe_read_kernel, probeReadUser: Helper.probe_read_user, probeReadKernelStr: Helper.probe_read_kernel_str, probeReadUserStr: Helper.probe_read_user_str }[name];
      return result(l.call(id, [reg(p.reg), imm(sizeOf(p.to)), src], node), I64);
    }
    case 'redirect': return result(l.call(Helper.redirect, [intArg(0, U32), intArg(1)], node), I64);
    case 'xdpAdjustHead':
    case 'xdpAdjustTail': {
      const r = l.call(name === 'xdpAdjustHead' ? Helper.xdp_adjust_head : Helper.xdp_adjust_tail, [ctxArg(0), intArg(1, I32)], node);
      reloadPacketBounds(l, `bpf.${name}()`, node);
      return result(r, I64);
    }
    case 'skbChangeTail': {
      const r = l.call(Helper.skb_change_tail, [ctxArg(0), intArg(1, U32), intArg(2)], node);
      reloadPacketBounds(l, `bpf.${name}()`, node);
      return result(r, I64);
    }
    case 'l3CsumReplace':
    case 'l4CsumReplace': {
      const r = l.call(name === 'l3CsumReplace' ? Helper.l3_csum_replace : Helper.l4_csum_replace, [ctxArg(0), intArg(1, U32), intArg(2), intArg(3), intArg(4)], node);
      reloadPacketBounds(l, `bpf.${name}()`, node);
      return result(r, I64);
    }
    case 'printk': return printk(l, args, node);
    case 'snprintf': return snprintf(l, args, node);
    case 'cgroupId': return result(l.call(Helper.get_current_cgroup_id, [], node), U64);
    case 'skbCgroupId': return result(l.call(Helper.skb_cgroup_id, [ctxArg(0)], node), U64);
    case 'socketCookie': return result(l.call(Helper.get_socket_cookie, [ctxArg(0)], node), U64);
    case 'skFullsock': return skFullsock(l, args[0], node);
    case 'skbLoadBytes': {
      const c = ctxArg(0);
      const off = intArg(1, U32);
      const p = ptrArg(2);
      return result(l.call(Helper.skb_load_bytes, [c, off, reg(p.reg), imm(sizeOf(p.to))], node), I64);
    }
    case 'skbStoreBytes': {
      const c = ctxArg(0);
      const off = intArg(1, U32);
      const src = bytesArg(l, l.argAt(args, 2, node), name);
      const r = l.call(Helper.skb_store_bytes, [c, off, reg(src.reg), imm(src.size), intArg(3)], node);
      reloadPacketBounds(l, `bpf.${name}()`, node);
      return result(r, I64);
    }
    case 'csumDiff': {
      const from = csumOperand(l, args[0], name);
      const to = csumOperand(l, args[1], name);
      return result(l.call(Helper.csum_diff, [from.ptr, imm(from.size), to.ptr, imm(to.size), intArg(2, U32)], node), I64);
    }
    case 'getStack': {
      const c = ctxArg(0);
      const p = ptrArg(1);
      return result(l.call(Helper.get_stack, [c, reg(p.reg), imm(sizeOf(p.to)), intArg(2)], node), I64);
    }
    case 'fibLookup': {
      const c = ctxArg(0);
      const p = ptrArg(1);
      // The kernel reads and writes the whole struct bpf_fib_lookup.
      if (p.to.kind !== 'struct' || sizeOf(p.to) !== FIB_PARAMS_SIZE) l.fail(args[1]!, 'TSBPF_HELPER_ARG', `bpf.fibLookup takes a FibLookupParams (${FIB_PARAMS_SIZE} bytes), not ${sizeOf(p.to)} bytes`);
      return result(l.call(Helper.fib_lookup, [c, reg(p.reg), imm(FIB_PARAMS_SIZE), intArg(2, U32)], node), I64);
    }
    case 'withLock': return withLock(l, args, node);
    case 'unsafeLoad': {
      const addr = l.toReg(l.convert(l.int(l.argAt(args, 0, node)), U64, node));
      const size = args[1] ? l.cx.constantOf(args[1]) : 8n;
      if (size !== 1n && size !== 2n && size !== 4n && size !== 8n) l.fail(args[1] ?? node, 'TSBPF_ARGS', 'size must be 1, 2, 4 or 8');
      const dst = l.newReg();
      l.at(node);
      l.emit({ op: 'load', dst, base: addr, off: 0, size: Number(size) as 1 | 2 | 4 | 8 });
      return { k: 'int', op: reg(dst), t: U64 };
    }
    default: return l.fail(node, 'TSBPF_HELPER', `bpf.${name} is not supported yet`);
  }
}

function printk(l: FunctionLowering, args: Node[], node: Node): Value {
  const fmt = args[0];
  if (!fmt || !(Node.isStringLiteral(fmt) || Node.isNoSubstitutionTemplateLiteral(fmt))) return l.fail(fmt ?? node, 'TSBPF_PRINTK', 'printk needs a string literal format');
  if (args.length > 4) l.fail(args[4]!, 'TSBPF_PRINTK', 'printk takes at most three values');
  const bytes = new TextEncoder().encode(fmt.getLiteralValue());
  const size = bytes.length + 1;
  const values = args.slice(1).map((a) => formatValue(l, a).word);
  const s = l.slot(size, fmt);
  const p = l.newReg();
  l.at(node);
  l.emit({ op: 'frame', dst: p, slot: s, off: 0 });
  for (let o = 0; o < l.slots[s]!.size; o += 8) {
    let word = 0n;
    for (let i = 7; i >= 0; i--) word = (word << 8n) | BigInt(bytes[o + i] ?? 0);
    const lo = BigInt.asIntN(32, word);
    if (word === BigInt.asUintN(64, lo)) l.emit({ op: 'store', base: p, off: o, size: 8, value: imm(lo) });
    else {
      const t = l.newReg();
      l.emit({ op: 'mov', dst: t, src: imm(word), bits: 64 });
      l.emit({ op: 'store', base: p, off: o, size: 8, value: reg(t) });
    }
  }
  const r = l.call(Helper.trace_printk, [reg(p), imm(size), ...values], node)!;
  return { k: 'int', op: reg(r), t: I64 };
}

/** A printk/snprintf value as the u64 the helper takes: a CStr's address (for %s), or an integer widened to 64 bits. */
function formatValue(l: FunctionLowering, a: Node): { word: Operand; cstr: boolean } {
  const v = l.expr(a);
  if (v.k === 'ptr' && v.to.kind === 'array' && v.to.cstr) return { word: reg(v.reg), cstr: true };
  return { word: l.convert(l.intOf(v, a), U64, a).op, cstr: false };
}

/** The kernel's limit on bpf_snprintf's values (MAX_BPRINTF_VARARGS). */
const SNPRINTF_MAX_VALUES = 12;

/**
 * bpf.snprintf(out, 'fmt', ...values): the format goes to .rodata (the kernel reads formats only from a
 * frozen read-only map), the values to a u64 array on the stack, as bpf_snprintf takes them.
 */
function snprintf(l: FunctionLowering, args: Node[], node: Node): Value {
  const outNode = l.argAt(args, 0, node);
  const out = l.expr(outNode);
  if (out.k !== 'ptr' || out.to.kind !== 'array' || !out.to.cstr || out.nullIf) return l.fail(outNode, 'TSBPF_SNPRINTF', 'bpf.snprintf writes into a CStr (a local, a field of a map value or of an event)');
  const fmt = args[1];
  if (!fmt || !(Node.isStringLiteral(fmt) || Node.isNoSubstitutionTemplateLiteral(fmt))) return l.fail(fmt ?? node, 'TSBPF_SNPRINTF', 'bpf.snprintf needs a string literal format');
  const text = fmt.getLiteralValue();
  const parsed = parseBprintfFormat(text);
  if ('error' in parsed) return l.fail(fmt, 'TSBPF_SNPRINTF', `the kernel refuses this format: ${parsed.error}`);
  const values = args.slice(2);
  if (values.length !== parsed.specs.length) return l.fail(values[parsed.specs.length] ?? fmt, 'TSBPF_SNPRINTF', `the format has ${parsed.specs.length} conversion${parsed.specs.length === 1 ? '' : 's'} and ${values.length} value${values.length === 1 ? ' follows' : 's follow'}`);
  if (values.length > SNPRINTF_MAX_VALUES) return l.fail(values[SNPRINTF_MAX_VALUES]!, 'TSBPF_SNPRINTF', `bpf.snprintf takes at most ${SNPRINTF_MAX_VALUES} values`);
  const words = values.map((a, i) => {
    const { word, cstr } = formatValue(l, a);
    const conv = parsed.specs[i]!.conv;
    if (conv === 's' && !cstr) l.fail(a, 'TSBPF_SNPRINTF', '%s takes a CStr');
    if (conv !== 's' && cstr) l.fail(a, 'TSBPF_SNPRINTF', `a CStr goes with %s, not %${conv}`);
    return word;
  });
  const fmtVar = l.model.formatString(text, fmt);
  l.at(node);
  let data: Operand = imm(0);
  if (words.length) {
    const s = l.slot(8 * words.length, node);
    const p = l.newReg();
    l.emit({ op: 'frame', dst: p, slot: s, off: 0 });
    words.forEach((w, i) => l.emit({ op: 'store', base: p, off: 8 * i, size: 8, value: w }));
    data = reg(p);
  }
  const f = l.newReg();
  l.emit({ op: 'map', dst: f, map: fmtVar.section, valueOffset: fmtVar.offset });
  const r = l.call(Helper.snprintf, [reg(out.reg), imm(sizeOf(out.to)), reg(f), data, imm(8 * words.length)], node)!;
  return { k: 'int', op: reg(r), t: I64 };
}

/** Memory holding a helper's input: a reference as it is, or an integer stored on the stack in its own size. */
function bytesArg(l: FunctionLowering, node: Node, name: string): { reg: VReg; size: number } {
  const v = l.expr(node);
  if (v.k === 'ptr' && !v.nullIf) return { reg: v.reg, size: sizeOf(v.to) };
  if (v.k === 'ptr') return { reg: l.materializeRef(v).reg, size: sizeOf(v.to) };
  if (v.k !== 'int' && v.k !== 'global') return l.fail(node, 'TSBPF_HELPER_ARG', `bpf.${name} needs a reference or an integer`);
  const iv = l.intOf(v, node);
  const t = iv.literal ? U32 : iv.t;
  return { reg: onStack(l, l.coerceLoose(iv, t, node), node), size: t.bits / 8 };
}

/** An operand of csum_diff: null (nothing), a reference to 4-byte multiples, or a 32-bit integer. */
function csumOperand(l: FunctionLowering, node: Node | undefined, name: string): { ptr: Operand; size: number } {
  if (!node || node.getKind() === SyntaxKind.NullKeyword) return { ptr: imm(0), size: 0 };
  const v = l.expr(node);
  if (v.k === 'ptr') {
    const size = sizeOf(v.to);
    if (size % 4 !== 0 || size > 512) l.fail(node, 'TSBPF_HELPER_ARG', `bpf.${name} sums 4-byte words: ${size} bytes is not a multiple of 4 (at most 512)`);
    return { ptr: reg(l.materializeRef(v).reg), size };
  }
  const iv = l.intOf(v, node);
  if (!iv.literal && iv.t.bits !== 32) l.fail(node, 'TSBPF_HELPER_ARG', `bpf.${name} sums 4-byte words: give a 32-bit integer (be32, u32) or a reference, not ${iv.t.name}`);
  return { ptr: reg(onStack(l, l.coerceLoose(iv, U32, node), node)), size: 4 };

}

/** An integer stored in a stack slot of its size; the slot's address. */
function onStack(l: FunctionLowering, v: Extract<Value, { k: 'int' }>, node: Node): VReg {
  const s = l.slot(8, node);
  const p = l.newReg();
  l.emit({ op: 'frame', dst: p, slot: s, off: 0 });
  l.emit({ op: 'store', base: p, off: 0, size: (v.t.bits / 8) as 1 | 2 | 4 | 8, value: v.op });
  return p;
}

/**
 * bpf.withLock(v.lock, () => …): bpf_spin_lock, the callback inlined (a
 * `return` in it leaves the callback, so every path reaches the unlock),
 * bpf_spin_unlock; the callback's result is withLock's.
 */
function withLock(l: FunctionLowering, args: Node[], node: Node): Value {
  const lockNode = l.argAt(args, 0, node);
  const body = l.argAt(args, 1, node);
  if (l.lockHeld) return l.fail(node, 'TSBPF_LOCK', 'withLock inside withLock: a program holds one spin lock at a time');
  const lock = l.expr(lockNode);
  if (lock.k !== 'ptr' || lock.to !== SPIN_LOCK) return l.fail(lockNode, 'TSBPF_LOCK', 'withLock takes the SpinLock field of a map value: bpf.withLock(v.lock, () => …)');
  if (lock.space !== 'map') return l.fail(lockNode, 'TSBPF_LOCK', `the SpinLock must be in a map value from lookup or get, not in ${lock.space} memory`);
  if (!(Node.isArrowFunction(body) || Node.isFunctionExpression(body)) || body.getParameters().length > 0) return l.fail(body, 'TSBPF_LOCK', 'withLock runs a callback written in place, without parameters: () => { … }');
  const lockReg = l.materializeRef(lock).reg;
  l.call(Helper.spin_lock, [reg(lockReg)], node, false);
  l.lockHeld = node;
  let v: Value;
  try {
    v = l.inline(body, body, [], node);
  } finally {
    l.lockHeld = undefined;
  }
  l.call(Helper.spin_unlock, [reg(lockReg)], node, false);
  return v;
}
