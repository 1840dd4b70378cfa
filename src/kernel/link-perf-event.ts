/**
 * Attaching a program to a perf event fd (tracepoint, kprobe, uprobe,
 * software/hardware events). Newer kernels make a bpf_link for it
 * (BPF_LINK_CREATE with BPF_PERF_EVENT, 5.15+); older ones only know the
 * PERF_EVENT_IOC_SET_BPF ioctl, where closing the perf fd detaches.
 */
import { SyscallError } from '../syscall/bpf.js';
import { closeFd } from '../syscall/fd.js';
import { Attr, AttachType } from '../syscall/layouts.generated.js';
import { ioctl, PerfIoctl } from '../syscall/perf-event.js';
import { bpfCommand } from './bpf-call.js';
import { FdLink, type LinkKind, type ProgramLike } from './link.js';

export interface PerfEventAttachOptions {
  /** bpf_cookie readable with bpf_get_attach_cookie() (bpf_link path only). */
  cookie?: bigint;
}

/** Attaches `program` to the open perf event `perfFd`; the link owns perfFd from here on. */
export function attachToPerfEvent(program: ProgramLike, perfFd: number, kind: LinkKind, target: string, options: PerfEventAttachOptions = {}): FdLink {
  try {
    const linkFd = bpfCommand('LINK_CREATE', Attr.linkCreate.size, (a) => {
      a.view.setUint32(Attr.linkCreate.prog_fd, program.fd, true);
      a.view.setUint32(Attr.linkCreate.target_fd, perfFd, true);
      a.view.setUint32(Attr.linkCreate.attach_type, AttachType.PERF_EVENT, true);
      a.view.setBigUint64(Attr.linkCreate.perf_event_bpf_cookie, options.cookie ?? 0n, true);
    }, `${kind} ${target}`);
    return new FdLink(kind, linkFd, [linkFd, perfFd], target);
  } catch (err) {
    // EINVAL: a kernel without perf bpf_links; fall back to the ioctl unless a cookie was asked for.
    if (!(err instanceof SyscallError) || err.errno !== 22 || options.cookie !== undefined) {
      closeFd(perfFd);
      throw err;
    }
  }
  try {
    ioctl(perfFd, PerfIoctl.SET_BPF, program.fd, `PERF_EVENT_IOC_SET_BPF (${kind} ${target})`);
    ioctl(perfFd, PerfIoctl.ENABLE, 0, `PERF_EVENT_IOC_ENABLE (${kind} ${target})`);
  } catch (err) {
    closeFd(perfFd);
    throw err;
  }
  return new FdLink(kind, -1, [perfFd], target);
}
