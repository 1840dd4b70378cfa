/**
 * execsnoop: every execve(2) with the process, its parent (read from
 * task_struct through CO-RE: one object for every kernel), the return code
 * and the arguments, as bcc's execsnoop prints them.
 *   sudo npx tsbpf run examples/tools/execsnoop.bpf.ts -- [--name COMM] [--fails] [--time]
 */
import { arrayMap, bpf, hashMap, range, ringBuf, tracepoint, type CStr, type FixedArray, type i32, type u32, type u64 } from 'tsbpf/dsl';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as execsnoop from './execsnoop.bpf.js';

/** Arguments kept per call (bcc's default is 20; a ring-buffer event holds what fits the stack-free copy). */
const MAX_ARGS = 6;

export interface Exec {
  pid: u32;
  ppid: u32;
  uid: u32;
  /** 0, or -errno. */
  ret: i32;
  /** How many arguments there were, up to MAX_ARGS + 1 (more than shown). */
  argc: u32;
  comm: CStr<16>;
  filename: CStr<128>;
  args: FixedArray<CStr<48>, 6>;
}

export const execs = ringBuf<Exec>({ size: 1024 * 1024 });
/** The event as the entry saw it, until the return (the process's memory is replaced when execve succeeds). */
const pending = hashMap<u32, Exec>({ maxEntries: 10240 });
/** A zeroed event to start from (no 500-byte struct on the stack). */
const blank = arrayMap<Exec>({ maxEntries: 1 });

export const onExecve = tracepoint('syscalls/sys_enter_execve', (ctx) => {
  const tid = bpf.tid();
  const zero = blank.lookup(0);
  if (zero === null) return 0;
  pending.update(tid, zero);
  const e = pending.lookup(tid);
  if (e === null) return 0;
  const task = bpf.currentTask();
  e.pid = bpf.pid();
  e.ppid = task.real_parent.tgid;
  e.uid = bpf.uid();
  bpf.probeReadUserStr(e.filename, ctx.filename);
  const argv: u64 = ctx.argv;
  let slot!: FixedArray<u64, 1>;
  for (const i of range(MAX_ARGS)) {
    slot[0] = 0;
    bpf.probeReadUser(slot, argv + i * 8);
    if (slot[0] === 0) return 0;
    e.argc = i + 1;
    bpf.probeReadUserStr(e.args[i], slot[0]);
  }
  // One more pointer says whether there were more arguments than shown.
  slot[0] = 0;
  bpf.probeReadUser(slot, argv + MAX_ARGS * 8);
  if (slot[0] !== 0) e.argc = MAX_ARGS + 1;
  return 0;
});

export const onExecveReturn = tracepoint('syscalls/sys_exit_execve', (ctx) => {
  const tid = bpf.tid();
  const e = pending.lookup(tid);
  if (e === null) return 0;
  e.ret = ctx.ret;
  bpf.currentComm(e.comm);
  execs.output(e);
  pending.delete(tid);
  return 0;
});

export const options = {
  name: { type: 'string' },
  fails: { type: 'boolean' },
  time: { type: 'boolean' },
} as const;

/** Columns as bcc's execsnoop prints them: PCOMM PID PPID RET ARGS. */
export async function main(live: LiveModule<typeof execsnoop>, args: ModuleArgs): Promise<void> {
  const name = typeof args.values.name === 'string' ? args.values.name : undefined;
  const time = args.values.time === true;
  const start = Date.now();
  process.stdout.write(`${time ? 'TIME(s) ' : ''}${'PCOMM'.padEnd(16)} ${'PID'.padStart(7)} ${'PPID'.padStart(7)} ${'RET'.padStart(3)} ARGS\n`);
  for await (const e of live.events.execs) {
    if (name !== undefined && !e.comm.includes(name)) continue;
    if (args.values.fails === true && e.ret === 0) continue;
    const argv = (e.args as unknown as string[]).slice(0, Math.min(e.argc, MAX_ARGS));
    const shown = argv.length ? argv : [e.filename];
    if (argv.length && argv[0] !== e.filename) shown[0] = e.filename;
    const more = e.argc > MAX_ARGS ? ' ...' : '';
    const stamp = time ? `${((Date.now() - start) / 1000).toFixed(3).padEnd(8)}` : '';
    process.stdout.write(`${stamp}${e.comm.padEnd(16)} ${String(e.pid).padStart(7)} ${String(e.ppid).padStart(7)} ${String(e.ret).padStart(3)} ${shown.join(' ')}${more}\n`);
  }
}
