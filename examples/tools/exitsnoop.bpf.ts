/**
 * exitsnoop: every process exit with its parent, age and exit status (or
 * the signal that killed it), as bcc's exitsnoop prints them. The status,
 * parent and start time are read from task_struct through CO-RE.
 *   sudo npx tsbpf run examples/tools/exitsnoop.bpf.ts -- [--name COMM] [--failed] [--threads]
 */
import { bpf, ringBuf, tracepoint, type CStr, type i32, type u32, type u64 } from 'tsbpf/dsl';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as exitsnoop from './exitsnoop.bpf.js';

export interface Exit {
  pid: u32;
  tid: u32;
  ppid: u32;
  /** task->exit_code: the status << 8, or the terminating signal (low 7 bits, 0x80 when it dumped core). */
  exitCode: i32;
  ageNs: u64;
  comm: CStr<16>;
}

export const exits = ringBuf<Exit>({ size: 256 * 1024 });

export const onExit = tracepoint('sched/sched_process_exit', () => {
  const task = bpf.currentTask();
  const e = exits.reserve();
  if (e === null) return 0;
  e.pid = bpf.pid();
  e.tid = bpf.tid();
  e.ppid = task.real_parent.tgid;
  e.exitCode = task.exit_code;
  e.ageNs = bpf.ktimeNs() - task.start_time;
  bpf.currentComm(e.comm);
  exits.submit(e);
  return 0;
});

export const options = {
  name: { type: 'string' },
  failed: { type: 'boolean', short: 'x' },
  threads: { type: 'boolean', short: 't' },
} as const;

const SIGNALS = ['', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM'];

/** What bcc's exitsnoop prints in its EXIT_CODE column. */
export function describeExit(code: number): string {
  const signal = code & 0x7f;
  if (signal === 0) return String((code >> 8) & 0xff);
  return `signal ${signal} (${SIGNALS[signal] ?? `SIG${signal}`})${code & 0x80 ? ', core dumped' : ''}`;
}

/** Columns as bcc's exitsnoop: PCOMM PID PPID TID AGE(s) EXIT_CODE. */
export async function main(live: LiveModule<typeof exitsnoop>, args: ModuleArgs): Promise<void> {
  const name = typeof args.values.name === 'string' ? args.values.name : undefined;
  process.stdout.write(`${'PCOMM'.padEnd(16)} ${'PID'.padStart(7)} ${'PPID'.padStart(7)} ${'TID'.padStart(7)} ${'AGE(s)'.padStart(7)} EXIT_CODE\n`);
  for await (const e of live.events.exits) {
    if (args.values.threads !== true && e.pid !== e.tid) continue;
    if (args.values.failed === true && e.exitCode === 0) continue;
    if (name !== undefined && !e.comm.includes(name)) continue;
    const age = (Number(e.ageNs) / 1e9).toFixed(2);
    process.stdout.write(`${e.comm.padEnd(16)} ${String(e.pid).padStart(7)} ${String(e.ppid).padStart(7)} ${String(e.tid).padStart(7)} ${age.padStart(7)} ${describeExit(e.exitCode)}\n`);
  }
}
