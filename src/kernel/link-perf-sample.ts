/**
 * Perf event programs (BPF_PROG_TYPE_PERF_EVENT) on sampling events, one
 * perf event per CPU (system-wide), all behind one Link: close() detaches
 * every CPU, info() describes the first, update() is not supported by the
 * kernel for perf links.
 */
import { PerfSwConfig, PerfType, perfEventOpen } from '../syscall/perf-event.js';
import { onlineCpus } from './cpus.js';
import { LinkError } from './link-error.js';
import { attachToPerfEvent } from './link-perf-event.js';
import type { FdLink, Link, LinkKind, ProgramLike } from './link.js';
import type { LinkInfo } from './link-info.js';
import { ObjectClosedError } from './owned-fd.js';

/** What `attachPerfEvent` samples: the perf event type and config, at a frequency or a period, on which CPUs. */
export interface PerfSampleOptions {
  /** perf_type_id (default PERF_TYPE_SOFTWARE). */
  type?: number;
  /** Event config (default PERF_COUNT_SW_CPU_CLOCK). */
  config?: bigint;
  /** Samples per second (default 99 Hz)... */
  frequency?: number;
  /** ...or one sample every `period` events. */
  period?: bigint;
  /** CPUs to sample (default: every online CPU). */
  cpus?: number[];
}

/**
 * A perf-event program attached on several CPUs (one perf event and link each), closed as one.
 * @example
 * using group = attachPerfEvent(prog, { cpus: [0, 1] });
 * console.log(group.links.length);   // 2: one perf event and link per CPU
 */
export class PerfEventGroupLink implements Link {
  readonly kind: LinkKind = 'perf-event';
  #closed = false;

  constructor(readonly links: FdLink[], readonly target: string) {}

  get fd(): number {
    this.#ensureOpen('fd');
    return this.links[0]?.fd ?? -1;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.links) l.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  pin(): void {
    this.#ensureOpen('pin');
    throw new LinkError('ENOTSUP', `pin: a perf event link spans ${this.links.length} CPUs`, this.target, 'pin the per-CPU links (link.links[i].pin(path)) instead');
  }

  unpin(): void {
    this.#ensureOpen('unpin');
  }

  info(): LinkInfo {
    this.#ensureOpen('info');
    return this.links[0]!.info();
  }

  update(): void {
    this.#ensureOpen('update');
    throw new LinkError('ENOTSUP', 'update: a perf event link cannot swap its program', this.target, 'close it and attach the new program');
  }

  #ensureOpen(what: string): void {
    if (this.#closed) throw new ObjectClosedError(`${what}: perf event link on ${this.target}`);
  }
}

/**
 * Attaches a BPF_PROG_TYPE_PERF_EVENT program to a sampling event on every CPU (software cpu-clock by default).
 * @example
 * using link = attachPerfEvent(prog, { frequency: 99 });   // CPU-clock samples on every online CPU
 */
export function attachPerfEvent(program: ProgramLike, options: PerfSampleOptions = {}): PerfEventGroupLink {
  const type = options.type ?? PerfType.SOFTWARE;
  const config = options.config ?? BigInt(PerfSwConfig.CPU_CLOCK);
  if (options.frequency !== undefined && options.period !== undefined) throw new LinkError('EBADARG', 'give a sampling frequency or a period, not both');
  const freq = options.period === undefined;
  const target = `perf type ${type} config ${config}`;
  const links: FdLink[] = [];
  try {
    for (const cpu of options.cpus ?? onlineCpus()) {
      const fd = perfEventOpen({
        type, config, freq,
        samplePeriod: freq ? BigInt(options.frequency ?? 99) : options.period,
      }, -1, cpu, -1, 0, `perf_event_open ${target} cpu ${cpu}`);
      links.push(attachToPerfEvent(program, fd, 'perf-event', `${target} cpu ${cpu}`));
    }
  } catch (err) {
    for (const l of links) l.close();
    throw err;
  }
  return new PerfEventGroupLink(links, target);
}
