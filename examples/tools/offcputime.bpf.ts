/**
 * offcputime: time spent blocked (off CPU), by kernel and user stack, like
 * bcc's offcputime. At sched_switch the task switched out is the current
 * one: its stacks go into a stack-trace map and the moment is kept; when
 * that task is switched in again the time in between is added to its
 * (process, thread, stacks, name). The classic sched_switch tracepoint is
 * used (not tp_btf) because a BTF-typed program's body has no context to
 * pass to getId; next_pid is one of its fields.
 *   sudo npx tsbpf run examples/tools/offcputime.bpf.ts -- [-p PID] [-t TID] [-u | -k] [-U | -K] [-m MIN_US] [-M MAX_US] [-f] [-d] [DURATION]
 */
import { bpf, global, hashMap, i32, stackTraceMap, StackFlags, tracepoint, type CStr, type u32, type u64 } from 'tsbpf/dsl';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as offcputime from './offcputime.bpf.js';

export interface Blocked {
  pid: u32;
  tid: u32;
  /** Stack ids in `stacks`; negative: none. */
  kernelStack: i32;
  userStack: i32;
  comm: CStr<16>;
}

interface Start {
  ts: u64;
  key: Blocked;
}

/** Main sets these once attached, as bcc sets its rodata. Only this process (0: all; -p). */
export const targetTgid = global<u32>(0);
/** Only this thread (0: all; -t). */
export const targetTid = global<u32>(0);
/** 1: user threads only (-u); 2: kernel threads only (-k). */
export const onlyThreads = global<u32>(0);
/** 1: user stacks only (-U); 2: kernel stacks only (-K). */
export const onlyStacks = global<u32>(0);
/** Blocked times counted, in microseconds (-m, -M). */
export const minBlockUs = global<u64>(1);
export const maxBlockUs = global<u64>(0xffffffffffff);

export const stacks = stackTraceMap({ maxEntries: 16384 });
/** Microseconds off CPU, by process, thread, stacks and name. */
export const blocked = hashMap<Blocked, u64>({ maxEntries: 16384 });
const started = hashMap<u32, Start>({ maxEntries: 16384 });

export const onSwitch = tracepoint('sched/sched_switch', (ctx) => {
  const tid = bpf.tid();
  const pid = bpf.pid();
  let wanted = tid !== 0;
  if (targetTgid.get() !== 0 && pid !== targetTgid.get()) wanted = false;
  if (targetTid.get() !== 0 && tid !== targetTid.get()) wanted = false;
  if (onlyThreads.get() !== 0) {
    const kernelThread = bpf.currentTask().mm === null;
    if (onlyThreads.get() === 1 ? kernelThread : !kernelThread) wanted = false;
  }
  if (wanted) {
    let s!: Start;
    s.ts = bpf.ktimeNs();
    s.key.pid = pid;
    s.key.tid = tid;
    s.key.kernelStack = onlyStacks.get() === 1 ? -1 : i32(stacks.getId(ctx, 0));
    s.key.userStack = onlyStacks.get() === 2 ? -1 : i32(stacks.getId(ctx, StackFlags.USER));
    bpf.currentComm(s.key.comm);
    started.update(tid, s);
  }
  const next: u32 = ctx.next_pid;
  const s = started.lookup(next);
  if (s === null) return 0;
  const us = (bpf.ktimeNs() - s.ts) / 1000;
  // Again at the end: a task switched out before main set the filters.
  const kept = (targetTgid.get() === 0 || s.key.pid === targetTgid.get()) && (targetTid.get() === 0 || s.key.tid === targetTid.get());
  if (kept && us >= minBlockUs.get() && us <= maxBlockUs.get()) blocked.increment(s.key, us);
  started.delete(next);
  return 0;
});

export const options = {
  pid: { type: 'string', short: 'p' },
  tid: { type: 'string', short: 't' },
  'user-threads-only': { type: 'boolean', short: 'u' },
  'kernel-threads-only': { type: 'boolean', short: 'k' },
  'user-stacks-only': { type: 'boolean', short: 'U' },
  'kernel-stacks-only': { type: 'boolean', short: 'K' },
  'min-block-time': { type: 'string', short: 'm' },
  'max-block-time': { type: 'string', short: 'M' },
  folded: { type: 'boolean', short: 'f' },
  delimited: { type: 'boolean', short: 'd' },
} as const;

/** bcc's offcputime: the stacks with their total microseconds when DURATION seconds have passed or at Ctrl-C. */
export async function main(live: LiveModule<typeof offcputime>, args: ModuleArgs): Promise<void> {
  const v = args.values;
  const num = (x: unknown) => (typeof x === 'string' ? Number(x) : undefined);
  const pid = num(v.pid);
  const tid = num(v.tid);
  if (pid !== undefined) live.globals.targetTgid = pid;
  if (tid !== undefined) live.globals.targetTid = tid;
  const userOnly = v['user-stacks-only'] === true;
  const kernelOnly = v['kernel-stacks-only'] === true;
  if (userOnly && kernelOnly) throw new Error('-U and -K: choose one');
  if (v['user-threads-only'] === true && v['kernel-threads-only'] === true) throw new Error('-u and -k: choose one');
  live.globals.onlyThreads = v['user-threads-only'] === true ? 1 : v['kernel-threads-only'] === true ? 2 : 0;
  live.globals.onlyStacks = userOnly ? 1 : kernelOnly ? 2 : 0;
  if (num(v['min-block-time']) !== undefined) live.globals.minBlockUs = num(v['min-block-time'])!;
  if (num(v['max-block-time']) !== undefined) live.globals.maxBlockUs = num(v['max-block-time'])!;
  live.maps.blocked.clear();
  const duration = args.positionals[0] !== undefined ? Number(args.positionals[0]) : undefined;
  (v.folded === true ? process.stderr : process.stdout).write(`Tracing off-CPU time (us) of ${pid !== undefined ? `PID ${pid}` : tid !== undefined ? `TID ${tid}` : 'all threads'} by ${userOnly ? 'user' : kernelOnly ? 'kernel' : 'user + kernel'} stack${duration !== undefined ? ` for ${duration} secs` : '... Hit Ctrl-C to end'}.\n`);
  await new Promise<void>((resolve) => {
    const timer = duration !== undefined ? setTimeout(resolve, duration * 1000) : undefined;
    args.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
  const rows = [...live.maps.blocked].sort((a, b) => a[1] - b[1]);
  const only = userOnly ? 'user' : kernelOnly ? 'kernel' : undefined;
  // Stacks with other ids can name the same functions: folded lines are merged.
  const folded = new Map<string, number>();
  for (const [s, us] of rows) {
    const { lines, folded: line } = live.stacks.stacks.describe(s, { ...(only ? { only } : {}), delimited: v.delimited === true });
    if (v.folded === true) folded.set(line, (folded.get(line) ?? 0) + us);
    else process.stdout.write(`${lines.map((l) => `    ${l}\n`).join('')}    ${'-'.padEnd(16)} ${s.comm} (${s.tid})\n        ${us}\n\n`);
  }
  for (const [line, us] of [...folded].sort((a, b) => a[1] - b[1])) process.stdout.write(`${line} ${us}\n`);
}
