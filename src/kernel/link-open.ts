/**
 * Links that already exist: opened from a bpffs pin or by id. The link
 * kind comes from the kernel's link info.
 */
import { closeFd } from '../syscall/fd.js';
import { LinkType } from '../syscall/layouts.generated.js';
import { fdById } from './ids.js';
import { IterLink } from './link-iter.js';
import { readLinkInfo, PerfEventLinkType } from './link-info.js';
import { FdLink, type LinkKind } from './link.js';
import { openPinnedFd } from './pin.js';

function kindOf(type: number, perfType?: number): LinkKind {
  switch (type) {
    case LinkType.RAW_TRACEPOINT: return 'raw-tracepoint';
    case LinkType.TRACING: return 'tracing';
    case LinkType.CGROUP: return 'cgroup';
    case LinkType.ITER: return 'iter';
    case LinkType.NETNS: return 'netns';
    case LinkType.XDP: return 'xdp';
    case LinkType.TCX: return 'tcx';
    case LinkType.KPROBE_MULTI: return 'kprobe';
    case LinkType.UPROBE_MULTI: return 'uprobe-multi';
    case LinkType.PERF_EVENT:
      switch (perfType) {
        case PerfEventLinkType.UPROBE: return 'uprobe';
        case PerfEventLinkType.URETPROBE: return 'uretprobe';
        case PerfEventLinkType.KPROBE: return 'kprobe';
        case PerfEventLinkType.KRETPROBE: return 'kretprobe';
        case PerfEventLinkType.TRACEPOINT: return 'tracepoint';
        default: return 'perf-event';
      }
    default: return 'perf-event';
  }
}

/**
 * Wraps an fd that is a bpf_link (taking ownership of it).
 * @example
 * using link = linkFromFd(fd, 'inherited link');   // takes ownership of fd
 */
export function linkFromFd(fd: number, label: string): FdLink {
  let info;
  try {
    info = readLinkInfo(fd);
  } catch (err) {
    closeFd(fd);
    throw err;
  }
  const kind = kindOf(info.type, info.perfEventType);
  const target = info.name ?? label;
  return kind === 'iter' ? new IterLink(kind, fd, [fd], target) : new FdLink(kind, fd, [fd], target);
}

/**
 * Opens the link pinned at `path` (BPF_OBJ_GET). Closing it leaves the pin in place.
 * @example
 * using link = openPinnedLink('/sys/fs/bpf/my-link');
 * link.update(newProgram);
 */
export function openPinnedLink(path: string): FdLink {
  return linkFromFd(openPinnedFd(path, 0, 'link'), path);
}

/**
 * Opens a link by its id (BPF_LINK_GET_FD_BY_ID).
 * @example
 * using link = linkFromId(17);
 * link.detach();
 */
export function linkFromId(id: number): FdLink {
  return linkFromFd(fdById('LINK', id), `link id ${id}`);
}
