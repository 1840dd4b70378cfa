/**
 * opensnoop: every open(2) and openat(2) with the process, the
 * file descriptor or error, and the path, as bcc's opensnoop prints them.
 * The filters by pid, tid and uid and the failed-only filter run in the
 * kernel (main sets them in `.data` globals once attached, as bcc sets its
 * rodata); the name filter and the columns are main's.
 *   sudo npx tsbpf run examples/tools/opensnoop.bpf.ts -- [-p PID] [-t TID] [-u UID] [-n NAME] [-x] [-T] [-U] [-e] [-d SECONDS]
 */
import { bpf, global, hashMap, ringBuf, tracepoint, type CStr, type i32, type i64, type u32, type u64 } from 'tsbpf/dsl';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as opensnoop from './opensnoop.bpf.js';

export interface Open {
  pid: u32;
  tid: u32;
  uid: u32;
  flags: i32;
  /** The file descriptor, or -errno. */
  ret: i64;
  /** Nanoseconds since boot at the return. */
  ts: u64;
  comm: CStr<16>;
  path: CStr<256>;
}

/** What the entry saw, until the return (the path is read then, once the kernel has faulted it in, as bcc's opensnoop does). */
interface Pending {
  filename: u64;
  flags: i32;
}

/** Only this process (0: all); main sets it from -p. */
export const targetTgid = global<u32>(0);
/** Only this thread (0: all); -t. */
export const targetTid = global<u32>(0);
/** Only this user (0xffffffff: all); -u. */
export const targetUid = global<u32>(0xffffffff);
/** 1: only the calls that failed; -x. */
export const failedOnly = global<u32>(0);

export const opens = ringBuf<Open>({ size: 256 * 1024 });
const pending = hashMap<u32, Pending>({ maxEntries: 10240 });

function enter(filename: u64, flags: i32): void {
  if (targetTgid.get() !== 0 && bpf.pid() !== targetTgid.get()) return;
  if (targetTid.get() !== 0 && bpf.tid() !== targetTid.get()) return;
  if (targetUid.get() !== 0xffffffff && bpf.uid() !== targetUid.get()) return;
  pending.update(bpf.tid(), { filename, flags });
}

function exit(ret: i64): void {
  const tid = bpf.tid();
  const p = pending.lookup(tid);
  if (p === null) return;
  if (failedOnly.get() === 0 || ret < 0) {
    const e = opens.reserve();
    if (e !== null) {
      e.pid = bpf.pid();
      e.tid = tid;
      e.uid = bpf.uid();
      e.flags = p.flags;
      e.ret = ret;
      e.ts = bpf.ktimeNs();
      bpf.currentComm(e.comm);
      bpf.probeReadUserStr(e.path, p.filename);
      opens.submit(e);
    }
  }
  pending.delete(tid);
}

export const onOpen = tracepoint('syscalls/sys_enter_open', (ctx) => {
  enter(ctx.filename, ctx.flags);
  return 0;
});

export const onOpenat = tracepoint('syscalls/sys_enter_openat', (ctx) => {
  enter(ctx.filename, ctx.flags);
  return 0;
});

export const onOpenReturn = tracepoint('syscalls/sys_exit_open', (ctx) => {
  exit(ctx.ret);
  return 0;
});

export const onOpenatReturn = tracepoint('syscalls/sys_exit_openat', (ctx) => {
  exit(ctx.ret);
  return 0;
});

/** bcc's options (the arguments after `--`). */
export const options = {
  pid: { type: 'string', short: 'p' },
  tid: { type: 'string', short: 't' },
  uid: { type: 'string', short: 'u' },
  name: { type: 'string', short: 'n' },
  failed: { type: 'boolean', short: 'x' },
  timestamp: { type: 'boolean', short: 'T' },
  'print-uid': { type: 'boolean', short: 'U' },
  extended: { type: 'boolean', short: 'e' },
  duration: { type: 'string', short: 'd' },
} as const;

const int = (v: unknown, what: string): number | undefined => {
  if (typeof v !== 'string') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: not a number: ${v}`);
  return n;
};

/** Columns as bcc's opensnoop: [TIME(s)] [UID] PID COMM FD ERR [FLAGS] PATH, until Ctrl-C or -d. */
export async function main(live: LiveModule<typeof opensnoop>, args: ModuleArgs): Promise<void> {
  const v = args.values;
  const pid = int(v.pid, '--pid');
  const tid = int(v.tid, '--tid');
  const uid = int(v.uid, '--uid');
  const duration = int(v.duration, '--duration');
  if (pid !== undefined) live.globals.targetTgid = pid;
  if (tid !== undefined) live.globals.targetTid = tid;
  if (uid !== undefined) live.globals.targetUid = uid;
  if (v.failed === true) live.globals.failedOnly = 1;
  const name = typeof v.name === 'string' ? v.name : undefined;
  const time = v.timestamp === true;
  const showUid = v['print-uid'] === true;
  const extended = v.extended === true;
  let first: number | undefined;
  process.stdout.write(`${time ? `${'TIME(s)'.padEnd(8)} ` : ''}${showUid ? `${'UID'.padEnd(6)} ` : ''}${'PID'.padEnd(6)} ${'COMM'.padEnd(16)} ${'FD'.padStart(3)} ${'ERR'.padStart(3)} ${extended ? `${'FLAGS'.padEnd(8)} ` : ''}PATH\n`);
  const timer = duration !== undefined ? setTimeout(() => live.events.opens.close(), duration * 1000) : undefined;
  try {
    for await (const e of live.events.opens) {
      // Events of the moment between attach and the globals being set.
      if (pid !== undefined && e.pid !== pid) continue;
      if (tid !== undefined && e.tid !== tid) continue;
      if (uid !== undefined && e.uid !== uid) continue;
      if (v.failed === true && e.ret >= 0) continue;
      if (name !== undefined && !e.comm.includes(name)) continue;
      first ??= e.ts;
      const [fd, err] = e.ret >= 0 ? [e.ret, 0] : [-1, -e.ret];
      const stamp = time ? `${((e.ts - first) / 1e9).toFixed(6).padEnd(8)} ` : '';
      const user = showUid ? `${String(e.uid).padEnd(6)} ` : '';
      const flags = extended ? `${`0${(e.flags >>> 0).toString(8)}`.padEnd(8)} ` : '';
      process.stdout.write(`${stamp}${user}${String(e.pid).padEnd(6)} ${e.comm.padEnd(16)} ${String(fd).padStart(3)} ${String(err).padStart(3)} ${flags}${e.path}\n`);
    }
  } finally {
    clearTimeout(timer);
  }
}
