/**
 * The one interface behind every attach method, and the fd-owning base class
 * the link kinds share. A "link" is usually a bpf_link (BPF_LINK_CREATE,
 * BPF_RAW_TRACEPOINT_OPEN): it can be pinned, queried and updated. Some
 * attachments are not bpf_links (a socket filter, a perf event attached with
 * the legacy ioctl); they still close/detach the same way, and say clearly
 * that pinning or updating them is not possible.
 */
import { closeFd } from '../syscall/fd.js';
import { Attr } from '../syscall/layouts.generated.js';
import { bpfCommand } from './bpf-call.js';
import { LinkError } from './link-error.js';
import { ObjectClosedError } from './owned-fd.js';
import { pinFd, unpin } from './pin.js';
import { readLinkInfo, type LinkInfo } from './link-info.js';

/** What a link needs from a program: its fd (a loaded Program has one). */
export interface ProgramLike {
  readonly fd: number;
  readonly name?: string;
}

/** How a program is attached: one kind per attach method (the kernel link type where there is one). */
export type LinkKind =
  | 'tracepoint' | 'raw-tracepoint' | 'uprobe' | 'uretprobe' | 'uprobe-multi' | 'kprobe' | 'kretprobe'
  | 'perf-event' | 'xdp' | 'tcx' | 'tc' | 'cgroup' | 'socket-filter' | 'netns' | 'iter' | 'tracing';

/** One interface for every attachment, as cilium/ebpf's link.Link: close (or `using`) detaches; a bpf_link can also be pinned, queried and updated, and the others say clearly that they cannot. */
export interface Link extends Disposable {
  readonly kind: LinkKind;
  /** The bpf_link fd, or -1 when the attachment is not a bpf_link; ObjectClosedError after close(). */
  readonly fd: number;
  readonly closed: boolean;
  /** Detaches (for a bpf_link: drops our reference; a pinned link stays). */
  close(): void;
  /** Pins the bpf_link in bpffs so that it outlives this process. */
  pin(path: string): void;
  /** Removes the pin made by pin(). */
  unpin(): void;
  /** BPF_OBJ_GET_INFO_BY_FD on the link. */
  info(): LinkInfo;
  /** Atomically replaces the attached program (BPF_LINK_UPDATE). */
  update(program: ProgramLike): void;
}

/** Link kinds whose kernel link type implements update_prog. */
const UPDATABLE = new Set<LinkKind>(['xdp', 'tcx', 'cgroup', 'netns', 'iter']);

const finalizer = new FinalizationRegistry<number[]>((fds) => {
  for (const fd of fds) {
    try {
      closeFd(fd);
    } catch {
      // Already gone: nothing to release.
    }
  }
});

/**
 * Base of every link kind: owns its fds (the bpf_link fd first, then any
 * fds it depends on, such as perf events), closes them once, and guards
 * every use after close.
 * @example
 * using link = attachRawTracepoint(prog, 'sys_enter');   // an FdLink
 * link.pin('/sys/fs/bpf/my-link');
 * console.log(link.info().id);
 */
export class FdLink implements Link {
  readonly #linkFd: number;
  #fds: number[];
  #closed = false;
  #pinnedAt: string | undefined;

  /** `linkFd` is the bpf_link (or -1); `ownedFds` are closed by close(), the link first. */
  constructor(readonly kind: LinkKind, linkFd: number, ownedFds: number[], readonly target: string) {
    this.#linkFd = linkFd;
    this.#fds = ownedFds;
    finalizer.register(this, ownedFds, this);
  }

  get fd(): number {
    this.ensureOpen('fd');
    return this.#linkFd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get pinnedPath(): string | undefined {
    return this.#pinnedAt;
  }

  protected ensureOpen(what: string): void {
    if (this.#closed) throw new ObjectClosedError(`${what}: the ${this.kind} link on ${this.target}`);
  }

  protected ensureBpfLink(what: string): number {
    this.ensureOpen(what);
    if (this.#linkFd < 0) {
      throw new LinkError('ENOTSUP', `${what}: the ${this.kind} attachment on ${this.target} is not a bpf_link`, this.target, 'this kernel or attach method has no bpf_link for it; close() detaches it');
    }
    return this.#linkFd;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    finalizer.unregister(this);
    for (const fd of this.#fds) closeFd(fd, `close ${this.kind} link`);
    this.#fds = [];
    this.onClose();
  }

  /** Extra release work of a subclass (after the fds are closed). */
  protected onClose(): void {}

  [Symbol.dispose](): void {
    this.close();
  }

  pin(path: string): void {
    const fd = this.ensureBpfLink('pin');
    pinFd(fd, path);
    this.#pinnedAt = path;
  }

  unpin(): void {
    this.ensureOpen('unpin');
    if (this.#pinnedAt === undefined) return;
    unpin(this.#pinnedAt);
    this.#pinnedAt = undefined;
  }

  info(): LinkInfo {
    return readLinkInfo(this.ensureBpfLink('info'));
  }

  update(program: ProgramLike): void {
    const fd = this.ensureBpfLink('update');
    if (!UPDATABLE.has(this.kind)) {
      throw new LinkError('ENOTSUP', `update: a ${this.kind} link cannot swap its program`, this.target, 'the kernel supports BPF_LINK_UPDATE for xdp, tcx, cgroup, netns and iter links; close this link and attach the new program');
    }
    bpfCommand('LINK_UPDATE', Attr.linkUpdate.size, (a) => {
      a.view.setUint32(Attr.linkUpdate.link_fd, fd, true);
      a.view.setUint32(Attr.linkUpdate.new_prog_fd, program.fd, true);
    }, `${this.kind} link`);
  }

  /**
   * Detaches the link from its hook while keeping the fd (BPF_LINK_DETACH):
   * pinned copies become defunct too. Supported by cgroup, netns, xdp, tcx,
   * and a few other link types.
   */
  detach(): void {
    const fd = this.ensureBpfLink('detach');
    bpfCommand('LINK_DETACH', Attr.linkDetach.size, (a) => a.view.setUint32(Attr.linkDetach.link_fd, fd, true), `${this.kind} link`);
  }
}
