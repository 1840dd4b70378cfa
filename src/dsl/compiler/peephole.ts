/**
 * Peephole passes over emitted eBPF instructions, before jump offsets are
 * resolved (jumps still name their target label). They work on physical
 * registers, so they see what the IR cannot: which value ends in r0.
 *
 * - A returned register's computation is renamed to happen in r0, which
 *   drops the final `r0 = rX` (when nothing in between touches r0).
 * - A constant return `r0 = K; exit` reached by falling past a branch
 *   becomes `r0 = K` before the (inverted) branch, which then jumps to a
 *   shared exit: one instruction fewer, as clang does.
 * - `if c goto L; goto X; L:` becomes `if !c goto X`.
 * - A constant return that is both fallen into past a branch and reached
 *   by a `goto` moves to where the goto was (the branch is inverted).
 */
import { type Instruction } from '../../asm/instruction.js';
import { AluOp, AtomicOp, Class, JmpOp, Mode, Source } from '../../asm/opcodes.js';

interface Node {
  ins: Instruction;
  labels: string[];
}

const bit = (r: number) => 1 << r;
const cls = (ins: Instruction) => ins.opcode & 0x07;
const isJumpClass = (ins: Instruction) => cls(ins) === Class.JMP || cls(ins) === Class.JMP32;
const jmpOp = (ins: Instruction) => ins.opcode & 0xf0;
const isExit = (ins: Instruction) => isJumpClass(ins) && jmpOp(ins) === JmpOp.EXIT;
const isJa = (ins: Instruction) => cls(ins) === Class.JMP && jmpOp(ins) === JmpOp.JA;
/** A conditional or unconditional jump to a label. */
const isLabelJump = (ins: Instruction) => isJumpClass(ins) && jmpOp(ins) !== JmpOp.CALL && jmpOp(ins) !== JmpOp.EXIT && ins.reference !== undefined;
const isCondJump = (ins: Instruction) => isLabelJump(ins) && !isJa(ins);

const INVERSE = new Map<number, number>([
  [JmpOp.JEQ, JmpOp.JNE], [JmpOp.JNE, JmpOp.JEQ], [JmpOp.JGT, JmpOp.JLE], [JmpOp.JLE, JmpOp.JGT],
  [JmpOp.JGE, JmpOp.JLT], [JmpOp.JLT, JmpOp.JGE], [JmpOp.JSGT, JmpOp.JSLE], [JmpOp.JSLE, JmpOp.JSGT],
  [JmpOp.JSGE, JmpOp.JSLT], [JmpOp.JSLT, JmpOp.JSGE],
]);

/** Registers an instruction reads and writes, as bit masks (conservative for forms the compiler does not emit). */
function effects(ins: Instruction): { reads: number; writes: number } {
  const x = (ins.opcode & Source.X) !== 0;
  switch (cls(ins)) {
    case Class.ALU:
    case Class.ALU64: {
      const op = ins.opcode & 0xf0;
      if (op === AluOp.MOV) return { reads: x ? bit(ins.src) : 0, writes: bit(ins.dst) };
      if (op === AluOp.NEG || op === AluOp.END) return { reads: bit(ins.dst), writes: bit(ins.dst) };
      return { reads: bit(ins.dst) | (x ? bit(ins.src) : 0), writes: bit(ins.dst) };
    }
    case Class.LDX: return { reads: bit(ins.src), writes: bit(ins.dst) };
    case Class.ST: return { reads: bit(ins.dst), writes: 0 };
    case Class.STX: {
      const reads = bit(ins.dst) | bit(ins.src);
      if ((ins.opcode & 0xe0) !== Mode.ATOMIC) return { reads, writes: 0 };
      if (ins.imm === AtomicOp.ADD) return { reads, writes: 0 };
      return { reads: reads | bit(0), writes: bit(ins.src) | bit(0) };
    }
    case Class.LD:
      return ins.imm64 !== undefined ? { reads: 0, writes: bit(ins.dst) } : { reads: 0x7ff, writes: 0x3f };
    default: {
      const op = jmpOp(ins);
      if (op === JmpOp.CALL) return { reads: 0x3e, writes: 0x3f };
      if (op === JmpOp.EXIT) return { reads: bit(0), writes: 0 };
      if (op === JmpOp.JA) return { reads: 0, writes: 0 };
      return { reads: bit(ins.dst) | (x ? bit(ins.src) : 0), writes: 0 };
    }
  }
}

/** Registers live before each node (backward data flow to a fixed point). */
function liveIn(nodes: Node[]): number[] {
  const labelAt = new Map<string, number>();
  nodes.forEach((n, i) => n.labels.forEach((l) => labelAt.set(l, i)));
  const live = nodes.map(() => 0);
  const fx = nodes.map((n) => effects(n.ins));
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = nodes.length - 1; i >= 0; i--) {
      const ins = nodes[i]!.ins;
      let out = 0;
      if (!isExit(ins)) {
        if (!isJa(ins) && i + 1 < nodes.length) out |= live[i + 1]!;
        if (isLabelJump(ins)) {
          const t = labelAt.get(ins.reference!);
          out |= t === undefined ? 0x7ff : live[t]!;
        }
      }
      const v = fx[i]!.reads | (out & ~fx[i]!.writes);
      if (v !== live[i]) {
        live[i] = v;
        changed = true;
      }
    }
  }
  return live;
}

/** `r0 = rX; exit` where rX was computed just before: compute it in r0 instead. */
function renameReturnIntoR0(nodes: Node[]): boolean {
  for (let i = 0; i + 1 < nodes.length; i++) {
    const mov = nodes[i]!.ins;
    if (mov.opcode !== (Class.ALU64 | AluOp.MOV | Source.X) || mov.dst !== 0 || mov.src < 1 || mov.src > 9) continue;
    if (!isExit(nodes[i + 1]!.ins) || nodes[i]!.labels.length > 0) continue;
    const x = mov.src;
    // Walk back over straight-line code to the instruction that defines rX outright.
    let d = i - 1;
    for (; d >= 0; d--) {
      const n = nodes[d]!;
      const fx = effects(n.ins);
      if (isJumpClass(n.ins) || (fx.reads | fx.writes) & bit(0)) { d = -1; break; }
      if (cls(n.ins) === Class.STX && (n.ins.opcode & 0xe0) === Mode.ATOMIC && fx.writes) { d = -1; break; }
      const fullDef = fx.writes & bit(x) && (cls(n.ins) === Class.LDX || cls(n.ins) === Class.LD || (n.ins.opcode & 0xf0) === AluOp.MOV);
      if (fullDef) break;
      if (n.labels.length > 0) { d = -1; break; }
    }
    if (d < 0) continue;
    const def = nodes[d]!.ins;
    if (cls(def) === Class.LD && def.imm64 === undefined) continue;
    nodes[d]!.ins = { ...def, dst: 0 };
    for (let k = d + 1; k < i; k++) {
      const ins = { ...nodes[k]!.ins };
      const c = cls(ins);
      const regSrc = c === Class.LDX || c === Class.STX || ((c === Class.ALU || c === Class.ALU64) && (ins.opcode & Source.X) !== 0);
      if (regSrc && ins.src === x) ins.src = 0;
      if (c !== Class.LDX && c !== Class.LD && ins.dst === x) ins.dst = 0;
      nodes[k]!.ins = ins;
    }
    nodes.splice(i, 1);
    return true;
  }
  return false;
}

/** Turns `if c goto L; r0 = K; exit; L:` into `r0 = K; if !c goto <exit>; L:`. */
function hoistConstantReturns(nodes: Node[], newLabel: () => string): boolean {
  let anchor = -1;
  for (let i = nodes.length - 1; i >= 0; i--) if (isExit(nodes[i]!.ins)) { anchor = i; break; }
  if (anchor < 0) return false;
  const live = liveIn(nodes);
  const referenced = new Set<string>();
  for (const n of nodes) if (isLabelJump(n.ins)) referenced.add(n.ins.reference!);
  for (let t = 1; t + 2 < nodes.length; t++) {
    const mov = nodes[t]!.ins;
    const p = nodes[t - 1]!.ins;
    const movClass = cls(mov) === Class.ALU || cls(mov) === Class.ALU64;
    if (!movClass || (mov.opcode & 0xf8) !== (AluOp.MOV | Source.K) || mov.dst !== 0) continue;
    if (!isExit(nodes[t + 1]!.ins) || t + 1 === anchor || nodes[t + 1]!.labels.length > 0) continue;
    if (nodes[t]!.labels.some((l) => referenced.has(l))) continue;
    if (!isCondJump(p) || !INVERSE.has(jmpOp(p)) || !nodes[t + 2]!.labels.includes(p.reference!)) continue;
    if (effects(p).reads & bit(0) || live[t + 2]! & bit(0)) continue;
    let exitLabel = nodes[anchor]!.labels[0];
    if (exitLabel === undefined) {
      exitLabel = newLabel();
      nodes[anchor]!.labels.push(exitLabel);
    }
    const inverted: Instruction = { ...p, opcode: (p.opcode & 0x0f) | INVERSE.get(jmpOp(p))!, reference: exitLabel };
    const hoisted: Node = { ins: { ...mov }, labels: nodes[t - 1]!.labels };
    nodes.splice(t - 1, 3, hoisted, { ins: inverted, labels: [] });
    return true;
  }
  return false;
}

/** `if c goto L; goto X; L:` → `if !c goto X`. */
function invertBranchOverJump(nodes: Node[]): boolean {
  for (let j = 0; j + 2 < nodes.length; j++) {
    const p = nodes[j]!.ins;
    const ja = nodes[j + 1]!;
    if (!isCondJump(p) || !INVERSE.has(jmpOp(p)) || !isJa(ja.ins) || ja.ins.reference === undefined || ja.labels.length > 0) continue;
    if (!nodes[j + 2]!.labels.includes(p.reference!)) continue;
    nodes[j]!.ins = { ...p, opcode: (p.opcode & 0x0f) | INVERSE.get(jmpOp(p))!, reference: ja.ins.reference };
    nodes.splice(j + 1, 1);
    return true;
  }
  return false;
}

/**
 * A constant return `B: r0 = K; exit` that is fallen into past a branch
 * (`if c goto L; B; L:`) and also reached by a `goto B`: the block moves to
 * where the goto was and the branch is inverted to jump to it.
 */
function moveConstantReturnToJump(nodes: Node[]): boolean {
  for (let t = 1; t + 2 < nodes.length; t++) {
    const mov = nodes[t]!.ins;
    const p = nodes[t - 1]!.ins;
    const movClass = cls(mov) === Class.ALU || cls(mov) === Class.ALU64;
    if (!movClass || (mov.opcode & 0xf8) !== (AluOp.MOV | Source.K) || mov.dst !== 0 || !isExit(nodes[t + 1]!.ins)) continue;
    if (!isCondJump(p) || !INVERSE.has(jmpOp(p)) || !nodes[t + 2]!.labels.includes(p.reference!)) continue;
    const blockLabels = nodes[t]!.labels;
    const g = nodes.findIndex((n, i) => (i < t - 1 || i > t + 1) && isJa(n.ins) && blockLabels.includes(n.ins.reference!));
    if (g < 0) continue;
    const label = nodes[g]!.ins.reference!;
    const block = nodes.slice(t, t + 2);
    block[0] = { ins: block[0]!.ins, labels: [...block[0]!.labels, ...nodes[g]!.labels] };
    // Replace the goto first; when it came before B, that moved the branch and B one place on.
    nodes.splice(g, 1, ...block);
    const at = g < t ? t : t - 1;
    nodes[at]!.ins = { ...p, opcode: (p.opcode & 0x0f) | INVERSE.get(jmpOp(p))!, reference: label };
    nodes.splice(at + 1, 2);
    return true;
  }
  return false;
}

/** Runs the peephole passes; `labelAt` maps labels to instruction indices (an index may equal the length). */
export function peephole(out: Instruction[], labelAt: Map<string, number>): { out: Instruction[]; labelAt: Map<string, number> } {
  const nodes: Node[] = out.map((ins) => ({ ins, labels: [] }));
  const trailing: string[] = [];
  for (const [label, i] of labelAt) (i < nodes.length ? nodes[i]!.labels : trailing).push(label);
  let fresh = 0;
  const newLabel = () => {
    while (labelAt.has(`.peephole.exit.${fresh}`)) fresh++;
    return `.peephole.exit.${fresh++}`;
  };
  while (renameReturnIntoR0(nodes) || invertBranchOverJump(nodes) || moveConstantReturnToJump(nodes) || hoistConstantReturns(nodes, newLabel));
  const labels = new Map<string, number>();
  nodes.forEach((n, i) => n.labels.forEach((l) => labels.set(l, i)));
  for (const l of trailing) labels.set(l, nodes.length);
  return { out: nodes.map((n) => n.ins), labelAt: labels };
}
