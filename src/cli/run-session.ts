/**
 * What `tsbpf run` drives, whether it came from a compiled module or from a
 * BPF ELF object: programs to attach (and what they attached to), ring
 * buffers whose events to print, the maps to print at exit and every
 * --interval, and lost-event counts. run.ts runs the loop; each source
 * builds its session (run-module-session.ts, run-object-session.ts).
 */
import type { EventReader } from './event-pump.js';

export interface SessionProgram {
  name: string;
  /** Attaches; returns where ("tracepoint syscalls/sys_enter_openat"). */
  attach(): string;
  detach(): void;
  /** file:line:col of its declaration, named when attaching fails. */
  declaredAt?: string;
}

export interface SessionRing {
  name: string;
  reader: EventReader;
  print(bytes: Uint8Array): void;
}

export interface RunSession {
  programs: SessionProgram[];
  /** Rings whose events run prints (none when the module's own main reads them). */
  rings: SessionRing[];
  /** Maps, histograms and globals, as text or JSON lines. */
  printAll(json: boolean): void;
  /** Empties the maps (--interval --clear). */
  clear(): void;
  /** Events lost per ring so far. */
  lost(): Map<string, bigint>;
  /** The module's own main, started once attached; returns what to do at stop. */
  startMain?(stop: () => void): Promise<() => Promise<void>>;
  /** Verifier logs by program (--log-level). */
  verifierLogs(): Array<[string, string]>;
  close(): void;
}
