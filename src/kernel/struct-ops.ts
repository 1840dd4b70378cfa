/**
 * struct_ops at load time: the object's struct (e.g. tcp_congestion_ops)
 * is matched member by member with the running kernel's, programs get
 * attach_btf_id (the kernel struct) and expected_attach_type (the member
 * index), and the map value is built in the kernel's layout of
 * `struct bpf_struct_ops_<name>` (its `data` member) with program fds in
 * the function pointers. Registering it (map update, or a link for
 * .struct_ops.link) is what makes the kernel use it.
 */
import { type Btf, sizeOf, skipModsAndTypedefs } from '../btf/index.js';
import type { MapSpec, ObjectSpec } from '../elf/object-spec.js';
import { Attr } from '../syscall/layouts.generated.js';
import { closeFd } from '../syscall/fd.js';
import { bpfCommand } from './bpf-call.js';
import type { BpfMap } from './map.js';

/**
 * A struct_ops map could not be matched with the running kernel's struct, or registering it failed.
 * @example
 * try { loadObjectFile('cc.bpf.o'); } catch (e) { if (e instanceof StructOpsError) console.error(e.code, e.map); }
 */
export class StructOpsError extends Error {
  override readonly name = 'StructOpsError';
  constructor(readonly code: string, message: string, readonly map: string) {
    super(`struct_ops '${map}': ${message}`);
  }
}

export interface StructOpsPlan {
  map: MapSpec;
  kernelTypeId: number;
  valueTypeId: number;
  valueSize: number;
  /** Offset of the `data` member (the struct itself) inside the value. */
  dataOffset: number;
  /** program name → member index and offset in the kernel struct. */
  programs: Map<string, { member: string; index: number; offset: number }>;
}

const BPF_STRUCT_OPS_ATTACH = 44; // enum bpf_attach_type BPF_STRUCT_OPS

export function planStructOps(spec: ObjectSpec, m: MapSpec, kernel: Btf): StructOpsPlan {
  const so = m.structOps!;
  const kernelTypeId = kernel.findByName(so.typeName, 'struct');
  if (kernelTypeId === undefined) throw new StructOpsError('E_STRUCT_OPS_TYPE', `the kernel has no struct ${so.typeName}`, m.name);
  const valueTypeId = kernel.findByName(`bpf_struct_ops_${so.typeName}`, 'struct');
  if (valueTypeId === undefined) throw new StructOpsError('E_STRUCT_OPS_TYPE', `struct ${so.typeName} cannot be implemented in BPF on this kernel (no bpf_struct_ops_${so.typeName})`, m.name);
  const value = kernel.type(valueTypeId);
  const data = value.kind === 'struct' ? value.members.find((x) => x.name === 'data') : undefined;
  if (!data) throw new StructOpsError('E_STRUCT_OPS_TYPE', `bpf_struct_ops_${so.typeName} has no data member`, m.name);
  const kst = kernel.type(kernelTypeId);
  if (kst.kind !== 'struct') throw new StructOpsError('E_STRUCT_OPS_TYPE', `${so.typeName} is not a struct`, m.name);
  const programs = new Map<string, { member: string; index: number; offset: number }>();
  for (const p of so.programs) {
    const index = kst.members.findIndex((x) => x.name === p.member);
    if (index < 0) throw new StructOpsError('E_STRUCT_OPS_MEMBER', `the kernel's struct ${so.typeName} has no member '${p.member}'`, m.name);
    programs.set(p.program, { member: p.member, index, offset: kst.members[index]!.bitOffset / 8 });
  }
  void spec;
  return { map: m, kernelTypeId, valueTypeId, valueSize: sizeOf(kernel, valueTypeId), dataOffset: data.bitOffset / 8, programs };
}

/** The map value: data members copied into the kernel's layout, program fds in function pointers. */
export function structOpsValue(plan: StructOpsPlan, local: Btf, kernel: Btf, programFds: Map<string, number>): Uint8Array {
  const m = plan.map;
  const so = m.structOps!;
  const out = new Uint8Array(plan.valueSize);
  const view = new DataView(out.buffer);
  const lst = local.type(so.localTypeId);
  const kst = kernel.type(plan.kernelTypeId);
  if (lst.kind !== 'struct' || kst.kind !== 'struct') return out;
  for (const lm of lst.members) {
    const prog = so.programs.find((p) => p.member === lm.name);
    const km = kst.members.find((x) => x.name === lm.name);
    const at = plan.dataOffset + (km ? km.bitOffset / 8 : 0);
    if (prog) {
      const fd = programFds.get(prog.program);
      if (fd === undefined) throw new StructOpsError('E_STRUCT_OPS_PROGRAM', `program '${prog.program}' for '${lm.name}' was not loaded`, m.name);
      view.setBigUint64(at, BigInt(fd), true);
      continue;
    }
    const off = lm.bitOffset / 8;
    const size = sizeOf(local, lm.type);
    const bytes = so.data.subarray(off, off + size);
    if (bytes.every((b) => b === 0)) continue; // nothing to copy
    if (!km) throw new StructOpsError('E_STRUCT_OPS_MEMBER', `the kernel's struct ${so.typeName} has no member '${lm.name}'`, m.name);
    const lt = local.type(skipModsAndTypedefs(local, lm.type));
    if (lt.kind === 'ptr') throw new StructOpsError('E_STRUCT_OPS_MEMBER', `member '${lm.name}' is a pointer that is not a program`, m.name);
    if (sizeOf(kernel, km.type) !== size) throw new StructOpsError('E_STRUCT_OPS_MEMBER', `member '${lm.name}' is ${size} bytes here and ${sizeOf(kernel, km.type)} in the kernel`, m.name);
    out.set(bytes, at);
  }
  return out;
}

/** A registered struct_ops map: close() unregisters it. */
export interface StructOpsRegistration {
  close(): void;
  [Symbol.dispose](): void;
}

/** Registers with the kernel: map update (and BPF_LINK_CREATE for .struct_ops.link maps). */
export function registerStructOps(map: BpfMap, value: Uint8Array, viaLink: boolean): StructOpsRegistration {
  const key = new Uint8Array(4);
  map.update(key, value);
  let linkFd: number | undefined;
  if (viaLink) {
    linkFd = bpfCommand('LINK_CREATE', Attr.linkCreate.size, (a) => {
      a.view.setUint32(Attr.linkCreate.prog_fd, map.fd, true); // map_fd shares the prog_fd slot
      a.view.setUint32(Attr.linkCreate.attach_type, BPF_STRUCT_OPS_ATTACH, true);
    }, `struct_ops link ${map.name}`);
  }
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    if (linkFd !== undefined) closeFd(linkFd, 'struct_ops link');
    else map.delete(key); // unregisters
  };
  return { close, [Symbol.dispose]: close };
}
