/**
 * What a fuzz target is: a generator of inputs (input i of seed S is a pure
 * function of both) and a runner that accepts only the owning module's
 * typed error. Anything else it lets escape is a crash.
 */
import type { Gen } from './random.js';

export interface FuzzInput {
  /** Text or bytes, as written to a reproducer file. */
  data: string | Uint8Array;
  /** The reproducer's file extension; it also tells the runner how to read the data (e.g. 'llvm.s', 'o', 'btf'). */
  variant: string;
}

/** 'ok': the input was accepted; 'rejected': the module's typed error, with its position. */
export type Outcome = 'ok' | 'rejected';

export interface FuzzTarget {
  name: string;
  /** An input running longer than this is a hang. */
  timeoutMs: number;
  /** Inputs a child process runs before it is replaced (bounds what a leak can do). */
  chunk: number;
  generate(g: Gen): FuzzInput;
  /** Runs one input. Throws anything that is not the module's typed, positioned error. */
  execute(input: FuzzInput): Outcome;
}

/** A typed error that is still wrong (no position, an internal-error code): reported as a crash. */
export class FuzzFinding extends Error {
  override readonly name = 'FuzzFinding';
}

export function asBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? new TextEncoder().encode(data) : data;
}

export function asText(data: string | Uint8Array): string {
  return typeof data === 'string' ? data : new TextDecoder().decode(data);
}
