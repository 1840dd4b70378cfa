/**
 * What the CLI and the compiler's start-up snapshot say to each other: a
 * request on the snapshot process's stdin, one answer on its stdout.
 */
import type { DslDiagnostic } from '../dsl/compiler/diagnostics.js';

/** Where the DSL's declarations are: the same for the snapshot's warm-up and every request, or the warm-up is not reused. */
export interface SnapshotDsl {
  dslRoot: string;
  dslAliases: string[];
}

export interface SnapshotRequest extends SnapshotDsl {
  /** Absolute path of the module's entry file. */
  entry: string;
  /** Also answer `cpuMs` (for the bench's breakdown). */
  timing?: boolean;
}

/** CPU milliseconds of the snapshot process when it started serving and when the compile was done. */
export interface SnapshotTiming {
  cpuMs?: { ready: number; compiled: number };
}

export type SnapshotAnswer = SnapshotTiming & (
  /** Compiled: the module as compiled-module-json text, and each file read with the sha256 of its text. */
  | { module: string; files: Record<string, string> }
  /** The module has errors: the diagnostics, exactly as compile threw them. */
  | { diagnostics: DslDiagnostic[]; files: Record<string, string> }
  /** The snapshot cannot compile this module as the CLI would (e.g. tracefs must be mounted first): the CLI compiles it. */
  | { fallback: string }
);
