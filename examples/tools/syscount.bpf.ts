/**
 * syscount: system calls counted by syscall (or by process with -P), with
 * their total latency (-L), printed as bcc's syscount prints them: the top
 * N at Ctrl-C, or every INTERVAL seconds. raw_syscalls:sys_enter notes when
 * each thread entered, raw_syscalls:sys_exit counts the call.
 *   sudo npx tsbpf run examples/tools/syscount.bpf.ts -- [-p PID] [-L] [-m] [-P] [-x] [-e ERRNO] [-T TOP] [-i INTERVAL] [-d DURATION] [-l]
 */
import { atomic, bpf, global, hashMap, i64, tracepoint, u32, UpdateFlags, type CStr, type u64 } from 'tsbpf/dsl';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as syscount from './syscount.bpf.js';
import { syscallName, x86_64SyscallName } from './syscall-names.js';

/**
 * 1 once main has set the filters below: until then the programs count
 * nothing (they run from attach on, and bcc's filters are set before load).
 */
export const ready = global<u32>(0);
/** Only this process (tgid; 0: every process), from -p. */
export const targetTgid = global<u32>(0);
/** 1: measure latency (-L): a call counts only when its entry was seen. */
export const measureLatency = global<u32>(0);
/** 1: count by process (-P) instead of by syscall. */
export const byProcess = global<u32>(0);
/** 1: only failed calls (-x). */
export const onlyFailed = global<u32>(0);
/** Only calls that failed with this errno (-e; 0: any). */
export const onlyErrno = global<u32>(0);

interface RawSysEnter {
  id: i64;
}
interface RawSysExit {
  id: i64;
  ret: i64;
}

export interface Calls {
  count: u64;
  /** Nanoseconds spent in the calls (with -L). */
  totalNs: u64;
  /** The process's name (with -P). */
  comm: CStr<16>;
}

/** When each thread entered its current syscall (with -L). */
const entered = hashMap<u64, u64>({ maxEntries: 10240 });
/** By syscall number, or by tgid with -P. */
export const calls = hashMap<u32, Calls>({ maxEntries: 10240 });

function wanted(tgid: u32): boolean {
  if (ready.get() === 0) return false;
  return targetTgid.get() === 0 || targetTgid.get() === tgid;
}

export const onEnter = tracepoint<RawSysEnter>('raw_syscalls/sys_enter', () => {
  if (measureLatency.get() === 0 || !wanted(bpf.tgid())) return 0;
  entered.update(bpf.pidTgid(), bpf.ktimeNs());
  return 0;
});

export const onExit = tracepoint<RawSysExit>('raw_syscalls/sys_exit', (ctx) => {
  const tgid = bpf.tgid();
  if (!wanted(tgid)) return 0;
  // id -1: a syscall the kernel did not run (seccomp, ptrace).
  if (ctx.id < 0) return 0;
  const ret = ctx.ret;
  if (onlyFailed.get() !== 0 && ret >= 0) return 0;
  if (onlyErrno.get() !== 0 && ret !== -i64(onlyErrno.get())) return 0;
  let ns: u64 = 0;
  if (measureLatency.get() !== 0) {
    const tid = bpf.pidTgid();
    const since = entered.lookup(tid);
    // Entered before the tool started: no latency to add.
    if (since === null) return 0;
    ns = bpf.ktimeNs() - since;
    entered.delete(tid);
  }
  const key: u32 = byProcess.get() !== 0 ? tgid : u32(ctx.id);
  if (calls.lookup(key) === null) {
    let fresh!: Calls;
    if (byProcess.get() !== 0) bpf.currentComm(fresh.comm);
    calls.update(key, fresh, UpdateFlags.NOEXIST);
  }
  const c = calls.lookup(key);
  if (c === null) return 0;
  atomic.add(c, 'count', 1);
  if (ns !== 0) atomic.add(c, 'totalNs', ns);
  return 0;
});

// ------------------------------------------------------------ user space

export const options = {
  pid: { type: 'string', short: 'p' },
  latency: { type: 'boolean', short: 'L' },
  milliseconds: { type: 'boolean', short: 'm' },
  process: { type: 'boolean', short: 'P' },
  failures: { type: 'boolean', short: 'x' },
  errno: { type: 'string', short: 'e' },
  top: { type: 'string', short: 'T' },
  interval: { type: 'string', short: 'i' },
  duration: { type: 'string', short: 'd' },
  list: { type: 'boolean', short: 'l' },
} as const;

/** errno names bcc's -e takes besides numbers (the common ones; asm-generic/errno-base.h). */
const ERRNOS: Record<string, number> = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9, ECHILD: 10, EAGAIN: 11, ENOMEM: 12,
  EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24,
  ENOTTY: 25, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, EROFS: 30, EMLINK: 31, EPIPE: 32, ERANGE: 34, ENOSYS: 38, ETIMEDOUT: 110,
};

function positive(flag: string, text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`-${flag} ${text}: not a positive number`);
  return n;
}

/** bcc's syscount: `SYSCALL COUNT [TIME (us)]` (or `PID COMM …` with -P), top N by count (by time with -L). */
export async function main(live: LiveModule<typeof syscount>, args: ModuleArgs): Promise<void> {
  const v = args.values;
  if (v.list === true) {
    for (let nr = 0; nr < 1024; nr++) {
      const name = process.arch === 'x64' ? x86_64SyscallName(nr) : undefined;
      if (name !== undefined) process.stdout.write(`${String(nr).padStart(3)}: ${name}\n`);
    }
    return;
  }
  const pid = positive('p', v.pid);
  const top = positive('T', v.top) ?? 10;
  const interval = positive('i', v.interval);
  const duration = positive('d', v.duration);
  const errno = typeof v.errno === 'string' ? (ERRNOS[v.errno.toUpperCase()] ?? positive('e', v.errno)) : undefined;
  const latency = v.latency === true;
  const ms = v.milliseconds === true;
  if (pid !== undefined) live.globals.targetTgid = pid;
  if (latency) live.globals.measureLatency = 1;
  if (v.process === true) live.globals.byProcess = 1;
  if (v.failures === true) live.globals.onlyFailed = 1;
  if (errno !== undefined) live.globals.onlyErrno = errno;
  live.globals.ready = 1;

  process.stdout.write(`Tracing ${v.failures === true ? 'failed ' : ''}syscalls, printing top ${top}... Ctrl+C to quit.\n`);
  const print = () => {
    process.stdout.write(`[${new Date().toTimeString().slice(0, 8)}]\n`);
    const label = v.process === true ? 'PID    COMM' : 'SYSCALL';
    const unit = ms ? 'TIME (ms)' : 'TIME (us)';
    process.stdout.write(latency ? `${label.padEnd(22)} ${'COUNT'.padStart(8)} ${unit.padStart(16)}\n` : `${label.padEnd(22)} ${'COUNT'.padStart(8)}\n`);
    const rows = [...live.maps.calls].sort((a, b) => (latency ? b[1].totalNs - a[1].totalNs : b[1].count - a[1].count) || a[0] - b[0]).slice(0, top);
    for (const [key, c] of rows) {
      const name = v.process === true ? `${String(key).padEnd(6)} ${c.comm.slice(0, 15)}` : syscallName(key);
      const time = (c.totalNs / (ms ? 1e6 : 1e3)).toFixed(3);
      process.stdout.write(latency ? `${name.padEnd(22)} ${String(c.count).padStart(8)} ${time.padStart(16)}\n` : `${name.padEnd(22)} ${String(c.count).padStart(8)}\n`);
    }
    process.stdout.write('\n');
    live.maps.calls.clear();
  };
  if (duration !== undefined && interval === undefined) {
    // -d alone: one report after DURATION seconds (or at Ctrl-C).
    await sleep(duration * 1000, undefined, { signal: args.signal }).catch(() => {});
    print();
    return;
  }
  const count = interval !== undefined && duration !== undefined ? Math.max(1, Math.floor(duration / interval)) : Infinity;
  for await (const _ of args.reports(interval, count)) print();
}
