/**
 * Linking a program: the entry function, then every subprogram it calls
 * (directly or through a function pointer), appended the way libbpf appends
 * them (depth first, in order of first call), with call offsets rewritten
 * for the new layout. Each copy of a subprogram is relocated for the
 * program it is appended to, so the same bytes come out as with libbpf and
 * the kernel computes the same program tag.
 */
import type { Instruction } from '../asm/instruction.js';
import { CALL, LDDW, PseudoCall, PseudoLoad } from '../asm/opcodes.js';
import type { CoreRelo, FuncInfo, LineInfo } from '../btf/index.js';
import { ElfError } from './errors.js';
import type { LoadRelocation } from './object-spec.js';
import type { ElfRelocation, ElfSymbol } from './reader.js';

/** A code section, decoded once. */
export interface CodeSection {
  index: number;
  name: string;
  insns: Instruction[];
  /** Instruction index by slot (-1 for the second slot of lddw). */
  indexAtSlot: Int32Array;
  /** Relocations by slot. */
  relocations: Map<number, ElfRelocation>;
  funcInfo: FuncInfo[];
  lineInfo: LineInfo[];
  /** CO-RE relocations by slot. */
  coreRelos: Map<number, CoreRelo[]>;
}

/** A function inside a code section, in slots. */
export interface CodeFunction {
  name: string;
  section: CodeSection;
  startSlot: number;
  endSlot: number;
}

/** What a relocation against a non-code symbol becomes (the insn index is filled in by the linker). */
export type ResolveRelocation = (
  rel: ElfRelocation, symbol: ElfSymbol, ins: Instruction, where: { section: string; offset: number },
) => DistributiveOmit<LoadRelocation, 'insn'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface LinkContext {
  symbols: readonly ElfSymbol[];
  /** The .text section, home of subprograms. */
  text?: CodeSection;
  /** Subprograms of .text. */
  subprograms: CodeFunction[];
  resolve: ResolveRelocation;
}

export interface LinkedProgram {
  instructions: Instruction[];
  relocations: LoadRelocation[];
  funcInfo: FuncInfo[];
  lineInfo: LineInfo[];
}

/** BPF_MAX_SUBPROGS: no program can have more, so no call chain can be longer. */
const MAX_CALL_DEPTH = 256;

const isSubprogCall = (ins: Instruction): boolean => ins.opcode === CALL && ins.src === PseudoCall.CALL && ins.dst === 0 && ins.off === 0;

export function linkProgram(entry: CodeFunction, ctx: LinkContext): LinkedProgram {
  const out: Instruction[] = [];
  let outSlots = 0;
  const relocations: LoadRelocation[] = [];
  const funcInfo: FuncInfo[] = [];
  const lineInfo: LineInfo[] = [];
  const placed = new Map<CodeFunction, { index: number; slot: number }>();

  const append = (fn: CodeFunction): { index: number; slot: number } => {
    const at = { index: out.length, slot: outSlots };
    placed.set(fn, at);
    const s = fn.section;
    for (let slot = fn.startSlot; slot < fn.endSlot; slot++) {
      const i = s.indexAtSlot[slot]!;
      if (i < 0) continue;
      out.push({ ...s.insns[i]! });
      outSlots += s.insns[i]!.opcode === LDDW ? 2 : 1;
    }
    // .BTF.ext records move with the function (byte offsets there, slots here).
    const shift = (insnOff: number): number => insnOff / 8 - fn.startSlot + at.slot;
    const inRange = (insnOff: number): boolean => insnOff / 8 >= fn.startSlot && insnOff / 8 < fn.endSlot;
    for (const r of s.funcInfo) if (inRange(r.insnOff)) funcInfo.push({ ...r, insnOff: shift(r.insnOff) });
    for (const r of s.lineInfo) if (inRange(r.insnOff)) lineInfo.push({ ...r, insnOff: shift(r.insnOff) });
    return at;
  };

  const relocate = (fn: CodeFunction, depth: number): void => {
    if (depth > MAX_CALL_DEPTH) {
      throw new ElfError('E_CALL_DEPTH', `subprogram calls nest deeper than ${MAX_CALL_DEPTH} (the kernel allows ${MAX_CALL_DEPTH} subprograms)`, { section: fn.section.name, offset: fn.startSlot * 8 });
    }
    const base = placed.get(fn)!;
    const s = fn.section;
    let outIndex = base.index;
    let outSlot = base.slot;
    for (let slot = fn.startSlot; slot < fn.endSlot; slot++) {
      const i = s.indexAtSlot[slot]!;
      if (i < 0) continue;
      const myIndex = outIndex++;
      const mySlot = outSlot;
      outSlot += s.insns[i]!.opcode === LDDW ? 2 : 1;
      const ins = out[myIndex]!;
      const rel = s.relocations.get(slot);
      const where = { section: s.name, offset: slot * 8 };
      for (const c of s.coreRelos.get(slot) ?? []) relocations.push({ kind: 'core', insn: myIndex, relo: c });

      const symbol = rel ? ctx.symbols[rel.symbolIndex]! : undefined;
      const callsCode = isSubprogCall(ins) && !(symbol && symbol.sectionIndex === 0);
      const pointsToCode = ins.opcode === LDDW && symbol !== undefined && ctx.text !== undefined && symbol.sectionIndex === ctx.text.index;
      if (callsCode || pointsToCode) {
        let targetSlot: number;
        if (pointsToCode) targetSlot = (Number(symbol!.value) + ins.imm) / 8;
        else if (symbol) targetSlot = Number(symbol.value) / 8 + ins.imm + 1;
        else targetSlot = slot + ins.imm + 1;
        if (!Number.isInteger(targetSlot)) throw new ElfError('E_CALL_TARGET', `call target is not instruction-aligned`, where);
        // Subprograms live in .text (libbpf's rule): the symbol, or the caller without one, must be there.
        const inText = symbol ? symbol.sectionIndex === ctx.text?.index : s === ctx.text;
        const target = inText ? ctx.subprograms.find((f) => f.startSlot === targetSlot) : undefined;
        if (!target) {
          throw new ElfError('E_CALL_TARGET', `no subprogram in .text starts at instruction ${targetSlot}`, where);
        }
        const at = placed.get(target) ?? (append(target), relocate(target, depth + 1), placed.get(target)!);
        if (pointsToCode) {
          ins.src = PseudoLoad.FUNC;
          ins.imm64 = BigInt((at.slot - mySlot - 1) >>> 0);
          ins.imm = at.slot - mySlot - 1;
        } else {
          ins.imm = at.slot - mySlot - 1;
        }
        continue;
      }
      if (!rel || !symbol) continue;
      const r = ctx.resolve(rel, symbol, ins, where);
      relocations.push({ ...r, insn: myIndex } as LoadRelocation);
    }
  };

  append(entry);
  relocate(entry, 0);
  return { instructions: out, relocations, funcInfo, lineInfo };
}
