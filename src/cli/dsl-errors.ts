/**
 * Mapping a verifier log back to TypeScript: the failing instruction is the
 * last "N: (op) …" line of the log; its source span came from the compiler.
 */
import type { CompiledProgram } from '../dsl/compiler/compile.js';
import { slotOffsets } from '../asm/instruction.js';
import { escapeControl } from './output.js';

export interface SourcePoint {
  file: string;
  line: number;
  column: number;
  text?: string;
}

/** The slot index of the instruction the verifier stopped at. */
export function failingSlot(log: string): number | undefined {
  let last: number | undefined;
  for (const line of log.split('\n')) {
    const m = /^(\d+): \([0-9a-f]{2}\)/.exec(line);
    if (m) last = Number(m[1]);
  }
  return last;
}

/** The TypeScript position of the instruction at a slot index. */
export function sourceAtSlot(p: CompiledProgram, slot: number): SourcePoint | undefined {
  const starts = slotOffsets(p.instructions);
  const i = p.instructions.findIndex((_, k) => slot >= starts[k]! && slot < starts[k + 1]!);
  return i < 0 ? undefined : p.instructions[i]!.source;
}

export function sourceOfFailure(p: CompiledProgram, log: string): SourcePoint | undefined {
  const slot = failingSlot(log);
  return slot === undefined ? undefined : sourceAtSlot(p, slot);
}

/**
 * A code frame: the line with a caret under the column. The source line is
 * escaped (escapeControl): a module's bytes never reach the terminal raw.
 */
export function sourceFrame(s: SourcePoint): string {
  if (s.text === undefined) return `  ${escapeControl(s.file)}:${s.line}:${s.column}`;
  const gutter = `${s.line} | `;
  const before = escapeControl(s.text.slice(0, Math.max(0, s.column - 1)));
  return `${gutter}${escapeControl(s.text)}\n${' '.repeat(gutter.length + before.length)}^`;
}
