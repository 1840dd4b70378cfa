/**
 * Attaching a loaded program the way its SEC() name says, as libbpf's
 * auto-attach does: 'tracepoint/syscalls/sys_enter_execve',
 * 'raw_tp/sched_switch', 'kprobe/do_unlinkat', 'uprobe//bin/bash:readline',
 * 'xdp' (+ an interface), 'tcx/ingress' (+ an interface), 'cgroup_skb/egress'
 * (+ a cgroup, default the cgroup v2 root), 'perf_event', 'iter/task',
 * 'tp_btf/...', 'sk_lookup' ... Kinds that need something only the caller
 * has (a socket for 'socket', an interface for 'xdp') say so with EBADARG.
 */
import { AttachType } from '../syscall/layouts.generated.js';
import { cgroup2Path } from './fs-mounts.js';
import { attachCgroup } from './link-cgroup.js';
import { LinkError } from './link-error.js';
import { attachIter } from './link-iter.js';
import { attachKprobe, attachKprobeMulti } from './link-kprobe.js';
import { attachNetns } from './link-netns.js';
import { attachXdp, type XdpOptions } from './link-netdev.js';
import { attachTc } from './link-tc.js';
import { attachPerfEvent } from './link-perf-sample.js';
import { attachRawTracepoint } from './link-raw-tracepoint.js';
import { attachTracepoint } from './link-tracepoint.js';
import { attachTracing } from './link-tracing.js';
import { attachUprobe, attachUprobeMulti } from './link-uprobe.js';
import type { Link, ProgramLike } from './link.js';

/** What auto-attach reads from a program's spec (the loader's ProgramSpec has these fields). */
export interface AttachSpec {
  /** The SEC() name. */
  section: string;
  /** Program type name (ProgType key). */
  type: string;
  /** Expected attach type name (AttachType key). */
  attachType?: string;
  /** The part of the section name after the kind, e.g. 'syscalls/sys_enter_execve'. */
  attachTo?: string;
}

/** What `autoAttach` needs beyond a program's section name: the interface, cgroup or netns to attach to, and the XDP mode. */
export interface AutoAttachOptions {
  /** Network interface for xdp and tc/tcx programs. */
  iface?: string | number;
  xdpMode?: XdpOptions['mode'];
  /** cgroup v2 directory for cgroup programs (default: the cgroup v2 root). */
  cgroup?: string;
  /** Network namespace for sk_lookup / flow_dissector (default: this process's). */
  netns?: string;
}

const SYSCALL_PREFIX = process.arch === 'arm64' ? '__arm64_sys_' : '__x64_sys_';

function needs(what: string, spec: AttachSpec, hint: string): LinkError {
  return new LinkError('EBADARG', `program in section '${spec.section}' needs ${what} to attach`, spec.section, hint);
}

/** Splits 'func+0x10' into the name and offset. */
function symbolAndOffset(target: string): { symbol: string; offset?: bigint } {
  const m = /^([^+]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(target);
  if (!m) return { symbol: target };
  return m[2] === undefined ? { symbol: m[1]! } : { symbol: m[1]!, offset: BigInt(m[2]) };
}

/**
 * Attaches `program` as its SEC() name says (libbpf's auto-attach).
 * @example
 * using link = autoAttach(prog, { section: 'tracepoint/syscalls/sys_enter_openat', type: 'TRACEPOINT', attachTo: 'syscalls/sys_enter_openat' });
 * autoAttach(xdpProg, spec, { iface: 'eth0' });
 */
export function autoAttach(program: ProgramLike, spec: AttachSpec, options: AutoAttachOptions = {}): Link {
  const kind = spec.section.split('/')[0]!;
  const to = spec.attachTo ?? '';
  switch (spec.type) {
    case 'TRACEPOINT':
      if (!to) throw needs('a tracepoint', spec, "name it in the section: SEC(\"tracepoint/syscalls/sys_enter_execve\")");
      return attachTracepoint(program, to);
    case 'RAW_TRACEPOINT':
    case 'RAW_TRACEPOINT_WRITABLE':
      if (!to) throw needs('a raw tracepoint', spec, 'SEC("raw_tp/sched_switch")');
      return attachRawTracepoint(program, to);
    case 'KPROBE': {
      if (kind.startsWith('kprobe.multi') || kind.startsWith('kretprobe.multi')) {
        return attachKprobeMulti(program, to.split(','), { retprobe: kind.startsWith('kret') });
      }
      if (kind === 'kprobe' || kind === 'kretprobe') {
        const { symbol, offset } = symbolAndOffset(to);
        return attachKprobe(program, symbol, { retprobe: kind === 'kretprobe', ...(offset !== undefined ? { offset } : {}) });
      }
      if (kind === 'ksyscall' || kind === 'kretsyscall') return attachKprobe(program, SYSCALL_PREFIX + to, { retprobe: kind === 'kretsyscall' });
      if (kind.startsWith('uprobe') || kind.startsWith('uretprobe')) {
        // 'uprobe/PATH:FUNC[+OFF]'; the path may itself contain '/'.
        const colon = to.lastIndexOf(':');
        if (colon <= 0) throw needs('a binary and a function', spec, 'SEC("uprobe//usr/lib/libc.so.6:malloc") or SEC("uprobe/libc.so.6:malloc")');
        const path = to.slice(0, colon);
        const retprobe = kind.startsWith('uretprobe');
        if (kind.includes('.multi')) return attachUprobeMulti(program, path, to.slice(colon + 1).split(','), { retprobe });
        const { symbol, offset } = symbolAndOffset(to.slice(colon + 1));
        return attachUprobe(program, { path, symbol, ...(offset !== undefined ? { offset } : {}) }, { retprobe });
      }
      throw needs('a probe target', spec, 'kprobe/FUNC, kretprobe/FUNC, uprobe/PATH:FUNC');
    }
    case 'PERF_EVENT':
      return attachPerfEvent(program);
    case 'XDP':
      if (spec.attachType === 'XDP_DEVMAP' || spec.attachType === 'XDP_CPUMAP') throw needs('a devmap/cpumap entry', spec, 'store the program fd into the map instead');
      if (options.iface === undefined) throw needs('a network interface', spec, 'pass iface (tsbpf run --iface NAME)');
      return attachXdp(program, options.iface, options.xdpMode ? { mode: options.xdpMode } : {});
    case 'SCHED_CLS': {
      if (options.iface === undefined) throw needs('a network interface', spec, 'pass iface (tsbpf run --iface NAME)');
      const egress = spec.attachType === 'TCX_EGRESS' || spec.section.endsWith('/egress');
      return attachTc(program, options.iface, egress ? 'egress' : 'ingress');
    }
    case 'CGROUP_SKB':
    case 'CGROUP_SOCK':
    case 'CGROUP_SOCK_ADDR':
    case 'CGROUP_SYSCTL':
    case 'CGROUP_SOCKOPT':
    case 'CGROUP_DEVICE':
    case 'SOCK_OPS': {
      const attachType = spec.attachType ? AttachType[spec.attachType as keyof typeof AttachType] : undefined;
      if (attachType === undefined) throw needs('an attach point', spec, 'e.g. SEC("cgroup_skb/egress") or SEC("cgroup/connect4")');
      const cgroup = options.cgroup ?? cgroup2Path();
      if (!cgroup) throw needs('a cgroup v2 directory', spec, 'mount cgroup2 or pass cgroup');
      return attachCgroup(program, cgroup, attachType);
    }
    case 'SK_LOOKUP':
      return attachNetns(program, 'sk_lookup', options.netns);
    case 'FLOW_DISSECTOR':
      return attachNetns(program, 'flow_dissector', options.netns);
    case 'TRACING':
    case 'LSM':
    case 'EXT':
      if (spec.attachType === 'TRACE_ITER') return attachIter(program, to);
      return attachTracing(program, spec.section);
    case 'SOCKET_FILTER':
      throw needs('a socket', spec, 'call attachSocketFilter(program, socketFd) with a socket you own');
    default:
      throw new LinkError('ENOTSUP', `no automatic attach for program type ${spec.type} (section '${spec.section}')`, spec.section, 'attach it with the attach function for its hook');
  }
}
