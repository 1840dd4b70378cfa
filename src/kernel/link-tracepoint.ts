/** Tracepoint links: perf_event_open on the tracepoint's id, then attach. */
import { PerfType, perfEventOpen } from '../syscall/perf-event.js';
import { LinkError } from './link-error.js';
import { attachToPerfEvent, type PerfEventAttachOptions } from './link-perf-event.js';
import type { FdLink, ProgramLike } from './link.js';
import { tracepointId } from './tracefs.js';

/**
 * Attaches a BPF_PROG_TYPE_TRACEPOINT program to `category/name`
 * (e.g. 'syscalls/sys_enter_getpid'), on every CPU and every process.
 * @example
 * using link = attachTracepoint(program, 'syscalls/sys_enter_execve');
 */
export function attachTracepoint(program: ProgramLike, tracepoint: string, options: PerfEventAttachOptions = {}): FdLink {
  const slash = tracepoint.indexOf('/');
  const category = slash > 0 ? tracepoint.slice(0, slash) : '';
  const name = slash > 0 ? tracepoint.slice(slash + 1) : '';
  if (!category || !name) {
    throw new LinkError('EBADARG', `tracepoint '${tracepoint}' is not of the form category/name`, tracepoint, "e.g. 'syscalls/sys_enter_getpid'");
  }
  const id = tracepointId(category, name);
  if (id === undefined) {
    throw new LinkError('ENOTRACEPOINT', `no tracepoint '${tracepoint}' in tracefs`, tracepoint, 'list them with: ls /sys/kernel/tracing/events/' + category);
  }
  const perfFd = perfEventOpen({ type: PerfType.TRACEPOINT, config: BigInt(id) }, -1, 0, -1, 0, `perf_event_open tracepoint ${tracepoint}`);
  return attachToPerfEvent(program, perfFd, 'tracepoint', tracepoint, options);
}
