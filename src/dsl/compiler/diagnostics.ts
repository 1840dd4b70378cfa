/**
 * Compiler diagnostics: every problem in a module is collected (never thrown
 * one at a time) with a code and a file:line:col position.
 */

export interface DiagnosticPosition {
  file: string;
  line: number;
  column: number;
}

export interface DslDiagnostic extends DiagnosticPosition {
  /** `TSBPF_*` for the compiler's own checks, `TS<n>` for TypeScript's. */
  code: string;
  message: string;
  /** The source line, for code frames. */
  text?: string;
}

export const formatDiagnostic = (d: DslDiagnostic): string => `${d.file}:${d.line}:${d.column}: ${d.code}: ${d.message}`;

/** Thrown by `compile` when any diagnostic was reported. */
export class CompileError extends Error {
  override readonly name = 'CompileError';
  readonly code = 'E_COMPILE';
  constructor(readonly diagnostics: DslDiagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
  }
}

/** Used inside the lowering to abandon one construct after reporting it. */
export class Abandon extends Error {
  override readonly name = 'Abandon';
}
