/**
 * Methods of the map kinds beyond key/value maps: queues and stacks
 * (push/pop/peek), bloom filters (add/has), perf event arrays (output),
 * prog arrays (tailCall), stack trace maps (getId), redirect maps
 * (redirect) and maps of maps (lookup of an inner map).
 */
import { Node } from 'ts-morph';
import { Helper } from '../../asm/helpers.js';
import { type CType, I64, INT_TYPES, sizeOf, type StructType, U32, U64 } from './ctypes.js';
import { storedInteger } from './lower-maps.js';
import { imm, type Operand, reg, type VReg } from './ir.js';
import type { FunctionLowering } from './lower.js';
import type { MapInfo } from './module-model.js';
import { BTF_TYPED } from './helpers.js';
import { isSocket } from './lower-sock.js';
import type { ProgramKind } from './program-kinds.js';
import type { Value } from './values.js';

/** BPF_F_CURRENT_CPU: the perf buffer of the CPU the program runs on. */
const BPF_F_CURRENT_CPU = 0xffffffffn;

export function otherMapMethod(l: FunctionLowering, map: MapInfo, method: string, args: Node[], node: Node): Value | undefined {
  const arg = (i: number) => l.argAt(args, i, node);
  const int = (r: VReg | undefined): Value => ({ k: 'int', op: reg(r!), t: I64 });
  const ctx = (i: number) => {
    const v = l.expr(arg(i));
    if (v.k !== 'ctx') l.fail(arg(i), 'TSBPF_HELPER_ARG', `${method} takes the program's ctx first`);
    return reg(l.ctxReg);
  };
  const wrong = (have: string): never => l.fail(node, 'TSBPF_METHOD', `${kindName(map)} maps have ${have}, not ${method}`);
  switch (map.kind) {
    case 'queue':
    case 'stack':
      switch (method) {
        case 'push': {
          const v = inStackOrMap(l, arg(0), map.value);
          const flags = args[1] ? l.convert(l.int(args[1]), U64, args[1]).op : imm(0);
          return int(l.call(Helper.map_push_elem, [reg(l.mapFd(map)), reg(v), flags], node));
        }
        case 'pop':
        case 'peek': {
          // A copy on the stack, or null when the map is empty.
          const s = l.slot(sizeOf(map.value), node);
          const p = l.newReg();
          l.emit({ op: 'frame', dst: p, slot: s, off: 0 });
          const r = l.call(method === 'pop' ? Helper.map_pop_elem : Helper.map_peek_elem, [reg(l.mapFd(map)), reg(p)], node)!;
          const out = l.newReg();
          const empty = l.newLabel('empty');
          l.emit({ op: 'mov', dst: out, src: imm(0), bits: 64 });
          l.emit({ op: 'br', cmp: 'ne', bits: 64, a: r, b: imm(0), target: empty });
          l.emit({ op: 'mov', dst: out, src: reg(p), bits: 64 });
          l.label(empty);
          // An integer element is a value (nullable, as TypeScript's V | null says); a struct one a reference to the copy.
          if (map.value.kind === 'int') return storedInteger(l, out, map.value);
          return { k: 'ptr', reg: out, to: map.value, space: 'stack' };
        }
        default: return wrong('push, pop and peek');
      }
    case 'bloom_filter':
      switch (method) {
        case 'add': {
          const v = inStackOrMap(l, arg(0), map.value);
          return int(l.call(Helper.map_push_elem, [reg(l.mapFd(map)), reg(v), imm(0)], node));
        }
        case 'has': {
          const v = inStackOrMap(l, arg(0), map.value);
          const r = l.call(Helper.map_peek_elem, [reg(l.mapFd(map)), reg(v)], node)!;
          const out = l.newReg();
          const no = l.newLabel('absent');
          l.emit({ op: 'mov', dst: out, src: imm(0), bits: 64 });
          l.emit({ op: 'br', cmp: 'ne', bits: 64, a: r, b: imm(0), target: no });
          l.emit({ op: 'mov', dst: out, src: imm(1), bits: 64 });
          l.label(no);
          return { k: 'int', op: reg(out), t: INT_TYPES.bool! };
        }
        default: return wrong('add and has');
      }
    case 'perf_event_array': {
      if (method !== 'output') return wrong('output');
      const c = ctx(0);
      const v = inStackOrMap(l, arg(1), map.event!);
      return int(l.call(Helper.perf_event_output, [c, reg(l.mapFd(map)), imm(BPF_F_CURRENT_CPU), reg(v), imm(sizeOf(map.event!))], node));
    }
    case 'prog_array': {
      if (method !== 'tailCall') return wrong('tailCall');
      const c = ctx(0);
      checkTailCallKind(l, map, node);
      const index = l.convert(l.int(arg(1)), U32, arg(1)).op;
      l.call(Helper.tail_call, [c, reg(l.mapFd(map)), index], node, false);
      return { k: 'void' };
    }
    case 'stack_trace': {
      if (method !== 'getId') return wrong('getId');
      const c = ctx(0);
      const flags = args[1] ? l.convert(l.int(args[1]), U64, args[1]).op : imm(0);
      return int(l.call(Helper.get_stackid, [c, reg(l.mapFd(map)), flags], node));
    }
    case 'devmap':
    case 'devmap_hash':
    case 'cpumap':
    case 'xskmap': {
      if (method !== 'redirect') return wrong('redirect');
      if (l.program.kind !== 'xdp') l.fail(node, 'TSBPF_HELPER_PROGRAM_TYPE', `redirecting through a ${kindName(map)} is for xdp programs (tc has bpf.redirect)`);
      const key = l.convert(l.int(arg(0)), U32, arg(0)).op;
      const flags = args[1] ? l.convert(l.int(args[1]), U64, args[1]).op : imm(0);
      return int(l.call(Helper.redirect_map, [reg(l.mapFd(map)), key, flags], node));
    }
    case 'array_of_maps':
    case 'hash_of_maps': {
      if (method !== 'lookup') return wrong('lookup');
      const k = l.materialize(arg(0), map.key!);
      const r = l.call(Helper.map_lookup_elem, [reg(l.mapFd(map)), reg(k)], node)!;
      return { k: 'ptr', reg: r, to: INNER_MAP, space: 'map', innerMap: map.inner! };
    }
    case 'task_storage':
    case 'sk_storage':
    case 'inode_storage':
    case 'cgrp_storage': {
      const kind = LOCAL_STORAGES[map.kind];
      if (!kind.programs.includes(l.program.kind)) l.fail(node, 'TSBPF_HELPER_PROGRAM_TYPE', `${map.name} (${kindName(map)}) is not available in ${l.program.kind} programs`);
      switch (method) {
        case 'get': {
          const owner = ownerArg(l, arg(0), map, kind.owner);
          // BPF_LOCAL_STORAGE_GET_F_CREATE, from a constant or a run-time bool.
          const create = args[1] ? l.convert(l.int(args[1]), U64, args[1]).op : imm(0);
          const r = l.call(kind.get, [reg(l.mapFd(map)), owner, imm(0), create], node)!;
          if (map.value.kind === 'int') return storedInteger(l, r, map.value);
          return { k: 'ptr', reg: r, to: map.value, space: 'map' };
        }
        case 'delete':
          return int(l.call(kind.delete, [reg(l.mapFd(map)), ownerArg(l, arg(0), map, kind.owner)], node));
        default: return wrong('get and delete');
      }
    }
    default:
      return undefined;
  }
}

/** The local storage kinds: their helpers, the kernel object that owns a value, and the program kinds the kernel offers them to. */
const LOCAL_STORAGES = {
  task_storage: { get: Helper.task_storage_get, delete: Helper.task_storage_delete, owner: 'task (bpf.currentTaskBtf() or a Ptr<task_struct> argument)', programs: BTF_TYPED },
  sk_storage: { get: Helper.sk_storage_get, delete: Helper.sk_storage_delete, owner: 'socket (a Ptr<sock> argument, or ctx.sk in tc and cgroup skb programs)', programs: [...BTF_TYPED, 'tc', 'cgroup_skb'] as ProgramKind[] },
  cgrp_storage: { get: Helper.cgrp_storage_get, delete: Helper.cgrp_storage_delete, owner: 'cgroup (a Ptr<cgroup> argument)', programs: BTF_TYPED },
  inode_storage: { get: Helper.inode_storage_get, delete: Helper.inode_storage_delete, owner: 'inode (a Ptr<inode> argument)', programs: ['lsm'] as ProgramKind[] },
};

/** The owner of a local storage value: a pointer the verifier knows by its BTF type (PTR_TO_BTF_ID), not a plain address. */
function ownerArg(l: FunctionLowering, node: Node, map: MapInfo, owner: string): Operand {
  // A packet's socket (ctx.sk, bpf.skFullsock's): the helper takes a sock_common and looks for the full socket itself.
  const sock = map.kind === 'sk_storage' ? l.expr(node) : undefined;
  if (sock && isSocket(sock)) return reg(sock.reg);
  const v = sock ? l.intOf(sock, node) : l.int(node);
  if (!v.t.btfPointer) l.fail(node, 'TSBPF_HELPER_ARG', `${map.name} is keyed by a ${owner} the verifier knows as a BTF pointer of a tp_btf, fentry or lsm program, not a plain address`);
  return v.op;
}

/** A tail call jumps to a program of the same kind (the kernel checks it at update time; we say so at compile time). */
function checkTailCallKind(l: FunctionLowering, map: MapInfo, node: Node): void {
  for (const { decl } of map.programDecls ?? []) {
    const target = l.model.programs.find((p) => p.decl === decl);
    if (target && target.kind !== l.program.kind) {
      l.fail(node, 'TSBPF_PROG_ARRAY', `${l.program.name} (${l.program.kind}) cannot tail-call into ${map.name}, which holds ${target.kind} programs such as ${target.name}`);
    }
  }
}

/** What a map-of-maps lookup points to: an inner map, not data (no fields, so it stays a reference). */
const INNER_MAP: StructType = { kind: 'struct', name: 'bpf_map', fields: [], size: 0, align: 8 };

const kindName = (map: MapInfo): string => map.kind.replace(/_/g, ' ');

/**
 * A value these helpers read, in memory they accept: what `materialize`
 * gives, except that packet data is copied to the stack first (queue, bloom,
 * perf and ring-buffer output helpers refuse packet pointers).
 */
export function inStackOrMap(l: FunctionLowering, node: Node, t: CType): VReg {
  if (Node.isObjectLiteralExpression(node)) return l.materialize(node, t);
  const v = l.expr(node);
  if (v.k !== 'ptr' || (v.space !== 'packet' && v.space !== 'ctx') || t.kind !== 'int' && !sameSize(v.to, t)) return l.materializeValue(v, t, node);
  return copiedToStack(l, v, t, node);
}

/** A copy of what `v` points at (or of its integer value) in a stack slot of type `t`. */
export function copiedToStack(l: FunctionLowering, v: Value, t: CType, node: Node): VReg {
  const s = l.slot(sizeOf(t), node);
  const p = l.newReg();
  l.emit({ op: 'frame', dst: p, slot: s, off: 0 });
  if (t.kind === 'int') {
    l.emit({ op: 'store', base: p, off: 0, size: (t.bits / 8) as 1 | 2 | 4 | 8, value: l.coerceLoose(l.intOf(v, node), t, node).op });
    return p;
  }
  if (v.k !== 'ptr') return l.fail(node, 'TSBPF_TYPE', `expected a ${t.kind === 'struct' ? t.name : 'value'} here`);
  // The reference was checked against null already (TypeScript wants it so): its register points at the bytes.
  const src = v.reg;
  for (let o = 0; o < sizeOf(t); ) {
    const n = sizeOf(t) - o >= 8 ? 8 : sizeOf(t) - o >= 4 ? 4 : sizeOf(t) - o >= 2 ? 2 : 1;
    const r = l.newReg();
    l.emit({ op: 'load', dst: r, base: src, off: o, size: n as 1 | 2 | 4 | 8 });
    l.emit({ op: 'store', base: p, off: o, size: n as 1 | 2 | 4 | 8, value: reg(r) });
    o += n;
  }
  return p;
}

const sameSize = (a: CType, b: CType): boolean => sizeOf(a) === sizeOf(b);
