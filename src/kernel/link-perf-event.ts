/**
 * Attaching a program to a perf event fd (tracepoint, kprobe, uprobe,
 * software/hardware events). Newer kernels make a bpf_link for it
 * (BPF_LINK_CREATE with BPF_PERF_EVENT, 5.15+; the perf_link feature);
 * older ones only know the PERF_EVENT_IOC_SET_BPF ioctl, where closing the
 * perf fd detaches. TSBPF_FEATURES_OFF=perf_link or `legacy` forces the ioctl.
 */
import { SyscallError } from '../syscall/bpf.js';
import { closeFd } from '../syscall/fd.js';
import { Attr, AttachType } from '../syscall/layouts.generated.js';
import { ioctl, PerfIoctl } from '../syscall/perf-event.js';
import { bpfCommand } from './bpf-call.js';
import { haveFeature, requireFeature } from './feature-names.js';
import { LinkError } from './link-error.js';
import { FdLink, type LinkKind, type ProgramLike } from './link.js';

/** Options of attaching to a perf event (tracepoint, kprobe, uprobe): the bpf_cookie. */
export interface PerfEventAttachOptions {
  /** bpf_cookie readable with bpf_get_attach_cookie() (bpf_link path only). */
  cookie?: bigint;
  /** Use PERF_EVENT_IOC_SET_BPF even where bpf_links exist (what kernels before 5.15 get). */
  legacy?: boolean;
}

/**
 * A program on a perf event through a bpf_link (Linux 5.15+): pinnable, with info().
 * @example
 * const link = attachTracepoint(prog, 'sched/sched_switch');   // a PerfEventLink on Linux 5.15+
 * link.pin('/sys/fs/bpf/switch');
 */
export class PerfEventLink extends FdLink {}

/**
 * A program on a perf event through PERF_EVENT_IOC_SET_BPF (kernels before
 * 5.15, or `legacy`): not a bpf_link; closing the perf event detaches it.
 * @example
 * const link = attachTracepoint(prog, 'sched/sched_switch', { legacy: true });   // PerfEventIoctlLink
 * link.close();   // closing the perf event detaches
 */
export class PerfEventIoctlLink extends FdLink {
  constructor(kind: LinkKind, perfFd: number, target: string) {
    super(kind, -1, [perfFd], target);
  }
}

/**
 * Attaches `program` to the open perf event `perfFd`; the link owns perfFd from here on.
 * @example
 * const perfFd = perfEventOpen(attr, -1, 0, -1, 0);   // any perf event you opened
 * using link = attachToPerfEvent(prog, perfFd, 'perf-event', 'my event');   // owns perfFd now
 */
export function attachToPerfEvent(program: ProgramLike, perfFd: number, kind: LinkKind, target: string, options: PerfEventAttachOptions = {}): FdLink {
  const useLink = !options.legacy && haveFeature('perf_link');
  if (!useLink && options.cookie !== undefined) {
    closeFd(perfFd);
    if (options.legacy) throw new LinkError('EBADARG', 'a bpf_cookie needs a bpf_link; the legacy ioctl attach has none', target);
    requireFeature('perf_link');
  }
  return useLink ? viaBpfLink(program, perfFd, kind, target, options) : viaIoctl(program, perfFd, kind, target);
}

function viaBpfLink(program: ProgramLike, perfFd: number, kind: LinkKind, target: string, options: PerfEventAttachOptions): FdLink {
  try {
    const linkFd = bpfCommand('LINK_CREATE', Attr.linkCreate.size, (a) => {
      a.view.setUint32(Attr.linkCreate.prog_fd, program.fd, true);
      a.view.setUint32(Attr.linkCreate.target_fd, perfFd, true);
      a.view.setUint32(Attr.linkCreate.attach_type, AttachType.PERF_EVENT, true);
      a.view.setBigUint64(Attr.linkCreate.perf_event_bpf_cookie, options.cookie ?? 0n, true);
    }, `${kind} ${target}`);
    return new PerfEventLink(kind, linkFd, [linkFd, perfFd], target);
  } catch (err) {
    closeFd(perfFd);
    throw tooManyOn(err, kind, target);
  }
}

function viaIoctl(program: ProgramLike, perfFd: number, kind: LinkKind, target: string): FdLink {
  try {
    ioctl(perfFd, PerfIoctl.SET_BPF, program.fd, `PERF_EVENT_IOC_SET_BPF (${kind} ${target})`);
    ioctl(perfFd, PerfIoctl.ENABLE, 0, `PERF_EVENT_IOC_ENABLE (${kind} ${target})`);
  } catch (err) {
    closeFd(perfFd);
    throw tooManyOn(err, kind, target);
  }
  return new PerfEventIoctlLink(kind, perfFd, target);
}

/** The kernel's limit on programs per tracepoint/probe (BPF_TRACE_MAX_PROGS). */
const MAX_PROGS_PER_EVENT = 64;

/**
 * E2BIG from attaching to a perf event does not mean "too large": the
 * tracepoint or probe already runs as many programs as the kernel allows.
 */
function tooManyOn(err: unknown, kind: LinkKind, target: string): unknown {
  if (!(err instanceof SyscallError) || err.errno !== 7) return err;
  return new LinkError('ETOOMANY', `cannot attach another program to ${kind} ${target}: it already runs ${MAX_PROGS_PER_EVENT} BPF programs, the kernel's limit per tracepoint or probe`, target, 'close links that are no longer needed (link.close() or using), or detach other tools\' programs from it', { cause: err });
}
