/**
 * What BPF runs on the network of this process's namespace, per interface,
 * as `bpftool net show` reports it: XDP programs (from the interface's
 * IFLA_XDP over netlink, whether attached by link or by netlink), tcx
 * programs (BPF_PROG_QUERY, Linux 6.6+), cls_bpf filters on the clsact
 * ingress/egress hooks (a netlink filter dump) and the namespace's flow
 * dissector.
 */
import { closeSync, openSync } from 'node:fs';
import { SyscallError } from '../syscall/bpf.js';
import { AttachType } from '../syscall/layouts.generated.js';
import { NetlinkRequest, netlinkRequest, NlmFlags, parseAttributes, RtmType } from '../syscall/netlink.js';
import { queryAttached } from './prog-query.js';
import { progInfoByFd } from './info.js';
import { fdById } from './ids.js';
import { closeFd } from '../syscall/fd.js';
import { LinkError } from './link-error.js';
import { hookParent, TCA_BPF, TCA_KIND, TCA_OPTIONS, tcmsg } from './link-tc.js';
import { IFLA_XDP, ifinfomsg } from './link-xdp-netlink.js';

/** An interface of this namespace. */
export interface NetDevice {
  devname: string;
  ifindex: number;
}

/** An XDP program on an interface; `mode` as bpftool names it. */
export interface XdpAttachment extends NetDevice {
  hook: 'xdp';
  mode: 'driver' | 'generic' | 'offload';
  /** The program id. */
  id: number;
}

/** A tc program on an interface: a tcx one (with its link, 0 if attached without one) or a cls_bpf filter on clsact. */
export interface TcAttachment extends NetDevice {
  hook: 'tc';
  kind: 'tcx/ingress' | 'tcx/egress' | 'clsact/ingress' | 'clsact/egress';
  /** For cls_bpf, the filter's name (tc's, usually the program's); for tcx, the program's name. */
  name?: string;
  /** The program id. */
  id: number;
  linkId?: number;
}

/** The namespace's flow dissector program. */
export interface FlowDissectorAttachment {
  hook: 'flow_dissector';
  id: number;
}

/** One BPF program on the network, as `netAttachments` lists them. */
export type NetAttachment = XdpAttachment | TcAttachment | FlowDissectorAttachment;

const IFLA_IFNAME = 3;
const IFLA_XDP_ATTACHED = 2;
const XDP_ID = { PROG: 4, DRV: 5, SKB: 6, HW: 7 } as const;
const XDP_ATTACHED = { DRV: 1, SKB: 2, HW: 3, MULTI: 4 } as const;
const EINVAL = 22;

const u32 = (b: Uint8Array | undefined): number | undefined => (b && b.byteLength >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : undefined);
const cString = (b: Uint8Array): string => new TextDecoder().decode(b.subarray(0, b.indexOf(0) >= 0 ? b.indexOf(0) : b.byteLength));

/** Every interface with its XDP attributes (RTM_GETLINK dump), in the kernel's order. */
function dumpLinks(): { device: NetDevice; xdp: Map<number, Uint8Array> | undefined }[] {
  const req = new NetlinkRequest(RtmType.GETLINK, NlmFlags.REQUEST | NlmFlags.DUMP, ifinfomsg(0));
  return netlinkRequest(req, 'list interfaces').filter((r) => r.type === RtmType.NEWLINK).map((r) => {
    const ifindex = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength).getInt32(4, true);
    const attrs = parseAttributes(r.payload, 16);
    const name = attrs.get(IFLA_IFNAME);
    const xdp = attrs.get(IFLA_XDP);
    return { device: { devname: name ? cString(name) : '', ifindex }, xdp: xdp ? parseAttributes(xdp) : undefined };
  });
}

/** The XDP programs of one interface, as bpftool lists them (a multi-mode attachment gives one per mode). */
function xdpOf(device: NetDevice, xdp: Map<number, Uint8Array>): XdpAttachment[] {
  const attached = xdp.get(IFLA_XDP_ATTACHED)?.[0] ?? 0;
  const one = (attr: number, mode: XdpAttachment['mode']): XdpAttachment[] => {
    const id = u32(xdp.get(attr));
    return id === undefined ? [] : [{ hook: 'xdp', ...device, mode, id }];
  };
  switch (attached) {
    case XDP_ATTACHED.DRV: return one(XDP_ID.PROG, 'driver');
    case XDP_ATTACHED.SKB: return one(XDP_ID.PROG, 'generic');
    case XDP_ATTACHED.HW: return one(XDP_ID.PROG, 'offload');
    case XDP_ATTACHED.MULTI: return [...one(XDP_ID.SKB, 'generic'), ...one(XDP_ID.DRV, 'driver'), ...one(XDP_ID.HW, 'offload')];
    default: return [];
  }
}

function programName(id: number): string | undefined {
  let fd: number;
  try {
    fd = fdById('PROG', id);
  } catch {
    return undefined; // gone meanwhile
  }
  try {
    return progInfoByFd(fd).name || undefined;
  } finally {
    closeFd(fd);
  }
}

/** tcx programs on one hook of an interface; none on a kernel without tcx (EINVAL for the attach type). */
function tcxOf(device: NetDevice, direction: 'ingress' | 'egress'): TcAttachment[] {
  let q;
  try {
    q = queryAttached({ ifindex: device.ifindex }, direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS, `tcx ${direction} of ${device.devname}`);
  } catch (e) {
    if (e instanceof SyscallError && e.errno === EINVAL) return [];
    throw e;
  }
  return q.progIds.map((id, i) => {
    const name = programName(id);
    return { hook: 'tc', ...device, kind: `tcx/${direction}`, ...(name ? { name } : {}), id, linkId: q.linkIds[i] ?? 0 };
  });
}

/** cls_bpf filters on a clsact hook (none when the interface has no clsact qdisc). */
function clsactOf(device: NetDevice, direction: 'ingress' | 'egress'): TcAttachment[] {
  let replies;
  try {
    replies = netlinkRequest(new NetlinkRequest(RtmType.GETTFILTER, NlmFlags.REQUEST | NlmFlags.DUMP, tcmsg(device.ifindex, 0, hookParent(direction), 0)), `tc filters of ${device.devname} ${direction}`);
  } catch (e) {
    if (e instanceof SyscallError && e.errno === EINVAL) return []; // no clsact qdisc
    throw e;
  }
  const out: TcAttachment[] = [];
  for (const r of replies) {
    const attrs = parseAttributes(r.payload, 20);
    const kind = attrs.get(TCA_KIND);
    const options = attrs.get(TCA_OPTIONS);
    // The dump also sends each filter chain's head, which has no options.
    if (!kind || cString(kind) !== 'bpf' || !options) continue;
    const bpf = parseAttributes(options);
    const name = bpf.get(TCA_BPF.NAME);
    const id = u32(bpf.get(TCA_BPF.ID));
    if (id === undefined) continue;
    out.push({ hook: 'tc', ...device, kind: `clsact/${direction}`, ...(name ? { name: cString(name) } : {}), id });
  }
  return out;
}

/** The flow dissector program of this process's network namespace, if any. */
function flowDissector(): FlowDissectorAttachment[] {
  const fd = openSync('/proc/self/ns/net', 'r');
  try {
    return queryAttached({ fd }, AttachType.FLOW_DISSECTOR, 'flow dissector of this netns').progIds.map((id) => ({ hook: 'flow_dissector', id }));
  } finally {
    closeSync(fd);
  }
}

/**
 * The BPF programs on the network of this process's namespace: XDP, then
 * tc (tcx, then cls_bpf on clsact; ingress before egress) per interface in
 * the kernel's order, then the flow dissector. `device` limits the
 * interface hooks to one interface (by name). Needs CAP_NET_ADMIN and
 * CAP_BPF (root).
 *
 * @example
 * ```ts
 * import { netAttachments } from 'tsbpf';
 * for (const a of netAttachments('eth0')) if (a.hook === 'xdp') console.log(`${a.devname} ${a.mode} id ${a.id}`);
 * ```
 */
export function netAttachments(device?: string): NetAttachment[] {
  const links = dumpLinks().filter((l) => device === undefined || l.device.devname === device);
  if (device !== undefined && links.length === 0) throw new LinkError('ENOIFACE', `no network interface '${device}'`, device, "list them with: ip link, in this process's network namespace");
  const xdp = links.flatMap((l) => (l.xdp ? xdpOf(l.device, l.xdp) : []));
  const tc = links.flatMap((l) => [...tcxOf(l.device, 'ingress'), ...tcxOf(l.device, 'egress'), ...clsactOf(l.device, 'ingress'), ...clsactOf(l.device, 'egress')]);
  return [...xdp, ...tc, ...flowDissector()];
}
