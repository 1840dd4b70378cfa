/**
 * opensnoop: every openat(2) with the process, the result (fd or errno)
 * and the path, as columns.
 * The kernel half sends an event per call; the user-space half (main) is
 * in this same module, typed by the same declarations, and filters by
 * process name:
 *   sudo npx tsbpf run examples/opensnoop.bpf.ts -- --name bash
 */
import { bpf, hashMap, ringBuf, tracepoint, type CStr, type i32, type i64, type u32, type u64 } from 'tsbpf/dsl';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as opensnoop from './opensnoop.bpf.js';

export interface Open {
  pid: u32;
  uid: u32;
  flags: i32;
  /** The file descriptor, or -errno. */
  ret: i64;
  comm: CStr<16>;
  path: CStr<128>;
}

/** What the entry saw, until the return (the path is read then, once the kernel has faulted it in, as bcc's opensnoop does). */
interface Pending {
  filename: u64;
  flags: i32;
}

export const opens = ringBuf<Open>({ size: 256 * 1024 });
const pending = hashMap<u32, Pending>({ maxEntries: 8192 });

export const onOpenat = tracepoint('syscalls/sys_enter_openat', (ctx) => {
  let p!: Pending;
  p.filename = ctx.filename;
  p.flags = ctx.flags;
  pending.update(bpf.tid(), p);
  return 0;
});

export const onOpenatReturn = tracepoint('syscalls/sys_exit_openat', (ctx) => {
  const p = pending.lookup(bpf.tid());
  if (p === null) return 0;
  const e = opens.reserve();
  if (e !== null) {
    e.pid = bpf.pid();
    e.uid = bpf.uid();
    e.flags = p.flags;
    e.ret = ctx.ret;
    bpf.currentComm(e.comm);
    bpf.probeReadUserStr(e.path, p.filename);
    opens.submit(e);
  }
  pending.delete(bpf.tid());
  return 0;
});

/** The arguments after `--` (node:util parseArgs options). */
export const options = {
  name: { type: 'string' },
  pid: { type: 'string' },
} as const;

/** Columns as opensnoop prints them, until Ctrl-C or --duration. */
export async function main(live: LiveModule<typeof opensnoop>, args: ModuleArgs): Promise<void> {
  const name = typeof args.values.name === 'string' ? args.values.name : undefined;
  const pid = typeof args.values.pid === 'string' ? Number(args.values.pid) : undefined;
  process.stdout.write(`${'PID'.padStart(7)} ${'UID'.padStart(6)} ${'COMM'.padEnd(16)} ${'FD'.padStart(4)} ${'ERR'.padStart(3)} ${'FLAGS'.padStart(8)} PATH\n`);
  for await (const e of live.events.opens) {
    if (name !== undefined && e.comm !== name) continue;
    if (pid !== undefined && e.pid !== pid) continue;
    const flags = `0${(e.flags >>> 0).toString(8)}`;
    const [fd, err] = e.ret >= 0 ? [e.ret, 0] : [-1, -e.ret];
    process.stdout.write(`${String(e.pid).padStart(7)} ${String(e.uid).padStart(6)} ${e.comm.padEnd(16)} ${String(fd).padStart(4)} ${String(err).padStart(3)} ${flags.padStart(8)} ${e.path}\n`);
  }
}
