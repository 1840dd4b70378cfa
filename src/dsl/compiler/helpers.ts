/**
 * Which program kinds may call each DSL helper (checked at compile time,
 * before the verifier would). The helper ids are the one table, Helper of
 * src/asm/helpers.ts.
 */
import type { ProgramKind } from './program-kinds.js';

/** The BTF-typed tracing kinds (BPF_PROG_TYPE_TRACING and LSM). */
export const BTF_TYPED: ProgramKind[] = ['tp_btf', 'fentry', 'fexit', 'fmod_ret', 'lsm'];
const ALL: ProgramKind[] = ['xdp', 'tc', 'socket_filter', 'tracepoint', 'raw_tracepoint', 'kprobe', 'kretprobe', 'uprobe', 'uretprobe', 'perf_event', 'cgroup_skb', ...BTF_TYPED];
const TRACING: ProgramKind[] = ['tracepoint', 'raw_tracepoint', 'kprobe', 'kretprobe', 'uprobe', 'uretprobe', 'perf_event', ...BTF_TYPED];
/** Helpers about the current task are not offered to socket filters and XDP by the kernel. */
const TASK: ProgramKind[] = TRACING;

/** Which program kinds may use each `bpf.*` helper. */
export const HELPER_PROGRAMS: Record<string, ProgramKind[]> = {
  ktimeNs: ALL,
  loop: ALL,
  random: ALL,
  cpu: ALL,
  printk: ALL,
  snprintf: ALL,
  unsafeLoad: ALL,
  pid: TASK,
  tgid: TASK,
  tid: TASK,
  pidTgid: TASK,
  uid: [...TRACING, 'cgroup_skb'],
  gid: [...TRACING, 'cgroup_skb'],
  currentComm: TRACING,
  currentTask: TRACING,
  currentTaskBtf: BTF_TYPED,
  fieldExists: ALL,
  fieldSize: ALL,
  typeExists: ALL,
  typeSize: ALL,
  enumValue: ALL,
  enumValueExists: ALL,
  probeReadKernel: TRACING,
  probeReadUser: TRACING,
  probeReadKernelStr: TRACING,
  probeReadUserStr: TRACING,
  redirect: ['xdp', 'tc'],
  xdpAdjustHead: ['xdp'],
  xdpAdjustTail: ['xdp'],
  skbChangeTail: ['tc'],
  l3CsumReplace: ['tc'],
  l4CsumReplace: ['tc'],
  cgroupId: TRACING,
  skbCgroupId: ['tc'],
  socketCookie: ['tc', 'socket_filter', 'cgroup_skb'],
  skFullsock: ['tc', 'cgroup_skb'],
  skbLoadBytes: ['tc', 'socket_filter', 'cgroup_skb'],
  skbStoreBytes: ['tc'],
  csumDiff: ['xdp', 'tc'],
  getStack: TRACING,
  fibLookup: ['xdp', 'tc'],
  /** The kernel refuses bpf_spin_lock in socket filters and in kprobe, tracepoint, perf_event and raw tracepoint programs. */
  withLock: ['xdp', 'tc', 'cgroup_skb', ...BTF_TYPED],
};
