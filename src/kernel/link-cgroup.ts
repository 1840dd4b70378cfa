/** cgroup links: a program on a cgroup v2 directory for one attach point (BPF_LINK_CREATE). */
import { closeSync, openSync } from 'node:fs';
import { Attr, AttachType } from '../syscall/layouts.generated.js';
import { bpfCommand } from './bpf-call.js';
import { LinkError } from './link-error.js';
import { FdLink, type ProgramLike } from './link.js';

/** Short names of the cgroup attach points, as in libbpf's SEC("cgroup/...") names. */
export const CgroupAttachPoint = {
  ingress: AttachType.CGROUP_INET_INGRESS,
  egress: AttachType.CGROUP_INET_EGRESS,
  sock_create: AttachType.CGROUP_INET_SOCK_CREATE,
  sock_release: AttachType.CGROUP_INET_SOCK_RELEASE,
  sock_ops: AttachType.CGROUP_SOCK_OPS,
  device: AttachType.CGROUP_DEVICE,
  post_bind4: AttachType.CGROUP_INET4_POST_BIND,
  post_bind6: AttachType.CGROUP_INET6_POST_BIND,
  bind4: AttachType.CGROUP_INET4_BIND,
  bind6: AttachType.CGROUP_INET6_BIND,
  connect4: AttachType.CGROUP_INET4_CONNECT,
  connect6: AttachType.CGROUP_INET6_CONNECT,
  connect_unix: AttachType.CGROUP_UNIX_CONNECT,
  sendmsg4: AttachType.CGROUP_UDP4_SENDMSG,
  sendmsg6: AttachType.CGROUP_UDP6_SENDMSG,
  sendmsg_unix: AttachType.CGROUP_UNIX_SENDMSG,
  recvmsg4: AttachType.CGROUP_UDP4_RECVMSG,
  recvmsg6: AttachType.CGROUP_UDP6_RECVMSG,
  recvmsg_unix: AttachType.CGROUP_UNIX_RECVMSG,
  getpeername4: AttachType.CGROUP_INET4_GETPEERNAME,
  getpeername6: AttachType.CGROUP_INET6_GETPEERNAME,
  getpeername_unix: AttachType.CGROUP_UNIX_GETPEERNAME,
  getsockname4: AttachType.CGROUP_INET4_GETSOCKNAME,
  getsockname6: AttachType.CGROUP_INET6_GETSOCKNAME,
  getsockname_unix: AttachType.CGROUP_UNIX_GETSOCKNAME,
  sysctl: AttachType.CGROUP_SYSCTL,
  getsockopt: AttachType.CGROUP_GETSOCKOPT,
  setsockopt: AttachType.CGROUP_SETSOCKOPT,
} as const;

/** A cgroup hook by name (`ingress`, `egress`, `sock_create`, `connect4` ...). */
export type CgroupAttachName = keyof typeof CgroupAttachPoint;

/**
 * Attaches a cgroup program (cgroup_skb, cgroup_sock, cgroup_sock_addr, cgroup_sysctl, ...) to `cgroupPath`.
 * @example
 * using link = attachCgroup(prog, '/sys/fs/cgroup/my.slice', 'egress');
 */
export function attachCgroup(program: ProgramLike, cgroupPath: string, attach: CgroupAttachName | number): FdLink {
  const attachType = typeof attach === 'number' ? attach : CgroupAttachPoint[attach];
  if (attachType === undefined) {
    throw new LinkError('EBADARG', `unknown cgroup attach point '${String(attach)}'`, cgroupPath, `one of: ${Object.keys(CgroupAttachPoint).join(', ')}`);
  }
  let dirFd: number;
  try {
    dirFd = openSync(cgroupPath, 'r');
  } catch (err) {
    throw new LinkError('ENOCGROUP', `cannot open cgroup '${cgroupPath}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`, cgroupPath, 'give a cgroup v2 directory, e.g. /sys/fs/cgroup/unified/NAME or /sys/fs/cgroup/NAME', { cause: err });
  }
  try {
    const fd = bpfCommand('LINK_CREATE', Attr.linkCreate.size, (a) => {
      a.view.setUint32(Attr.linkCreate.prog_fd, program.fd, true);
      a.view.setUint32(Attr.linkCreate.target_fd, dirFd, true);
      a.view.setUint32(Attr.linkCreate.attach_type, attachType, true);
    }, `cgroup ${String(attach)} on ${cgroupPath}`);
    return new FdLink('cgroup', fd, [fd], `${cgroupPath} ${String(attach)}`);
  } finally {
    closeSync(dirFd);
  }
}
