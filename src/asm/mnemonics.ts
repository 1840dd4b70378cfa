/**
 * The word mnemonics of ALU and jump operations (`add`, `sdiv`, `jsgt`...),
 * shared by the builder's methods and the ubpf text syntax.
 */
import { AluOp, JmpOp } from './opcodes.js';

export type AluName = 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'or' | 'and' | 'lsh' | 'rsh' | 'mod' | 'smod' | 'xor' | 'arsh';

/** The operation code and the offset field (1 selects signed division and modulo). */
export const ALU_MNEMONICS: Readonly<Record<AluName, readonly [op: number, off: number]>> = {
  add: [AluOp.ADD, 0],
  sub: [AluOp.SUB, 0],
  mul: [AluOp.MUL, 0],
  div: [AluOp.DIV, 0],
  sdiv: [AluOp.DIV, 1],
  or: [AluOp.OR, 0],
  and: [AluOp.AND, 0],
  lsh: [AluOp.LSH, 0],
  rsh: [AluOp.RSH, 0],
  mod: [AluOp.MOD, 0],
  smod: [AluOp.MOD, 1],
  xor: [AluOp.XOR, 0],
  arsh: [AluOp.ARSH, 0],
};

export type JumpName = 'jeq' | 'jgt' | 'jge' | 'jset' | 'jne' | 'jsgt' | 'jsge' | 'jlt' | 'jle' | 'jslt' | 'jsle';

export const JUMP_MNEMONICS: Readonly<Record<JumpName, number>> = {
  jeq: JmpOp.JEQ,
  jgt: JmpOp.JGT,
  jge: JmpOp.JGE,
  jset: JmpOp.JSET,
  jne: JmpOp.JNE,
  jsgt: JmpOp.JSGT,
  jsge: JmpOp.JSGE,
  jlt: JmpOp.JLT,
  jle: JmpOp.JLE,
  jslt: JmpOp.JSLT,
  jsle: JmpOp.JSLE,
};

/** `table`'s entry for a word read from text; only the table's own names count (not `constructor` and the like). */
export function mnemonic<T>(table: Readonly<Record<string, T>>, word: string): T | undefined {
  return Object.hasOwn(table, word) ? table[word] : undefined;
}
