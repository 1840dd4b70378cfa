/**
 * kprobe/kretprobe links through the kprobe PMU, and kprobe_multi. Where the
 * kernel has no kprobes (CONFIG_KPROBES off: no kprobe PMU and no
 * kprobe_events in tracefs) attaching fails with a clear ENOKPROBES error.
 */
import { existsSync } from 'node:fs';
import { Attr, AttachType } from '../syscall/layouts.generated.js';
import { nativeCString, NativeBuffer } from '../syscall/memory.js';
import { perfEventOpen } from '../syscall/perf-event.js';
import { bpfCommand } from './bpf-call.js';
import { LinkError } from './link-error.js';
import { attachToPerfEvent, type PerfEventAttachOptions } from './link-perf-event.js';
import { FdLink, type ProgramLike } from './link.js';
import { dynamicPmuType, retprobeBit } from './tracefs.js';

/** Options of `attachKprobe`: return probe, offset into the function, cookie. */
export interface KprobeOptions extends PerfEventAttachOptions {
  /** Attach on function return (kretprobe). */
  retprobe?: boolean;
  /** Offset inside the function. */
  offset?: bigint;
}

/**
 * True when this kernel can place kprobes.
 * @example
 * if (!kernelHasKprobes()) console.log('use tracepoints: no kprobes in this kernel');
 */
export function kernelHasKprobes(): boolean {
  return dynamicPmuType('kprobe') !== undefined
    || existsSync('/sys/kernel/tracing/kprobe_events')
    || existsSync('/sys/kernel/debug/tracing/kprobe_events');
}

function noKprobes(symbol: string): LinkError {
  return new LinkError('ENOKPROBES', `cannot attach kprobe to '${symbol}': this kernel has no kprobes (CONFIG_KPROBES)`, symbol,
    'no kprobe PMU in /sys/bus/event_source/devices and no kprobe_events in tracefs; use a tracepoint, raw tracepoint or fentry instead, or a kernel built with CONFIG_KPROBES');
}

/**
 * Attaches a BPF_PROG_TYPE_KPROBE program to kernel function `symbol`.
 * @example
 * using link = attachKprobe(prog, 'do_sys_openat2');
 * using ret = attachKprobe(retProg, 'do_sys_openat2', { retprobe: true });
 */
export function attachKprobe(program: ProgramLike, symbol: string, options: KprobeOptions = {}): FdLink {
  const pmu = dynamicPmuType('kprobe');
  if (pmu === undefined) throw noKprobes(symbol);
  const kind = options.retprobe ? 'kretprobe' : 'kprobe';
  using name = nativeCString(symbol);
  let perfFd: number;
  try {
    perfFd = perfEventOpen({
      type: pmu,
      config: options.retprobe ? 1n << BigInt(retprobeBit('kprobe')) : 0n,
      config1: name.address,
      config2: options.offset ?? 0n,
    }, -1, 0, -1, 0, `perf_event_open ${kind} ${symbol}`);
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno === 2 || errno === 22) throw new LinkError('ENOSYM', `no probeable kernel function '${symbol}'`, symbol, 'check /proc/kallsyms and /sys/kernel/tracing/available_filter_functions', { cause: err });
    throw err;
  }
  return attachToPerfEvent(program, perfFd, kind, symbol, options);
}

/**
 * kprobe_multi: one link on many kernel functions (BPF_TRACE_KPROBE_MULTI).
 * @example
 * using link = attachKprobeMulti(prog, ['vfs_read', 'vfs_write']);   // one link, many functions (5.18+)
 */
export function attachKprobeMulti(program: ProgramLike, symbols: string[], options: { retprobe?: boolean } = {}): FdLink {
  if (symbols.length === 0) throw new LinkError('EBADARG', 'kprobe_multi needs at least one symbol');
  if (!kernelHasKprobes()) throw noKprobes(symbols.join(','));
  const strings = symbols.map((s) => nativeCString(s));
  using array = new NativeBuffer(8 * symbols.length);
  strings.forEach((s, i) => array.view.setBigUint64(8 * i, s.address, true));
  try {
    const fd = bpfCommand('LINK_CREATE', Attr.linkCreate.size, (a) => {
      a.view.setUint32(Attr.linkCreate.prog_fd, program.fd, true);
      a.view.setUint32(Attr.linkCreate.attach_type, AttachType.TRACE_KPROBE_MULTI, true);
      a.view.setUint32(Attr.linkCreate.kprobe_multi_flags, options.retprobe ? 1 : 0, true);
      a.view.setUint32(Attr.linkCreate.kprobe_multi_cnt, symbols.length, true);
      a.view.setBigUint64(Attr.linkCreate.kprobe_multi_syms, array.address, true);
    }, `kprobe_multi ${symbols.length} symbols`);
    return new FdLink('kprobe', fd, [fd], symbols.join(','));
  } finally {
    for (const s of strings) s.free();
  }
}
