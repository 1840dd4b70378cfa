/**
 * Several XDP modules on one interface. An interface holds one XDP program,
 * so when a second module joins, the engine attaches a dispatcher instead
 * (libxdp's idea; libxdp calls its members through freplace, which needs BPF
 * trampolines that not every kernel has, so this one uses tail calls, which
 * every kernel with XDP has):
 *
 *   dispatcher:  tail_call(ctx, chain, 0); return XDP_PASS
 *   member i:    r0 = module_program(ctx)            (a bpf-to-bpf call)
 *                if r0 != XDP_PASS: return r0         (DROP, TX, REDIRECT... end the chain)
 *                tail_call(ctx, chain, i + 1)         (an empty slot: end of the chain)
 *                return XDP_PASS
 *
 * Each member is the module's own program with a small entry function put in
 * front: the module's function becomes its first subprogram, unchanged.
 * Replacing a member writes its prog array slot (atomic); adding, removing or
 * reordering builds a new prog array and dispatcher and swaps the interface's
 * link to it with BPF_LINK_UPDATE (atomic too). The kernel counts run time
 * (BPF_ENABLE_STATS) only for the program it enters, the dispatcher: members
 * reached by tail call have no run counts of their own.
 */
import { Builder } from '../asm/builder.js';
import { type Instruction, slotOffsets } from '../asm/instruction.js';
import { R0, R1, R2, R3, R6 } from '../asm/registers.js';
import type { MapSpec, ObjectSpec, ProgramSpec } from '../elf/object-spec.js';

export const XDP_PASS = 2;
const BPF_MAP_TYPE_PROG_ARRAY = 3;
/** The kernel stops a tail-call chain after 33 calls (MAX_TAIL_CALL_CNT); the dispatcher uses one. */
export const MAX_CHAIN_LENGTH = 32;
/** The name the member entry uses for the chain's prog array; the engine replaces it with the live array. */
export const CHAIN_MAP = 'tsbpf_chain';

/** The dispatcher's instructions for a prog array whose fd is `chainFd`. */
export function dispatcherInstructions(chainFd: number): Instruction[] {
  const b = new Builder()
    .ldMapFd(R2, CHAIN_MAP)
    .mov64(R3, 0)
    .call('tail_call')
    .mov64(R0, XDP_PASS)
    .exit();
  return b.instructions().map((ins) => {
    if (ins.reference !== CHAIN_MAP) return ins;
    const { reference: _r, ...rest } = ins;
    return { ...rest, src: 1 /* BPF_PSEUDO_MAP_FD */, imm: chainFd, imm64: BigInt(chainFd >>> 0) };
  });
}

/** The chain's prog array as a map of an object spec (the engine passes the live one in its place). */
export function chainMapSpec(length: number): MapSpec {
  return {
    name: CHAIN_MAP, kernelName: CHAIN_MAP, kind: 'user', type: BPF_MAP_TYPE_PROG_ARRAY, keySize: 4, valueSize: 4,
    maxEntries: length, flags: 0, numaNode: 0, mapExtra: 0n, pinning: 'none', btfKeyTypeId: 0, btfValueTypeId: 0,
    initialValues: [], freeze: false, section: '.maps',
  };
}

/**
 * A copy of `spec` in which program `program` is a chain member at `index`:
 * the entry above in front of it, its relocations, func_info and line_info
 * shifted, and the chain's prog array added as a map.
 */
export function chainMemberSpec(spec: ObjectSpec, program: string, index: number, chainLength: number): ObjectSpec {
  const p = spec.programs.find((x) => x.name === program);
  if (!p) throw new Error(`no program '${program}'`);
  const entry = new Builder()
    .mov64Reg(R6, R1)
    .callLocal('module')
    .jne(R0, XDP_PASS, 'out')
    .mov64Reg(R1, R6)
    .ldMapFd(R2, CHAIN_MAP)
    .mov64(R3, index + 1)
    .call('tail_call')
    .mov64(R0, XDP_PASS)
    .label('out')
    .exit()
    .label('module')
    .instructions();
  const ldIndex = entry.findIndex((ins) => ins.reference === CHAIN_MAP);
  const insns = entry.map((ins) => {
    const { reference: _r, ...rest } = ins;
    return rest;
  });
  const slots = slotOffsets(insns).at(-1)!;
  const shifted: ProgramSpec = {
    ...p,
    // A prog array takes programs of one expected attach type (and one xdp.frags setting): the dispatcher's.
    attachType: 'XDP',
    instructions: [...insns, ...p.instructions.map((i) => ({ ...i }))],
    relocations: [{ kind: 'map', insn: ldIndex, map: CHAIN_MAP }, ...p.relocations.map((r) => ({ ...r, insn: r.insn + insns.length }))],
    // The entry reuses the module function's BTF type (same prototype: int f(struct xdp_md *)).
    funcInfo: p.funcInfo.length ? [{ insnOff: 0, typeId: p.funcInfo[0]!.typeId }, ...p.funcInfo.map((f) => ({ ...f, insnOff: f.insnOff + slots }))] : [],
    lineInfo: p.lineInfo.length ? [{ ...p.lineInfo[0]!, insnOff: 0 }, ...p.lineInfo.map((l) => ({ ...l, insnOff: l.insnOff + slots }))] : [],
  };
  return {
    ...spec,
    programs: spec.programs.map((x) => (x === p ? shifted : x)),
    maps: [...spec.maps, chainMapSpec(chainLength)],
    // As a subprogram the module's function must be verified with its caller's context: static linkage.
    hiddenFunctions: [...spec.hiddenFunctions, p.name],
  };
}
