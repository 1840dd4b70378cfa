/** A position in assembler source text (1-based line and column). */
export interface SourcePosition {
  file?: string;
  line: number;
  column: number;
}

/** Every error raised by src/asm: a code, a message and, where known, where. */
export class AsmError extends Error {
  override readonly name = 'AsmError';
  constructor(
    readonly code: string,
    message: string,
    readonly position?: SourcePosition,
    /** Index of the instruction slot the error is about, for binary input. */
    readonly slot?: number,
  ) {
    super(position ? `${formatPosition(position)}: ${message}` : slot !== undefined ? `slot ${slot}: ${message}` : message);
  }
}

export function formatPosition(p: SourcePosition): string {
  return `${p.file ?? '<input>'}:${p.line}:${p.column}`;
}
