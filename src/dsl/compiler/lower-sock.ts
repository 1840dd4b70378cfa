/**
 * The packet's socket in tc and cgroup skb programs: `ctx.sk` (__sk_buff's
 * sk, a struct bpf_sock over the socket's sock_common, or null) and
 * `bpf.skFullsock(sk)` (the full socket, or null). The verifier lets a
 * program read a socket's fields only by loads at their offsets from the
 * pointer itself (no arithmetic on it), and some only of a full socket.
 */
import type { Node } from 'ts-morph';
import { Helper } from '../../asm/helpers.js';
import { type CType, INT_TYPES, type StructType, U32 } from './ctypes.js';
import { entryMoves, imm, reg, type SpannedOp } from './ir.js';
import type { FunctionLowering } from './lower.js';
import type { Value } from './values.js';

const be16 = INT_TYPES.be16!;
const be32 = INT_TYPES.be32!;
const ip6: CType = { kind: 'array', element: be32, length: 4 };

/** struct bpf_sock (uapi), field for field, by the DSL's names. */
const FIELDS = [
  { name: 'boundDevIf', type: U32, offset: 0 },
  { name: 'family', type: U32, offset: 4 },
  { name: 'type', type: U32, offset: 8 },
  { name: 'protocol', type: U32, offset: 12 },
  { name: 'mark', type: U32, offset: 16 },
  { name: 'priority', type: U32, offset: 20 },
  { name: 'srcIp4', type: be32, offset: 24 },
  { name: 'srcIp6', type: ip6, offset: 28 },
  { name: 'srcPort', type: U32, offset: 44 },
  { name: 'dstPort', type: be16, offset: 48 },
  { name: 'dstIp4', type: be32, offset: 52 },
  { name: 'dstIp6', type: ip6, offset: 56 },
  { name: 'state', type: U32, offset: 72 },
  { name: 'rxQueueMapping', type: INT_TYPES.i32!, offset: 76 },
];

/** A full socket (bpf_sk_fullsock's result). */
export const BPF_SOCK: StructType = { kind: 'struct', name: 'bpf_sock', fields: FIELDS, size: 80, align: 4 };
/** What skb->sk shows before bpf_sk_fullsock: the verifier refuses type, protocol, mark and priority there. */
export const SOCK_COMMON: StructType = { kind: 'struct', name: 'bpf_sock (sock_common)', fields: FIELDS.filter((f) => !['type', 'protocol', 'mark', 'priority'].includes(f.name)), size: 80, align: 4 };

/** Whether a reference is a socket itself (not a field copied out of one). */
export const isSocket = (v: Value): v is Extract<Value, { k: 'ptr' }> & { to: StructType } => v.k === 'ptr' && (v.to === BPF_SOCK || v.to === SOCK_COMMON);

/** __sk_buff.sk: a pointer-sized field the verifier types PTR_TO_SOCK_COMMON_OR_NULL. */
const SKB_SK = 168;

/**
 * `ctx.sk`: loaded once, at the function's entry, so every use is the same
 * register and a null check anywhere holds for the uses it guards (two
 * loads would be two pointers to the verifier, each to check).
 */
export function packetSocket(l: FunctionLowering, node: Node): Value {
  if (l.program.kind !== 'tc' && l.program.kind !== 'cgroup_skb') return l.fail(node, 'TSBPF_CTX_FIELD', `the ${l.program.kind} context has no field 'sk' (tc and cgroup skb programs have the packet's socket)`);
  if (l.socketCache === undefined) {
    const sk = l.newReg();
    const load: SpannedOp = { op: 'load', dst: sk, base: l.ctxReg, off: SKB_SK, size: 8 };
    const entrySpan = l.ops[0]?.span;
    l.ops.splice(entryMoves(l.ops), 0, entrySpan ? { ...load, span: entrySpan } : load);
    l.socketCache = sk;
  }
  return { k: 'ptr', reg: l.socketCache, to: SOCK_COMMON, space: 'sock' };
}

/**
 * A field of a socket: an integer is loaded now, at its offset from the
 * socket pointer; an address array (`srcIp6`) is copied to the stack, where
 * it can be indexed (read-only still: its space stays 'sock').
 */
export function socketField(l: FunctionLowering, sk: Extract<Value, { k: 'ptr' }>, name: string, node: Node): Value {
  const f = (sk.to as StructType).fields.find((x) => x.name === name);
  if (!f) {
    const full = BPF_SOCK.fields.some((x) => x.name === name);
    return l.fail(node, 'TSBPF_MEMBER', full ? `${name} is a field of a full socket: bpf.skFullsock(sk) first` : `a socket has no field ${name}`);
  }
  if (f.type.kind === 'int') return l.load(sk.reg, f.offset, f.type);
  const slot = l.slot(16, node);
  const p = l.newReg();
  l.emit({ op: 'frame', dst: p, slot, off: 0 });
  for (let i = 0; i < 4; i++) l.emit({ op: 'store', base: p, off: 4 * i, size: 4, value: l.load(sk.reg, f.offset + 4 * i, U32).op });
  return { k: 'ptr', reg: p, to: f.type, space: 'sock' };
}

/**
 * `bpf.skFullsock(sk)`: bpf_sk_fullsock. An argument TypeScript says may
 * be null (or asserted non-null with `!`) is tested first: null gives null,
 * as the verifier wants the helper to see a checked pointer.
 */
export function skFullsock(l: FunctionLowering, arg: Node | undefined, node: Node): Value {
  if (!arg) return l.fail(node, 'TSBPF_ARGS', 'bpf.skFullsock takes ctx.sk');
  const v = l.expr(arg);
  if (!isSocket(v)) return l.fail(arg, 'TSBPF_HELPER_ARG', 'bpf.skFullsock takes the packet\'s socket, ctx.sk');
  const nodeKind = arg.getKindName();
  const mayBeNull = nodeKind === 'NonNullExpression' || l.cx.checker.getTypeAtLocation(arg).isNullable();
  if (!mayBeNull) {
    const r = l.call(Helper.sk_fullsock, [reg(v.reg)], node)!;
    return { k: 'ptr', reg: r, to: BPF_SOCK, space: 'sock' };
  }
  const dst = l.newReg();
  const none = l.newLabel('no_sock');
  l.emit({ op: 'mov', dst, src: imm(0), bits: 64 });
  l.emit({ op: 'br', cmp: 'eq', bits: 64, a: v.reg, b: imm(0), target: none });
  const r = l.call(Helper.sk_fullsock, [reg(v.reg)], node)!;
  l.emit({ op: 'mov', dst, src: reg(r), bits: 64 });
  l.label(none);
  return { k: 'ptr', reg: dst, to: BPF_SOCK, space: 'sock' };
}
