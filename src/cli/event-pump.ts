/**
 * Printing ring-buffer events in `tsbpf run` without letting a flood take
 * the process over:
 *
 * - Each ring is drained in slices of at most SLICE_RECORDS records, and
 *   the pump yields to the event loop between slices, so SIGINT, the
 *   --duration timer and the lost-event report run within one slice (a few
 *   milliseconds) even when the kernel fills the ring as fast as it is read.
 * - Back-pressure: while the output stream holds more than its high-water
 *   mark (stdout stalled: a paused pager, a full pipe), the pump stops
 *   reading. The ring fills, the programs' reserves fail and are counted as
 *   lost by the module itself (see ringbuf-drops.ts). Memory stays bounded:
 *   the ring, one scratch copy of it, and one slice of output beyond the
 *   high-water mark.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
/** What the pump reads events from: a RingBufReader, or a perf buffer behind the same interface (perf-events.ts). */
export interface EventReader {
  readonly closed: boolean;
  /** Bytes (or records) ready to read; more than 0 when reading may give something. */
  readonly available: number;
  consume(print: (record: Uint8Array) => void, max?: number): number;
  wait(ms: number): Promise<unknown>;
  close(): void;
}

/** Records consumed per slice: ~1-5 ms of decoding and printing. */
export const SLICE_RECORDS = 512;
/** How long one wait for data (or for the output to drain) lasts before the stop flag is looked at again. */
const WAIT_MS = 100;

export interface PumpedRing {
  reader: EventReader;
  print: (record: Uint8Array) => void;
}

/** A stop flag and a promise that settles when it is raised. */
export interface StopSignal {
  readonly stopped: boolean;
  readonly whenStopped: Promise<void>;
}

/** Output that can be full: process.stdout, or any Writable. */
export interface Output {
  readonly writableNeedDrain: boolean;
  once(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

/** Resolves when `out` has drained, or after `ms`, or when `stop` is raised, whichever comes first. */
export function untilDrained(out: Output, ms: number, stop?: StopSignal): Promise<void> {
  if (!out.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      out.off('drain', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    out.once('drain', done);
    void stop?.whenStopped.then(done);
  });
}

/** Drains `ring` into its printer in slices until `stop` is raised. */
export async function pumpRing(ring: PumpedRing, out: Output, stop: StopSignal): Promise<void> {
  const { reader, print } = ring;
  while (!stop.stopped && !reader.closed) {
    if (out.writableNeedDrain) {
      await untilDrained(out, WAIT_MS, stop);
      continue;
    }
    if (reader.consume(print, SLICE_RECORDS) > 0) {
      await yieldToLoop();
      continue;
    }
    await Promise.race([reader.wait(WAIT_MS), stop.whenStopped]);
  }
}

/**
 * After the programs are detached nothing more arrives: prints what is
 * left, for at most `budgetMs` and only while the output takes it. Returns
 * whether the rings were emptied.
 */
export function drainRemaining(rings: readonly PumpedRing[], out: Output, budgetMs: number): boolean {
  const deadline = performance.now() + budgetMs;
  for (const { reader, print } of rings) {
    while (reader.available > 0) {
      if (out.writableNeedDrain || performance.now() > deadline) return false;
      if (reader.consume(print, SLICE_RECORDS) === 0) break; // only discarded or busy records left
    }
  }
  return true;
}
