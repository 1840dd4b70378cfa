/**
 * Kernel helper ids the compiler calls, and which program kinds may call
 * each DSL helper (checked at compile time, before the verifier would).
 */
import type { ProgramKind } from './program-kinds.js';

export const Helper = {
  map_lookup_elem: 1, map_update_elem: 2, map_delete_elem: 3, probe_read: 4, ktime_get_ns: 5, trace_printk: 6,
  get_prandom_u32: 7, get_smp_processor_id: 8, skb_store_bytes: 9, l3_csum_replace: 10, l4_csum_replace: 11,
  get_current_pid_tgid: 14, get_current_uid_gid: 15, get_current_comm: 16, redirect: 23, skb_load_bytes: 26,
  csum_diff: 28, skb_change_tail: 38, xdp_adjust_head: 44, xdp_adjust_tail: 65, probe_read_user: 112,
  probe_read_kernel: 113, probe_read_user_str: 114, probe_read_kernel_str: 115, ringbuf_output: 130,
  ringbuf_reserve: 131, ringbuf_submit: 132, ringbuf_discard: 133,
} as const;

const ALL: ProgramKind[] = ['xdp', 'tc', 'socket_filter', 'tracepoint', 'raw_tracepoint', 'kprobe', 'kretprobe', 'uprobe', 'uretprobe', 'perf_event', 'cgroup_skb'];
const TRACING: ProgramKind[] = ['tracepoint', 'raw_tracepoint', 'kprobe', 'kretprobe', 'uprobe', 'uretprobe', 'perf_event'];
/** Helpers about the current task are not offered to socket filters and XDP by the kernel. */
const TASK: ProgramKind[] = TRACING;

/** Which program kinds may use each `bpf.*` helper. */
export const HELPER_PROGRAMS: Record<string, ProgramKind[]> = {
  ktimeNs: ALL,
  random: ALL,
  cpu: ALL,
  printk: ALL,
  unsafeLoad: ALL,
  pid: TASK,
  tgid: TASK,
  tid: TASK,
  pidTgid: TASK,
  uid: [...TRACING, 'cgroup_skb'],
  gid: [...TRACING, 'cgroup_skb'],
  currentComm: TRACING,
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
};
