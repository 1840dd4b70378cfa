/**
 * The `bpf.*` helpers: checked against the program kind, lowered to helper
 * calls with their arguments in C form.
 */
import { Node } from 'ts-morph';
import { Helper } from '../../asm/helpers.js';
import { I32, I64, type IntType, sizeOf, U32, U64 } from './ctypes.js';
import { HELPER_PROGRAMS } from './helpers.js';
import { imm, reg, type VReg } from './ir.js';
import type { FunctionLowering } from './lower.js';
import { kernelHelper, kernelSource } from './lower-kernel.js';
import { reloadPacketBounds } from './lower-packet.js';
import type { Value } from './values.js';

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
      const src = kernelSrc ? reg(kernelSrc.addr) : l.coerceLoose(l.intOf(srcValue, args[1]!), U64, args[1]!).op;
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
  const values = args.slice(1).map((a) => l.convert(l.int(a), U64, a).op);
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
