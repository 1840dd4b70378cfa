/**
 * What each DSL program factory becomes: its libbpf section name, kernel
 * program type, expected attach type, and where its context keeps things.
 */

export type ProgramKind =
  | 'xdp' | 'tc' | 'socket_filter' | 'tracepoint' | 'raw_tracepoint' | 'kprobe' | 'kretprobe'
  | 'uprobe' | 'uretprobe' | 'perf_event' | 'cgroup_skb'
  | 'tp_btf' | 'fentry' | 'fexit' | 'fmod_ret' | 'lsm';

/** Kinds whose arguments are typed by kernel BTF: the body takes them as parameters (u64 slots of the context). */
export const BTF_KINDS: ReadonlySet<ProgramKind> = new Set(['tp_btf', 'fentry', 'fexit', 'fmod_ret', 'lsm']);

/** Kernel enum bpf_prog_type values. */
export const ProgType = {
  SOCKET_FILTER: 1, KPROBE: 2, SCHED_CLS: 3, TRACEPOINT: 5, XDP: 6, PERF_EVENT: 7, CGROUP_SKB: 8, RAW_TRACEPOINT: 17, TRACING: 26, LSM: 29,
} as const;

/** Kernel enum bpf_attach_type values we use. */
export const AttachType = {
  CGROUP_INET_INGRESS: 0, CGROUP_INET_EGRESS: 1, TRACE_RAW_TP: 23, TRACE_FENTRY: 24, TRACE_FEXIT: 25, MODIFY_RETURN: 26, LSM_MAC: 27,
  TCX_INGRESS: 46, TCX_EGRESS: 47,
} as const;

export interface ProgramKindInfo {
  progType: number;
  /** Packet programs: where data and data_end live in the context, or 'loadBytes' when direct access is not allowed. */
  packet?: { data: number; dataEnd: number } | 'loadBytes';
  /** Context fields by DSL name: offset and size. */
  fields: Record<string, { offset: number; size: 1 | 2 | 4 | 8 }>;
  /** Offsets of probe arguments (pt_regs on x86-64) or raw tracepoint args. */
  args?: number[];
  ret?: number;
}

const skbFields = {
  len: { offset: 0, size: 4 }, pktType: { offset: 4, size: 4 }, mark: { offset: 8, size: 4 },
  queueMapping: { offset: 12, size: 4 }, protocol: { offset: 16, size: 4 }, vlanPresent: { offset: 20, size: 4 },
  vlanTci: { offset: 24, size: 4 }, priority: { offset: 32, size: 4 }, ingressIfindex: { offset: 36, size: 4 },
  ifindex: { offset: 40, size: 4 }, hash: { offset: 68, size: 4 },
} as const;

/** struct pt_regs on x86-64: di, si, dx, cx, r8, r9, and ax for the return value. */
const ptRegsArgs = [112, 104, 96, 88, 72, 64];
const ptRegsRet = 80;

export const PROGRAM_KINDS: Record<ProgramKind, ProgramKindInfo> = {
  xdp: {
    progType: ProgType.XDP,
    packet: { data: 0, dataEnd: 4 },
    fields: { ingressIfindex: { offset: 12, size: 4 }, rxQueueIndex: { offset: 16, size: 4 } },
  },
  tc: { progType: ProgType.SCHED_CLS, packet: { data: 76, dataEnd: 80 }, fields: skbFields },
  cgroup_skb: { progType: ProgType.CGROUP_SKB, packet: { data: 76, dataEnd: 80 }, fields: skbFields },
  socket_filter: { progType: ProgType.SOCKET_FILTER, packet: 'loadBytes', fields: skbFields },
  tracepoint: { progType: ProgType.TRACEPOINT, fields: {} },
  raw_tracepoint: { progType: ProgType.RAW_TRACEPOINT, fields: {}, args: [0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88] },
  kprobe: { progType: ProgType.KPROBE, fields: {}, args: ptRegsArgs, ret: ptRegsRet },
  kretprobe: { progType: ProgType.KPROBE, fields: {}, args: ptRegsArgs, ret: ptRegsRet },
  uprobe: { progType: ProgType.KPROBE, fields: {}, args: ptRegsArgs, ret: ptRegsRet },
  uretprobe: { progType: ProgType.KPROBE, fields: {}, args: ptRegsArgs, ret: ptRegsRet },
  tp_btf: { progType: ProgType.TRACING, fields: {} },
  fentry: { progType: ProgType.TRACING, fields: {} },
  fexit: { progType: ProgType.TRACING, fields: {} },
  fmod_ret: { progType: ProgType.TRACING, fields: {} },
  lsm: { progType: ProgType.LSM, fields: {} },
  perf_event: {
    progType: ProgType.PERF_EVENT,
    fields: { samplePeriod: { offset: 168, size: 8 }, addr: { offset: 176, size: 8 } },
    args: ptRegsArgs,
  },
};

/**
 * The section name written into objects: one every libbpf since 1.0 accepts,
 * so libbpf 1.1 and bpftool 7.1 (Debian 12) load what we write. A tc
 * program is SEC("tc") there (`tcx/ingress` is libbpf 1.3+); the exact
 * attach point is `attachSectionName`, recorded in the object's .tsbpf section.
 */
export function sectionName(kind: ProgramKind, target: string | undefined, binary: string | undefined): string {
  return kind === 'tc' ? 'tc' : attachSectionName(kind, target, binary);
}

/** The libbpf section name that says exactly where a program attaches (libbpf 1.3+'s names). */
export function attachSectionName(kind: ProgramKind, target: string | undefined, binary: string | undefined): string {
  switch (kind) {
    case 'xdp': return 'xdp';
    case 'tc': return `tcx/${target ?? 'ingress'}`;
    case 'socket_filter': return 'socket';
    case 'cgroup_skb': return `cgroup_skb/${target ?? 'ingress'}`;
    case 'tracepoint': return `tracepoint/${target}`;
    case 'raw_tracepoint': return `raw_tracepoint/${target}`;
    case 'kprobe': return `kprobe/${target}`;
    case 'kretprobe': return `kretprobe/${target}`;
    case 'uprobe': return `uprobe/${binary}:${target}`;
    case 'uretprobe': return `uretprobe/${binary}:${target}`;
    case 'perf_event': return 'perf_event';
    case 'tp_btf': return `tp_btf/${target}`;
    case 'fentry': return `fentry/${target}`;
    case 'fexit': return `fexit/${target}`;
    case 'fmod_ret': return `fmod_ret/${target}`;
    case 'lsm': return `lsm/${target}`;
  }
}

/** The kernel BTF type a BTF-typed program attaches to (its attach_btf_id at load). */
export function attachBtfOf(kind: ProgramKind, target: string | undefined): { name: string; kind: 'typedef' | 'func' } | undefined {
  if (kind === 'tp_btf') return { name: `btf_trace_${target}`, kind: 'typedef' };
  if (kind === 'fentry' || kind === 'fexit' || kind === 'fmod_ret') return { name: target!, kind: 'func' };
  if (kind === 'lsm') return { name: `bpf_lsm_${target}`, kind: 'func' };
  return undefined;
}

export function expectedAttachType(kind: ProgramKind, target: string | undefined): number | undefined {
  if (kind === 'tc') return target === 'egress' ? AttachType.TCX_EGRESS : AttachType.TCX_INGRESS;
  if (kind === 'cgroup_skb') return target === 'egress' ? AttachType.CGROUP_INET_EGRESS : AttachType.CGROUP_INET_INGRESS;
  if (kind === 'tp_btf') return AttachType.TRACE_RAW_TP;
  if (kind === 'fentry') return AttachType.TRACE_FENTRY;
  if (kind === 'fexit') return AttachType.TRACE_FEXIT;
  if (kind === 'fmod_ret') return AttachType.MODIFY_RETURN;
  if (kind === 'lsm') return AttachType.LSM_MAC;
  return undefined;
}
