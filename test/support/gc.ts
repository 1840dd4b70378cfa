/**
 * A garbage collection on demand, for tests that must hold while the
 * collector runs (mocha runs without --expose-gc): V8 takes the flag at run
 * time, and a fresh context created after it has the `gc` function.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: ((options?: { type: 'major' | 'minor' }) => void) | undefined;

/** Runs a full (or a young-generation) garbage collection now, on this thread. */
export function collectGarbage(type: 'major' | 'minor' = 'major'): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as typeof gc;
  }
  gc!({ type });
}
