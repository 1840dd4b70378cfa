/**
 * perf_event_open(2): the struct perf_event_attr layout (PERF_ATTR_SIZE_VER8,
 * 136 bytes) and the ioctls used to enable, disable and attach BPF programs.
 * Thin: no policy. Offsets follow include/uapi/linux/perf_event.h.
 */
import { SyscallError } from './bpf.js';
import { lastErrno, libc } from './libc.js';

const NR_PERF_EVENT_OPEN: Record<string, number> = { x64: 298, arm64: 241, ia32: 336, arm: 364, riscv64: 241, ppc64: 319, s390x: 331 };
const NR = NR_PERF_EVENT_OPEN[process.arch] ?? -1;

const perfEventOpenRaw = libc.func('long syscall(long nr, void *attr, long pid, long cpu, long group_fd, unsigned long flags)');
const ioctlRaw = libc.func('int ioctl(int fd, unsigned long request, unsigned long arg)');

export const PERF_ATTR_SIZE = 136;

/** perf_type_id. Dynamic PMUs (kprobe, uprobe) read their type from sysfs. */
export const PerfType = { HARDWARE: 0, SOFTWARE: 1, TRACEPOINT: 2, HW_CACHE: 3, RAW: 4, BREAKPOINT: 5 } as const;

/** perf_sw_ids. */
export const PerfSwConfig = {
  CPU_CLOCK: 0, TASK_CLOCK: 1, PAGE_FAULTS: 2, CONTEXT_SWITCHES: 3, CPU_MIGRATIONS: 4,
  PAGE_FAULTS_MIN: 5, PAGE_FAULTS_MAJ: 6, ALIGNMENT_FAULTS: 7, EMULATION_FAULTS: 8, DUMMY: 9, BPF_OUTPUT: 10, CGROUP_SWITCHES: 11,
} as const;

/** perf_event_sample_format bits. */
export const PerfSample = { IP: 1 << 0, TID: 1 << 1, TIME: 1 << 2, ADDR: 1 << 3, READ: 1 << 4, CALLCHAIN: 1 << 5, ID: 1 << 6, CPU: 1 << 7, PERIOD: 1 << 8, STREAM_ID: 1 << 9, RAW: 1 << 10 } as const;

/** Bits of the flags word at offset 40. */
export const PerfAttrFlag = {
  DISABLED: 1n << 0n, INHERIT: 1n << 1n, PINNED: 1n << 2n, EXCLUSIVE: 1n << 3n, EXCLUDE_USER: 1n << 4n,
  EXCLUDE_KERNEL: 1n << 5n, EXCLUDE_HV: 1n << 6n, EXCLUDE_IDLE: 1n << 7n, MMAP: 1n << 8n, COMM: 1n << 9n,
  FREQ: 1n << 10n, WATERMARK: 1n << 14n,
} as const;

/** perf_event_type values of records in the mmap ring. */
export const PerfRecord = { MMAP: 1, LOST: 2, COMM: 3, EXIT: 4, THROTTLE: 5, UNTHROTTLE: 6, FORK: 7, READ: 8, SAMPLE: 9, LOST_SAMPLES: 13 } as const;

export const PERF_FLAG_FD_CLOEXEC = 8;

/** ioctl request numbers: _IO('$', n) and _IOW('$', 8, u32). */
export const PerfIoctl = { ENABLE: 0x2400, DISABLE: 0x2401, RESET: 0x2403, SET_BPF: 0x40042408 } as const;

export interface PerfEventAttr {
  type: number;
  config?: bigint;
  /** sample_period, or sample_freq with `freq` set. */
  samplePeriod?: bigint;
  freq?: boolean;
  sampleType?: number;
  /** Bits from PerfAttrFlag besides `freq`. */
  flags?: bigint;
  /** wakeup_events, or wakeup_watermark with PerfAttrFlag.WATERMARK. */
  wakeupEvents?: number;
  /** kprobe_func / uprobe_path / bp_addr: a pointer (address) or value. */
  config1?: bigint;
  /** kprobe_addr / probe_offset / bp_len. */
  config2?: bigint;
}

/** Encodes a perf_event_attr into `out` (at least PERF_ATTR_SIZE bytes, zeroed here). */
export function encodePerfEventAttr(attr: PerfEventAttr, out: Uint8Array): void {
  if (out.byteLength < PERF_ATTR_SIZE) throw new RangeError(`perf_event_attr needs ${PERF_ATTR_SIZE} bytes, got ${out.byteLength}`);
  out.fill(0, 0, PERF_ATTR_SIZE);
  const v = new DataView(out.buffer, out.byteOffset, PERF_ATTR_SIZE);
  v.setUint32(0, attr.type, true);
  v.setUint32(4, PERF_ATTR_SIZE, true);
  v.setBigUint64(8, attr.config ?? 0n, true);
  v.setBigUint64(16, attr.samplePeriod ?? 0n, true);
  v.setBigUint64(24, BigInt(attr.sampleType ?? 0), true);
  v.setBigUint64(40, (attr.flags ?? 0n) | (attr.freq ? PerfAttrFlag.FREQ : 0n), true);
  v.setUint32(48, attr.wakeupEvents ?? 0, true);
  v.setBigUint64(56, attr.config1 ?? 0n, true);
  v.setBigUint64(64, attr.config2 ?? 0n, true);
}

/**
 * perf_event_open(attr, pid, cpu, group_fd, flags | CLOEXEC). Returns the
 * event fd; a failure is a SyscallError whose hint names the likely cause.
 */
export function perfEventOpen(attr: PerfEventAttr, pid: number, cpu: number, groupFd = -1, flags = 0, what = 'perf_event_open'): number {
  if (NR < 0) throw new Error(`perf_event_open: unsupported architecture ${process.arch}`);
  const buf = new Uint8Array(PERF_ATTR_SIZE);
  encodePerfEventAttr(attr, buf);
  const r = Number(perfEventOpenRaw(NR, buf, pid, cpu, groupFd, flags | PERF_FLAG_FD_CLOEXEC));
  if (r < 0) {
    const errno = lastErrno();
    throw new SyscallError(what, errno, perfHint(errno));
  }
  return r;
}

function perfHint(errno: number): string | undefined {
  switch (errno) {
    case 1: case 13: return 'needs CAP_PERFMON/CAP_SYS_ADMIN or a lower /proc/sys/kernel/perf_event_paranoid';
    case 2: return 'no such event (tracepoint, symbol or file missing)';
    case 19: return 'this PMU or event type is not supported by the kernel';
    case 22: return 'invalid attribute for this event (kernel too old or bad argument)';
    case 24: return 'too many open files';
    default: return undefined;
  }
}

/** ioctl(fd, request, arg) → result; throws SyscallError on failure. */
export function ioctl(fd: number, request: number, arg: number, what = 'ioctl'): number {
  const r = ioctlRaw(fd, request, arg) as number;
  if (r < 0) throw new SyscallError(what, lastErrno());
  return r;
}

