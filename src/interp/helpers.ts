/**
 * Helper functions callable from interpreted programs. A helper receives the
 * run's context and r1..r5 and returns r0. The default table has the common
 * helpers; pass `helpers` to `run` to add or replace entries by id.
 */
import { Helper as HelperNumbers } from '../asm/helpers.js';
import { Errno, type InterpMap, helperResult } from './maps.js';
import type { Memory } from './memory.js';
import { mapDelete, mapLookup, mapPeek, mapPop, mapPush, mapUpdate, perfEventOutput } from './helpers-map.js';
import { ringbufDiscard, ringbufOutput, ringbufQuery, ringbufReserve, ringbufSubmit } from './helpers-ringbuf.js';
import { currentComm, currentPidTgid, currentUidGid, probeRead, probeReadStr, taskPointer } from './helpers-task.js';
import { snprintf, tracePrintk } from './helpers-trace.js';
import { l3CsumReplace, l4CsumReplace, packetLoadBytes, packetStoreBytes, xdpAdjustHead, xdpAdjustTail } from './helpers-packet.js';
import { skFullsock, socketCookie } from './socket.js';
import { forEachMapElem, loop } from './helpers-callback.js';
import { csumDiff, redirectMap } from './helpers-net.js';
import { fibLookupNotForwarded } from './fib.js';
import { localStorageDelete, localStorageGet } from './helpers-storage.js';
import { spinLock, spinUnlock } from './helpers-spin-lock.js';
import { getStack, getStackId } from './stack-trace-map.js';

/** The task a program pretends to run in (bpf_get_current_*). */
export interface TaskInfo {
  pid: number;
  tgid: number;
  uid: number;
  gid: number;
  comm: string;
  /** What bpf_get_current_cgroup_id reports. */
  cgroupId: bigint;
  /** The return addresses bpf_get_stackid/bpf_get_stack see, innermost first (none: they give -EFAULT). */
  kernelStack?: readonly bigint[];
  /** The same for the user stack (BPF_F_USER_STACK). */
  userStack?: readonly bigint[];
}

export interface HelperContext {
  readonly memory: Memory;
  /** Slot index of the call being served (for error messages). */
  readonly pc: number;
  /** The map behind a map pointer (from lddw of a map); throws E_HELPER otherwise. */
  map(handle: bigint): InterpMap;
  /** The pointer a program uses for `map` (what lddw of the map gives). */
  mapPointer(map: InterpMap): bigint;
  /** Maps value storage returned by a map into the address space; returns its address. */
  pointerTo(bytes: Uint8Array, name?: string): bigint;
  /** Records one line of trace output (bpf_trace_printk). */
  trace(line: string): void;
  /** Monotonic nanoseconds. */
  now(): bigint;
  /** A pseudo-random u32. */
  random(): number;
  /** The CPU number reported to the program. */
  readonly cpu: number;
  readonly task: TaskInfo;
  /** The packet of an xdp/skb run (or the mem of a conformance-style run). */
  readonly packet?: Uint8Array;
  /** bpf_xdp_adjust_head/tail: grows (negative head, positive tail) or shrinks an XDP packet; 0 or a negative errno. */
  resizePacket(headDelta: number, tailDelta: number): number;
  /** Calls a bpf function (a pointer from lddw of a function, as callbacks are passed) and returns its r0. */
  call(fn: bigint, ...args: bigint[]): bigint;
}

export type Helper = (ctx: HelperContext, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint) => bigint;

export type HelperTable = Readonly<Record<number, Helper>>;

/** The ids of the helpers the interpreter implements, by their uapi names (BPF_FUNC_ without the prefix); the numbers are the assembler's table. */
export const HelperId = {
  MAP_LOOKUP_ELEM: HelperNumbers.map_lookup_elem,
  MAP_UPDATE_ELEM: HelperNumbers.map_update_elem,
  MAP_DELETE_ELEM: HelperNumbers.map_delete_elem,
  PROBE_READ: HelperNumbers.probe_read,
  SKB_STORE_BYTES: HelperNumbers.skb_store_bytes,
  L3_CSUM_REPLACE: HelperNumbers.l3_csum_replace,
  L4_CSUM_REPLACE: HelperNumbers.l4_csum_replace,
  KTIME_GET_NS: HelperNumbers.ktime_get_ns,
  TRACE_PRINTK: HelperNumbers.trace_printk,
  SNPRINTF: HelperNumbers.snprintf,
  GET_PRANDOM_U32: HelperNumbers.get_prandom_u32,
  GET_SMP_PROCESSOR_ID: HelperNumbers.get_smp_processor_id,
  TAIL_CALL: HelperNumbers.tail_call,
  GET_CURRENT_PID_TGID: HelperNumbers.get_current_pid_tgid,
  GET_CURRENT_UID_GID: HelperNumbers.get_current_uid_gid,
  GET_CURRENT_COMM: HelperNumbers.get_current_comm,
  PERF_EVENT_OUTPUT: HelperNumbers.perf_event_output,
  SKB_LOAD_BYTES: HelperNumbers.skb_load_bytes,
  GET_NUMA_NODE_ID: HelperNumbers.get_numa_node_id,
  XDP_ADJUST_HEAD: HelperNumbers.xdp_adjust_head,
  GET_CURRENT_CGROUP_ID: HelperNumbers.get_current_cgroup_id,
  PROBE_READ_STR: HelperNumbers.probe_read_str,
  MAP_PUSH_ELEM: HelperNumbers.map_push_elem,
  MAP_POP_ELEM: HelperNumbers.map_pop_elem,
  MAP_PEEK_ELEM: HelperNumbers.map_peek_elem,
  PROBE_READ_USER: HelperNumbers.probe_read_user,
  JIFFIES64: HelperNumbers.jiffies64,
  PROBE_READ_KERNEL: HelperNumbers.probe_read_kernel,
  PROBE_READ_USER_STR: HelperNumbers.probe_read_user_str,
  PROBE_READ_KERNEL_STR: HelperNumbers.probe_read_kernel_str,
  KTIME_GET_BOOT_NS: HelperNumbers.ktime_get_boot_ns,
  RINGBUF_OUTPUT: HelperNumbers.ringbuf_output,
  RINGBUF_RESERVE: HelperNumbers.ringbuf_reserve,
  RINGBUF_SUBMIT: HelperNumbers.ringbuf_submit,
  RINGBUF_DISCARD: HelperNumbers.ringbuf_discard,
  RINGBUF_QUERY: HelperNumbers.ringbuf_query,
  KTIME_GET_COARSE_NS: HelperNumbers.ktime_get_coarse_ns,
  FOR_EACH_MAP_ELEM: HelperNumbers.for_each_map_elem,
  LOOP: HelperNumbers.loop,
  XDP_ADJUST_TAIL: HelperNumbers.xdp_adjust_tail,
  XDP_LOAD_BYTES: HelperNumbers.xdp_load_bytes,
  XDP_STORE_BYTES: HelperNumbers.xdp_store_bytes,
  REDIRECT_MAP: HelperNumbers.redirect_map,
  CSUM_DIFF: HelperNumbers.csum_diff,
  GET_SOCKET_COOKIE: HelperNumbers.get_socket_cookie,
  SK_FULLSOCK: HelperNumbers.sk_fullsock,
  SKB_CGROUP_ID: HelperNumbers.skb_cgroup_id,
  GET_STACKID: HelperNumbers.get_stackid,
  GET_STACK: HelperNumbers.get_stack,
  FIB_LOOKUP: HelperNumbers.fib_lookup,
  GET_CURRENT_TASK: HelperNumbers.get_current_task,
  GET_CURRENT_TASK_BTF: HelperNumbers.get_current_task_btf,
  TASK_STORAGE_GET: HelperNumbers.task_storage_get,
  TASK_STORAGE_DELETE: HelperNumbers.task_storage_delete,
  SK_STORAGE_GET: HelperNumbers.sk_storage_get,
  SK_STORAGE_DELETE: HelperNumbers.sk_storage_delete,
  INODE_STORAGE_GET: HelperNumbers.inode_storage_get,
  INODE_STORAGE_DELETE: HelperNumbers.inode_storage_delete,
  CGRP_STORAGE_GET: HelperNumbers.cgrp_storage_get,
  CGRP_STORAGE_DELETE: HelperNumbers.cgrp_storage_delete,
  SPIN_LOCK: HelperNumbers.spin_lock,
  SPIN_UNLOCK: HelperNumbers.spin_unlock,
} as const;

export const defaultHelpers: HelperTable = {
  [HelperId.MAP_LOOKUP_ELEM]: mapLookup,
  [HelperId.MAP_UPDATE_ELEM]: mapUpdate,
  [HelperId.MAP_DELETE_ELEM]: mapDelete,
  [HelperId.MAP_PUSH_ELEM]: mapPush,
  [HelperId.MAP_POP_ELEM]: mapPop,
  [HelperId.MAP_PEEK_ELEM]: mapPeek,
  [HelperId.KTIME_GET_NS]: (ctx) => ctx.now(),
  [HelperId.KTIME_GET_BOOT_NS]: (ctx) => ctx.now(),
  [HelperId.KTIME_GET_COARSE_NS]: (ctx) => ctx.now(),
  [HelperId.TRACE_PRINTK]: tracePrintk,
  [HelperId.SNPRINTF]: snprintf,
  [HelperId.GET_PRANDOM_U32]: (ctx) => BigInt(ctx.random() >>> 0),
  [HelperId.GET_SMP_PROCESSOR_ID]: (ctx) => BigInt(ctx.cpu),
  [HelperId.GET_CURRENT_PID_TGID]: currentPidTgid,
  [HelperId.GET_CURRENT_UID_GID]: currentUidGid,
  [HelperId.GET_CURRENT_COMM]: currentComm,
  [HelperId.PERF_EVENT_OUTPUT]: perfEventOutput,
  [HelperId.PROBE_READ]: probeRead,
  [HelperId.PROBE_READ_USER]: probeRead,
  [HelperId.PROBE_READ_KERNEL]: probeRead,
  [HelperId.PROBE_READ_STR]: probeReadStr,
  [HelperId.PROBE_READ_USER_STR]: probeReadStr,
  [HelperId.PROBE_READ_KERNEL_STR]: probeReadStr,
  [HelperId.RINGBUF_OUTPUT]: ringbufOutput,
  [HelperId.RINGBUF_RESERVE]: ringbufReserve,
  [HelperId.RINGBUF_SUBMIT]: ringbufSubmit,
  [HelperId.RINGBUF_DISCARD]: ringbufDiscard,
  [HelperId.RINGBUF_QUERY]: ringbufQuery,
  [HelperId.FOR_EACH_MAP_ELEM]: forEachMapElem,
  [HelperId.LOOP]: loop,
  [HelperId.SKB_LOAD_BYTES]: packetLoadBytes,
  [HelperId.SKB_STORE_BYTES]: packetStoreBytes,
  [HelperId.L3_CSUM_REPLACE]: l3CsumReplace,
  [HelperId.L4_CSUM_REPLACE]: l4CsumReplace,
  [HelperId.XDP_LOAD_BYTES]: packetLoadBytes,
  [HelperId.XDP_STORE_BYTES]: packetStoreBytes,
  [HelperId.XDP_ADJUST_HEAD]: xdpAdjustHead,
  [HelperId.XDP_ADJUST_TAIL]: xdpAdjustTail,
  [HelperId.GET_NUMA_NODE_ID]: () => 0n,
  [HelperId.GET_CURRENT_CGROUP_ID]: (ctx) => ctx.task.cgroupId,
  [HelperId.REDIRECT_MAP]: redirectMap,
  [HelperId.CSUM_DIFF]: csumDiff,
  // A packet's socket is the one the run describes (skb.sk), none by default (the kernel gives 0 then); there is no cgroup.
  [HelperId.GET_SOCKET_COOKIE]: socketCookie,
  [HelperId.SK_FULLSOCK]: skFullsock,
  [HelperId.SKB_CGROUP_ID]: () => 0n,
  [HelperId.GET_STACKID]: getStackId,
  [HelperId.GET_STACK]: getStack,
  // No routing table: nothing is forwarded unless RunOptions.helpers brings one (fibLookupWith).
  [HelperId.FIB_LOOKUP]: fibLookupNotForwarded,
  // The task is an address naming the run's task; storage is keyed by it, reads through it fault.
  [HelperId.GET_CURRENT_TASK]: taskPointer,
  [HelperId.GET_CURRENT_TASK_BTF]: taskPointer,
  [HelperId.TASK_STORAGE_GET]: localStorageGet,
  [HelperId.TASK_STORAGE_DELETE]: localStorageDelete,
  [HelperId.SK_STORAGE_GET]: localStorageGet,
  [HelperId.SK_STORAGE_DELETE]: localStorageDelete,
  [HelperId.INODE_STORAGE_GET]: localStorageGet,
  [HelperId.INODE_STORAGE_DELETE]: localStorageDelete,
  [HelperId.CGRP_STORAGE_GET]: localStorageGet,
  [HelperId.CGRP_STORAGE_DELETE]: localStorageDelete,
  [HelperId.SPIN_LOCK]: spinLock,
  [HelperId.SPIN_UNLOCK]: spinUnlock,
  // jiffies at HZ=250, from the same clock as ktime
  [HelperId.JIFFIES64]: (ctx) => ctx.now() / 4_000_000n,
};

/** A negative errno as the u64 a helper returns. */
export const errno = (e: number): bigint => helperResult(-e);
