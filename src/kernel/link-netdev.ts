/**
 * Links on a network interface: XDP and tcx ingress/egress (BPF_LINK_CREATE
 * with the interface index). Interfaces are named or given by index. XDP
 * falls back to netlink on kernels without XDP links (before 5.9); tc
 * without tcx is in link-tc.ts.
 */
import { Attr, AttachType } from '../syscall/layouts.generated.js';
import { ifNameToIndex } from '../syscall/socket.js';
import { bpfCommand } from './bpf-call.js';
import { LinkError } from './link-error.js';
import { requireFeature, haveFeature } from './feature-names.js';
import { attachXdpNetlink } from './link-xdp-netlink.js';
import { FdLink, type ProgramLike } from './link.js';

/** XDP attach flags (XDP_FLAGS_*). */
export const XdpMode = { auto: 0, skb: 1 << 1, drv: 1 << 2, hw: 1 << 3 } as const;

/**
 * The index of interface `iface` in this process's network namespace.
 * @example
 * interfaceIndex('lo');   // 1
 * interfaceIndex('nosuch');   // LinkError ENOIFACE
 */
export function interfaceIndex(iface: string | number): number {
  if (typeof iface === 'number') {
    if (!Number.isInteger(iface) || iface <= 0) throw new LinkError('ENOIFACE', `bad interface index ${iface}`, String(iface));
    return iface;
  }
  const index = ifNameToIndex(iface);
  if (index === 0) throw new LinkError('ENOIFACE', `no network interface '${iface}'`, iface, "list them with: ip link, in this process's network namespace");
  return index;
}

/** Options of `attachXdp`: the mode (native, generic, offload) and how to attach (bpf_link or netlink). */
export interface XdpOptions {
  /** skb (generic), drv (native) or hw (offload); default: native if the driver has it, else generic. */
  mode?: keyof typeof XdpMode;
  /** 'link' (a bpf_link, Linux 5.9+) or 'netlink' (IFLA_XDP); default: a link where the kernel has them. */
  method?: 'link' | 'netlink';
}

/**
 * Attaches a BPF_PROG_TYPE_XDP program to interface `iface`.
 * @example
 * using link = attachXdp(program, 'eth0');            // a BPF link; closing it detaches
 * attachXdp(program, 2, { mode: 'skb' }).close();       // generic XDP on ifindex 2
 */
export function attachXdp(program: ProgramLike, iface: string | number, options: XdpOptions = {}): FdLink {
  const ifindex = interfaceIndex(iface);
  if (options.method === 'link') requireFeature('xdp_link');
  else if (options.method === 'netlink' || !haveFeature('xdp_link')) return attachXdpNetlink(program, ifindex, XdpMode[options.mode ?? 'auto'], String(iface));
  const fd = bpfCommand('LINK_CREATE', Attr.linkCreate.size, (a) => {
    a.view.setUint32(Attr.linkCreate.prog_fd, program.fd, true);
    a.view.setUint32(Attr.linkCreate.target_ifindex, ifindex, true);
    a.view.setUint32(Attr.linkCreate.attach_type, AttachType.XDP, true);
    a.view.setUint32(Attr.linkCreate.flags, XdpMode[options.mode ?? 'auto'], true);
  }, `xdp on ${iface}`);
  return new FdLink('xdp', fd, [fd], String(iface));
}

/** BPF_F_BEFORE/BPF_F_AFTER and friends for mprog ordering (tcx, netkit). */
export const MprogFlags = { REPLACE: 1 << 2, BEFORE: 1 << 3, AFTER: 1 << 4, ID: 1 << 5, LINK: 1 << 13 } as const;

/** Options of `attachTcx`: where in the hook's order the program goes, and the revision the hook is expected to have. */
export interface TcxOptions {
  /** Ordering relative to another program or link (MprogFlags). */
  flags?: number;
  relativeFd?: number;
  expectedRevision?: bigint;
}

/**
 * Attaches a BPF_PROG_TYPE_SCHED_CLS program with tcx on ingress or egress of `iface` (6.6+); attachTc falls back to netlink.
 * @example
 * using link = attachTcx(prog, 'eth0', 'ingress');
 * attachTcx(first, 'eth0', 'ingress', { flags: MprogFlags.BEFORE, relativeFd: prog.fd });   // runs before prog
 */
export function attachTcx(program: ProgramLike, iface: string | number, direction: 'ingress' | 'egress', options: TcxOptions = {}): FdLink {
  const ifindex = interfaceIndex(iface);
  requireFeature('tcx');
  const fd = bpfCommand('LINK_CREATE', Attr.linkCreate.size, (a) => {
    a.view.setUint32(Attr.linkCreate.prog_fd, program.fd, true);
    a.view.setUint32(Attr.linkCreate.target_ifindex, ifindex, true);
    a.view.setUint32(Attr.linkCreate.attach_type, direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS, true);
    a.view.setUint32(Attr.linkCreate.flags, options.flags ?? 0, true);
    if (options.relativeFd !== undefined) a.view.setUint32(Attr.linkCreate.tcx_relative_fd, options.relativeFd, true);
    if (options.expectedRevision !== undefined) a.view.setBigUint64(Attr.linkCreate.tcx_expected_revision, options.expectedRevision, true);
  }, `tcx ${direction} on ${iface}`);
  return new FdLink('tcx', fd, [fd], `${iface} ${direction}`);
}
