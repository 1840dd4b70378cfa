/**
 * tc programs through netlink, for kernels without tcx (before 6.6): a
 * clsact qdisc on the interface (added when missing, left in place as tc
 * and libbpf leave it) and a cls_bpf filter in direct-action mode on its
 * ingress or egress hook. This is what `tc filter add dev X ingress bpf da`
 * and libbpf's bpf_tc_attach do. The filter is not a bpf_link: it cannot be
 * pinned or updated, and close() deletes it (only if it still runs our
 * program). attachTc picks tcx where the kernel has it.
 */
import { NetlinkError, NetlinkRequest, netlinkRequest, parseAttributes, RtmType, NlmFlags } from '../syscall/netlink.js';
import { requireFeature, haveFeature } from './feature-names.js';
import { LinkError } from './link-error.js';
import { attachTcx, interfaceIndex, type TcxOptions } from './link-netdev.js';
import { FdLink, type Link, type ProgramLike } from './link.js';

const TC_H_CLSACT = 0xffff_fff1;
const CLSACT_HANDLE = 0xffff_0000;
const TC_H_MIN_INGRESS = 0xfff2;
const TC_H_MIN_EGRESS = 0xfff3;
const ETH_P_ALL = 0x0003;
export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_BPF = { FD: 6, NAME: 7, FLAGS: 8, ID: 11 } as const;
const TCA_BPF_FLAG_ACT_DIRECT = 1;
const EEXIST = 17;
const ENOENT = 2;

/** The side of an interface a tc program runs on. */
export type TcDirection = 'ingress' | 'egress';

/** struct tcmsg: family, ifindex, handle, parent, info. */
export function tcmsg(ifindex: number, handle: number, parent: number, info: number): Uint8Array {
  const b = new Uint8Array(20);
  const v = new DataView(b.buffer);
  v.setInt32(4, ifindex, true);
  v.setUint32(8, handle >>> 0, true);
  v.setUint32(12, parent >>> 0, true);
  v.setUint32(16, info >>> 0, true);
  return b;
}

/** The parent of a clsact hook's filters (what tc calls `ingress` / `egress`). */
export const hookParent = (direction: TcDirection): number => ((TC_H_CLSACT & 0xffff_0000) | (direction === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS)) >>> 0;
/** tcm_info of a filter: priority in the upper half, protocol (network order) in the lower. */
const filterInfo = (priority: number): number => ((priority << 16) | (((ETH_P_ALL & 0xff) << 8) | (ETH_P_ALL >> 8))) >>> 0;

/** Adds the clsact qdisc unless the interface has it already. */
function ensureClsact(ifindex: number, label: string): void {
  const req = new NetlinkRequest(RtmType.NEWQDISC, NlmFlags.REQUEST | NlmFlags.ACK | NlmFlags.CREATE | NlmFlags.EXCL, tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0))
    .string(TCA_KIND, 'clsact');
  try {
    netlinkRequest(req, `add clsact qdisc on ${label}`);
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === EEXIST) return;
    throw attachError(e, label, 'the kernel needs sch_ingress (clsact) and cls_bpf: modprobe sch_ingress cls_bpf');
  }
}

function attachError(e: unknown, label: string, hint: string): unknown {
  if (!(e instanceof NetlinkError)) return e;
  return new LinkError('EATTACH', `tc on ${label}: ${e.message}`, label, hint, { cause: e });
}

/** A cls_bpf filter found in a netlink answer: its handle, priority and program id. */
function readFilter(payload: Uint8Array): { handle: number; priority: number; progId?: number } {
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const handle = v.getUint32(8, true);
  const priority = v.getUint32(16, true) >>> 16;
  const options = parseAttributes(payload, 20).get(TCA_OPTIONS);
  const id = options ? parseAttributes(options).get(TCA_BPF.ID) : undefined;
  return { handle, priority, ...(id && id.byteLength >= 4 ? { progId: new DataView(id.buffer, id.byteOffset, 4).getUint32(0, true) } : {}) };
}

/**
 * A cls_bpf filter on a clsact hook, detached (deleted) by close().
 * @example
 * const filter = attachTcNetlink(prog, 'eth0', 'ingress');
 * console.log(filter.handle, filter.priority);   // as tc filter show lists it
 * filter.close();   // deletes the filter if it still runs this program
 */
export class TcNetlinkLink extends FdLink {
  constructor(
    readonly ifindex: number,
    readonly direction: TcDirection,
    /** The filter's handle and priority, which name it for tc. */
    readonly handle: number,
    readonly priority: number,
    /** The id of the program it runs, checked before deleting. */
    readonly progId: number | undefined,
    target: string,
  ) {
    super('tc', -1, [], target);
  }

  protected override onClose(): void {
    const parent = hookParent(this.direction);
    const filter = (type: number, flags: number): NetlinkRequest =>
      new NetlinkRequest(type, NlmFlags.REQUEST | NlmFlags.ACK | flags, tcmsg(this.ifindex, this.handle, parent, filterInfo(this.priority))).string(TCA_KIND, 'bpf');
    try {
      // Another tool may have replaced the filter since: delete only ours.
      const found = netlinkRequest(filter(RtmType.GETTFILTER, 0), `look up tc filter on ${this.target}`).map((r) => readFilter(r.payload));
      if (this.progId !== undefined && !found.some((f) => f.progId === this.progId)) return;
      netlinkRequest(filter(RtmType.DELTFILTER, 0), `delete tc filter on ${this.target}`);
    } catch (e) {
      // Gone with its interface or qdisc: nothing is attached any more.
      if (e instanceof NetlinkError && (e.errno === ENOENT || e.errno === 19 || e.errno === 22)) return;
      throw e;
    }
  }
}

/** Options of `attachTcNetlink`: the cls_bpf filter's priority and handle. */
export interface TcNetlinkOptions {
  /** Filter priority (1..65535; lower runs first); default: the kernel picks one before the existing filters. */
  priority?: number;
  /** Filter handle; default: the kernel picks one. */
  handle?: number;
}

/**
 * Attaches a BPF_PROG_TYPE_SCHED_CLS program as a direct-action cls_bpf
 * filter on the clsact `direction` hook of `iface` (any kernel since 4.5).
 * @example
 * using filter = attachTcNetlink(prog, 'eth0', 'ingress', { priority: 1 });   // tc filter add dev eth0 ingress bpf da
 */
export function attachTcNetlink(program: ProgramLike, iface: string | number, direction: TcDirection, options: TcNetlinkOptions = {}): TcNetlinkLink {
  const ifindex = interfaceIndex(iface);
  const label = `${iface} ${direction}`;
  const priority = options.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 0xffff) throw new LinkError('EBADARG', `tc filter priority ${priority} is not in 1..65535`, label);
  ensureClsact(ifindex, label);
  const req = new NetlinkRequest(
    RtmType.NEWTFILTER,
    NlmFlags.REQUEST | NlmFlags.ACK | NlmFlags.CREATE | NlmFlags.EXCL | NlmFlags.ECHO,
    tcmsg(ifindex, options.handle ?? 0, hookParent(direction), filterInfo(priority)),
  )
    .string(TCA_KIND, 'bpf')
    .nested(TCA_OPTIONS, (o) => {
      o.u32(TCA_BPF.FD, program.fd);
      o.string(TCA_BPF.NAME, program.name || 'tsbpf');
      o.u32(TCA_BPF.FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
    });
  let replies;
  try {
    replies = netlinkRequest(req, `add tc filter on ${label}`);
  } catch (e) {
    throw attachError(e, label, 'a SCHED_CLS program, and a kernel with cls_bpf (modprobe cls_bpf)');
  }
  const echoed = replies.find((r) => r.type === RtmType.NEWTFILTER);
  if (echoed === undefined) throw new LinkError('EATTACH', `tc on ${label}: the kernel did not echo the new filter`, label);
  const f = readFilter(echoed.payload);
  return new TcNetlinkLink(ifindex, direction, f.handle, f.priority, f.progId, `${iface} ${direction} (cls_bpf)`);
}

/** Options of `attachTc`: tcx or netlink, and tcx's ordering options. */
export interface TcOptions extends TcxOptions {
  /** 'tcx' (a bpf_link, Linux 6.6+) or 'netlink' (clsact + cls_bpf); default: tcx where the kernel has it. */
  method?: 'tcx' | 'netlink';
}

/**
 * Attaches a tc program the best way this kernel offers: tcx, else a
 * cls_bpf filter through netlink (ordering options need tcx).
 * @example
 * using link = attachTc(prog, 'eth0', 'egress');   // tcx where the kernel has it, else cls_bpf
 */
export function attachTc(program: ProgramLike, iface: string | number, direction: TcDirection, options: TcOptions = {}): Link {
  const { method, ...tcx } = options;
  if (method === 'tcx') {
    requireFeature('tcx');
    return attachTcx(program, iface, direction, tcx);
  }
  if (method === undefined && haveFeature('tcx')) return attachTcx(program, iface, direction, tcx);
  if (tcx.flags !== undefined || tcx.relativeFd !== undefined || tcx.expectedRevision !== undefined) requireFeature('tcx');
  return attachTcNetlink(program, iface, direction);
}
