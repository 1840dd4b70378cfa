/**
 * libbpf's program section table: a SEC() name gives the program type, the
 * expected attach type and how the rest of the name names the attach target.
 * Names are the uapi enum names without their BPF_PROG_TYPE_ / BPF_ prefix
 * (the kernel layer maps them to numbers).
 *
 * Matching follows libbpf: "sec" matches only itself, "sec+" matches "sec"
 * or "sec/anything", "sec/" matches "sec/anything".
 */

export type AttachTargetKind =
  /** No target in the name. */
  | 'none'
  /** A tracepoint "category/name" (perf event tracepoint). */
  | 'tracepoint'
  /** A raw tracepoint name. */
  | 'raw_tracepoint'
  /** A kernel function or symbol (kprobes, ksyscall). */
  | 'kprobe'
  /** "binary:function" of a user-space probe, or a usdt "binary:provider:name". */
  | 'uprobe'
  /** A BTF type in vmlinux or a module: the attach_btf_id is looked up at load. */
  | 'btf';

export interface SectionDef {
  /** Pattern as in libbpf's table (may end in '+' or '/'). */
  pattern: string;
  programType: string;
  /** Expected attach type name, or undefined for none (0). */
  attachType?: string;
  sleepable?: boolean;
  xdpFrags?: boolean;
  target: AttachTargetKind;
  /** For target 'btf': the BTF kind and name prefix of the attach point. */
  btfPrefix?: string;
  btfKind?: 'func' | 'typedef';
}

const d = (pattern: string, programType: string, attachType?: string, extra: Partial<SectionDef> = {}): SectionDef => ({
  pattern, programType, ...(attachType ? { attachType } : {}), target: 'none', ...extra,
});
const tp = { target: 'tracepoint' } as const;
const raw = { target: 'raw_tracepoint' } as const;
const kp = { target: 'kprobe' } as const;
const up = { target: 'uprobe' } as const;
const fn = { target: 'btf', btfKind: 'func', btfPrefix: '' } as const;
const sleepable = { sleepable: true } as const;

/** The table, in libbpf's order (first match wins). */
export const SECTION_DEFS: readonly SectionDef[] = [
  d('socket', 'SOCKET_FILTER'),
  d('sk_reuseport/migrate', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT_OR_MIGRATE'),
  d('sk_reuseport', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT'),
  d('kprobe+', 'KPROBE', undefined, kp),
  d('uprobe+', 'KPROBE', undefined, up),
  d('uprobe.s+', 'KPROBE', undefined, { ...up, ...sleepable }),
  d('kretprobe+', 'KPROBE', undefined, kp),
  d('uretprobe+', 'KPROBE', undefined, up),
  d('uretprobe.s+', 'KPROBE', undefined, { ...up, ...sleepable }),
  d('kprobe.multi+', 'KPROBE', 'TRACE_KPROBE_MULTI', kp),
  d('kretprobe.multi+', 'KPROBE', 'TRACE_KPROBE_MULTI', kp),
  d('kprobe.session+', 'KPROBE', 'TRACE_KPROBE_SESSION', kp),
  d('uprobe.multi+', 'KPROBE', 'TRACE_UPROBE_MULTI', up),
  d('uretprobe.multi+', 'KPROBE', 'TRACE_UPROBE_MULTI', up),
  d('uprobe.session+', 'KPROBE', 'TRACE_UPROBE_SESSION', up),
  d('uprobe.multi.s+', 'KPROBE', 'TRACE_UPROBE_MULTI', { ...up, ...sleepable }),
  d('uretprobe.multi.s+', 'KPROBE', 'TRACE_UPROBE_MULTI', { ...up, ...sleepable }),
  d('uprobe.session.s+', 'KPROBE', 'TRACE_UPROBE_SESSION', { ...up, ...sleepable }),
  d('ksyscall+', 'KPROBE', undefined, kp),
  d('kretsyscall+', 'KPROBE', undefined, kp),
  d('usdt+', 'KPROBE', undefined, up),
  d('usdt.s+', 'KPROBE', undefined, { ...up, ...sleepable }),
  d('tc/ingress', 'SCHED_CLS', 'TCX_INGRESS'),
  d('tc/egress', 'SCHED_CLS', 'TCX_EGRESS'),
  d('tcx/ingress', 'SCHED_CLS', 'TCX_INGRESS'),
  d('tcx/egress', 'SCHED_CLS', 'TCX_EGRESS'),
  d('tc', 'SCHED_CLS'),
  d('classifier', 'SCHED_CLS'),
  d('action', 'SCHED_ACT'),
  d('netkit/primary', 'SCHED_CLS', 'NETKIT_PRIMARY'),
  d('netkit/peer', 'SCHED_CLS', 'NETKIT_PEER'),
  d('tracepoint+', 'TRACEPOINT', undefined, tp),
  d('tp+', 'TRACEPOINT', undefined, tp),
  d('raw_tracepoint+', 'RAW_TRACEPOINT', undefined, raw),
  d('raw_tp+', 'RAW_TRACEPOINT', undefined, raw),
  d('raw_tracepoint.w+', 'RAW_TRACEPOINT_WRITABLE', undefined, raw),
  d('raw_tp.w+', 'RAW_TRACEPOINT_WRITABLE', undefined, raw),
  d('tp_btf+', 'TRACING', 'TRACE_RAW_TP', { target: 'btf', btfKind: 'typedef', btfPrefix: 'btf_trace_' }),
  d('fentry+', 'TRACING', 'TRACE_FENTRY', fn),
  d('fmod_ret+', 'TRACING', 'MODIFY_RETURN', fn),
  d('fexit+', 'TRACING', 'TRACE_FEXIT', fn),
  d('fentry.s+', 'TRACING', 'TRACE_FENTRY', { ...fn, ...sleepable }),
  d('fmod_ret.s+', 'TRACING', 'MODIFY_RETURN', { ...fn, ...sleepable }),
  d('fexit.s+', 'TRACING', 'TRACE_FEXIT', { ...fn, ...sleepable }),
  d('freplace+', 'EXT', undefined, fn),
  d('lsm+', 'LSM', 'LSM_MAC', { ...fn, btfPrefix: 'bpf_lsm_' }),
  d('lsm.s+', 'LSM', 'LSM_MAC', { ...fn, btfPrefix: 'bpf_lsm_', ...sleepable }),
  d('lsm_cgroup+', 'LSM', 'LSM_CGROUP', { ...fn, btfPrefix: 'bpf_lsm_' }),
  d('iter+', 'TRACING', 'TRACE_ITER', { ...fn, btfPrefix: 'bpf_iter_' }),
  d('iter.s+', 'TRACING', 'TRACE_ITER', { ...fn, btfPrefix: 'bpf_iter_', ...sleepable }),
  d('syscall', 'SYSCALL', undefined, sleepable),
  d('xdp.frags/devmap', 'XDP', 'XDP_DEVMAP', { xdpFrags: true }),
  d('xdp/devmap', 'XDP', 'XDP_DEVMAP'),
  d('xdp.frags/cpumap', 'XDP', 'XDP_CPUMAP', { xdpFrags: true }),
  d('xdp/cpumap', 'XDP', 'XDP_CPUMAP'),
  d('xdp.frags', 'XDP', 'XDP', { xdpFrags: true }),
  d('xdp', 'XDP', 'XDP'),
  d('perf_event', 'PERF_EVENT'),
  d('lwt_in', 'LWT_IN'),
  d('lwt_out', 'LWT_OUT'),
  d('lwt_xmit', 'LWT_XMIT'),
  d('lwt_seg6local', 'LWT_SEG6LOCAL'),
  d('sockops', 'SOCK_OPS', 'CGROUP_SOCK_OPS'),
  d('sk_skb/stream_parser', 'SK_SKB', 'SK_SKB_STREAM_PARSER'),
  d('sk_skb/stream_verdict', 'SK_SKB', 'SK_SKB_STREAM_VERDICT'),
  d('sk_skb/verdict', 'SK_SKB', 'SK_SKB_VERDICT'),
  d('sk_skb', 'SK_SKB'),
  d('sk_msg', 'SK_MSG', 'SK_MSG_VERDICT'),
  d('lirc_mode2', 'LIRC_MODE2', 'LIRC_MODE2'),
  d('flow_dissector', 'FLOW_DISSECTOR', 'FLOW_DISSECTOR'),
  d('cgroup_skb/ingress', 'CGROUP_SKB', 'CGROUP_INET_INGRESS'),
  d('cgroup_skb/egress', 'CGROUP_SKB', 'CGROUP_INET_EGRESS'),
  d('cgroup/skb', 'CGROUP_SKB'),
  d('cgroup/sock_create', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE'),
  d('cgroup/sock_release', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_RELEASE'),
  d('cgroup/sock', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE'),
  d('cgroup/post_bind4', 'CGROUP_SOCK', 'CGROUP_INET4_POST_BIND'),
  d('cgroup/post_bind6', 'CGROUP_SOCK', 'CGROUP_INET6_POST_BIND'),
  d('cgroup/bind4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_BIND'),
  d('cgroup/bind6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_BIND'),
  d('cgroup/connect4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_CONNECT'),
  d('cgroup/connect6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_CONNECT'),
  d('cgroup/connect_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_CONNECT'),
  d('cgroup/sendmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_SENDMSG'),
  d('cgroup/sendmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_SENDMSG'),
  d('cgroup/sendmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_SENDMSG'),
  d('cgroup/recvmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_RECVMSG'),
  d('cgroup/recvmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_RECVMSG'),
  d('cgroup/recvmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_RECVMSG'),
  d('cgroup/getpeername4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETPEERNAME'),
  d('cgroup/getpeername6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETPEERNAME'),
  d('cgroup/getpeername_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETPEERNAME'),
  d('cgroup/getsockname4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETSOCKNAME'),
  d('cgroup/getsockname6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETSOCKNAME'),
  d('cgroup/getsockname_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETSOCKNAME'),
  d('cgroup/sysctl', 'CGROUP_SYSCTL', 'CGROUP_SYSCTL'),
  d('cgroup/getsockopt', 'CGROUP_SOCKOPT', 'CGROUP_GETSOCKOPT'),
  d('cgroup/setsockopt', 'CGROUP_SOCKOPT', 'CGROUP_SETSOCKOPT'),
  d('cgroup/dev', 'CGROUP_DEVICE', 'CGROUP_DEVICE'),
  d('struct_ops+', 'STRUCT_OPS'),
  d('struct_ops.s+', 'STRUCT_OPS', undefined, sleepable),
  d('sk_lookup', 'SK_LOOKUP', 'SK_LOOKUP'),
  d('netfilter', 'NETFILTER', 'NETFILTER'),
];

/** What a section name says about its programs. */
export interface SectionProgramType {
  def: SectionDef;
  programType: string;
  attachType?: string;
  sleepable: boolean;
  xdpFrags: boolean;
  /** The part after the first '/', for definitions that take a target. */
  attachTo?: string;
  /** For BTF targets: the name to look up in kernel BTF, and its kind. */
  btfName?: string;
  btfKind?: 'func' | 'typedef';
}

function matches(pattern: string, name: string): boolean {
  if (pattern.endsWith('/')) return name.startsWith(pattern);
  if (pattern.endsWith('+')) {
    const p = pattern.slice(0, -1);
    return name === p || name.startsWith(`${p}/`);
  }
  return name === pattern;
}

/** Looks a SEC() name up in libbpf's table; undefined when it is not a program section. */
export function sectionProgramType(name: string): SectionProgramType | undefined {
  const def = SECTION_DEFS.find((x) => matches(x.pattern, name));
  if (!def) return undefined;
  const slash = name.indexOf('/');
  const attachTo = def.target !== 'none' && slash >= 0 ? name.slice(slash + 1) : undefined;
  const out: SectionProgramType = {
    def, programType: def.programType, sleepable: !!def.sleepable, xdpFrags: !!def.xdpFrags,
  };
  if (def.attachType) out.attachType = def.attachType;
  if (attachTo !== undefined && attachTo !== '') {
    out.attachTo = attachTo;
    if (def.target === 'btf') {
      out.btfName = `${def.btfPrefix ?? ''}${attachTo}`;
      out.btfKind = def.btfKind ?? 'func';
    }
  }
  return out;
}
