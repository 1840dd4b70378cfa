/**
 * Perf event arrays in `tsbpf run`: a PerfBufferReader behind the same
 * reader interface the event pump drains ring buffers through, with the
 * samples the kernel dropped (PERF_RECORD_LOST) reported as lost events.
 */
import type { BpfMap } from '../kernel/map.js';
import { PerfBufferReader } from '../kernel/perf-reader.js';
import type { EventReader } from './event-pump.js';

export class PerfEventReader implements EventReader {
  readonly #reader: PerfBufferReader;

  /** `size`: the event type's size (the kernel pads samples to 8 bytes). */
  constructor(map: BpfMap, readonly size: number) {
    this.#reader = new PerfBufferReader(map);
  }

  get closed(): boolean {
    return this.#reader.closed;
  }

  /** Unknown without reading: 1 until closed, so a final drain reads once more. */
  get available(): number {
    return this.#reader.closed ? 0 : 1;
  }

  /** Samples lost so far (the kernel's count, from PERF_RECORD_LOST records). */
  get lost(): number {
    return this.#reader.lost;
  }

  consume(print: (record: Uint8Array) => void): number {
    return this.#reader.consume((data) => print(data.subarray(0, this.size)));
  }

  wait(ms: number): Promise<unknown> {
    return this.#reader.wait(ms);
  }

  close(): void {
    this.#reader.close();
  }
}

