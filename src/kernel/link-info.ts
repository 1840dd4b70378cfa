/** BPF_OBJ_GET_INFO_BY_FD for links, decoded per link type. */
import { readName } from '../syscall/attr.js';
import { LinkInfoLayout as L, LinkType } from '../syscall/layouts.generated.js';
import { NativeBuffer } from '../syscall/memory.js';
import { getInfoRaw } from './info.js';

/** A link's BPF_OBJ_GET_INFO_BY_FD decoded for its type: the tracepoint, interface, cgroup, netns, file or probe it is attached to. */
export interface LinkInfo {
  id: number;
  /** enum bpf_link_type. */
  type: number;
  /** The link type's name, e.g. 'XDP', 'PERF_EVENT'. */
  typeName: string;
  progId: number;
  /** Tracepoint, raw tracepoint or probed function/file name, iterator target. */
  name?: string;
  attachType?: number;
  ifindex?: number;
  cgroupId?: bigint;
  netnsIno?: number;
  /** perf_event links: enum bpf_perf_event_type. */
  perfEventType?: number;
  /** uprobe offset, kprobe offset. */
  offset?: number;
  cookie?: bigint;
}

const typeNames = new Map<number, string>(Object.entries(LinkType).map(([k, v]) => [v, k]));
/** Room for the kernel's bpf_link_info (it checks that unknown tail bytes are zero). */
const INFO_SIZE = 256;
const NAME_SIZE = 4096;

/** bpf_perf_event_type: which name field the perf_event union holds. */
export const PerfEventLinkType = { UNSPEC: 0, UPROBE: 1, URETPROBE: 2, KPROBE: 3, KRETPROBE: 4, TRACEPOINT: 5, EVENT: 6 } as const;

let infoBuf: NativeBuffer | undefined;
let nameBuf: NativeBuffer | undefined;

/**
 * BPF_OBJ_GET_INFO_BY_FD on a link fd, with the fields of its link type (`Link.info()` calls it).
 * @example
 * const info = readLinkInfo(link.fd);
 * if (info.ifindex !== undefined) console.log('on interface', info.ifindex);
 */
export function readLinkInfo(fd: number): LinkInfo {
  infoBuf ??= new NativeBuffer(INFO_SIZE);
  nameBuf ??= new NativeBuffer(NAME_SIZE);
  const v = infoBuf.view;
  const call = (): void => getInfoRaw(fd, infoBuf!, 'link info');
  // First pass learns the type; the second passes a name buffer where the type has one.
  infoBuf.bytes.fill(0);
  call();
  const type = v.getUint32(L.type, true);
  const perfType = type === LinkType.PERF_EVENT ? v.getUint32(L.perf_event_type, true) : 0;
  const namePtr = namePointerField(type, perfType);
  if (namePtr) {
    infoBuf.bytes.fill(0);
    nameBuf.bytes.fill(0);
    v.setBigUint64(namePtr.ptr, nameBuf.address, true);
    v.setUint32(namePtr.len, NAME_SIZE, true);
    if (type === LinkType.PERF_EVENT) v.setUint32(L.perf_event_type, perfType, true);
    call();
  }
  const info: LinkInfo = { id: v.getUint32(L.id, true), type, typeName: typeNames.get(type) ?? `type ${type}`, progId: v.getUint32(L.prog_id, true) };
  if (namePtr) {
    info.name = readName(nameBuf.bytes, 0, NAME_SIZE);
  }
  switch (type) {
    case LinkType.TRACING:
      info.attachType = v.getUint32(L.tracing_attach_type, true);
      break;
    case LinkType.CGROUP:
      info.cgroupId = v.getBigUint64(L.cgroup_cgroup_id, true);
      info.attachType = v.getUint32(L.cgroup_attach_type, true);
      break;
    case LinkType.NETNS:
      info.netnsIno = v.getUint32(L.netns_netns_ino, true);
      info.attachType = v.getUint32(L.netns_attach_type, true);
      break;
    case LinkType.XDP:
      info.ifindex = v.getUint32(L.xdp_ifindex, true);
      break;
    case LinkType.TCX:
      info.ifindex = v.getUint32(L.tcx_ifindex, true);
      info.attachType = v.getUint32(L.tcx_attach_type, true);
      break;
    case LinkType.PERF_EVENT:
      info.perfEventType = perfType;
      if (perfType === PerfEventLinkType.UPROBE || perfType === PerfEventLinkType.URETPROBE) {
        info.offset = v.getUint32(L.perf_event_uprobe_offset, true);
        info.cookie = v.getBigUint64(L.perf_event_uprobe_cookie, true);
      } else if (perfType === PerfEventLinkType.TRACEPOINT) {
        info.cookie = v.getBigUint64(L.perf_event_tracepoint_cookie, true);
      }
      break;
    default:
      break;
  }
  return info;
}

function namePointerField(type: number, perfType: number): { ptr: number; len: number } | undefined {
  switch (type) {
    case LinkType.RAW_TRACEPOINT:
      return { ptr: L.raw_tracepoint_tp_name, len: L.raw_tracepoint_tp_name_len };
    case LinkType.ITER:
      return { ptr: L.iter_target_name, len: L.iter_target_name_len };
    case LinkType.PERF_EVENT:
      if (perfType === PerfEventLinkType.UPROBE || perfType === PerfEventLinkType.URETPROBE) {
        return { ptr: L.perf_event_uprobe_file_name, len: L.perf_event_uprobe_name_len };
      }
      if (perfType === PerfEventLinkType.KPROBE || perfType === PerfEventLinkType.KRETPROBE) {
        return { ptr: L.perf_event_kprobe_func_name, len: L.perf_event_kprobe_name_len };
      }
      if (perfType === PerfEventLinkType.TRACEPOINT) return { ptr: L.perf_event_tracepoint_tp_name, len: L.perf_event_tracepoint_name_len };
      return undefined;
    default:
      return undefined;
  }
}
