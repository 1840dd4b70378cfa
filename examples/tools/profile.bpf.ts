/**
 * profile: a sampling CPU profiler, like bcc's profile: a perf event
 * program runs on every CPU 99 times a second, records the kernel and user
 * stacks it interrupted in a stack-trace map and counts each
 * (process, kernel stack, user stack); at the end the stacks are printed
 * with their functions' names (kernel through /proc/kallsyms, user through
 * the process's mappings and ELF symbols), least frequent first.
 *   sudo npx tsbpf run examples/tools/profile.bpf.ts -- [-p PID] [-U | -K] [-I] [-f] [-d] [DURATION]
 */
import { bpf, global, hashMap, i32, perfEvent, stackTraceMap, StackFlags, type CStr, type u32, type u64 } from 'tsbpf/dsl';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as profile from './profile.bpf.js';

export interface Sample {
  pid: u32;
  /** Stack ids in `stacks`; negative: none (-EFAULT: no stack of that kind, e.g. the kernel's in user mode). */
  kernelStack: i32;
  userStack: i32;
  comm: CStr<16>;
}

/** Only this process (0: all); -p. Main sets these once attached, as bcc sets its rodata. */
export const targetTgid = global<u32>(0);
/** 1: the idle task too (-I). */
export const includeIdle = global<u32>(0);
/** 1: user stacks only (-U); 2: kernel stacks only (-K). */
export const onlyStacks = global<u32>(0);

export const stacks = stackTraceMap({ maxEntries: 16384 });
export const samples = hashMap<Sample, u64>({ maxEntries: 16384 });

export const onSample = perfEvent((ctx) => {
  const pid = bpf.pid();
  if (includeIdle.get() === 0 && bpf.tid() === 0) return 0;
  if (targetTgid.get() !== 0 && pid !== targetTgid.get()) return 0;
  let s!: Sample;
  s.pid = pid;
  s.kernelStack = onlyStacks.get() === 1 ? -1 : i32(stacks.getId(ctx, 0));
  s.userStack = onlyStacks.get() === 2 ? -1 : i32(stacks.getId(ctx, StackFlags.USER));
  bpf.currentComm(s.comm);
  samples.increment(s);
  return 0;
});

export const options = {
  pid: { type: 'string', short: 'p' },
  'user-stacks-only': { type: 'boolean', short: 'U' },
  'kernel-stacks-only': { type: 'boolean', short: 'K' },
  'include-idle': { type: 'boolean', short: 'I' },
  folded: { type: 'boolean', short: 'f' },
  delimited: { type: 'boolean', short: 'd' },
} as const;

/** bcc's profile: the stacks when DURATION seconds have passed or at Ctrl-C, multi-line (or -f folded, one line each). */
export async function main(live: LiveModule<typeof profile>, args: ModuleArgs): Promise<void> {
  const v = args.values;
  const pid = typeof v.pid === 'string' ? Number(v.pid) : undefined;
  if (pid !== undefined) live.globals.targetTgid = pid;
  if (v['include-idle'] === true) live.globals.includeIdle = 1;
  const userOnly = v['user-stacks-only'] === true;
  const kernelOnly = v['kernel-stacks-only'] === true;
  if (userOnly && kernelOnly) throw new Error('-U and -K: choose one');
  live.globals.onlyStacks = userOnly ? 1 : kernelOnly ? 2 : 0;
  // What was sampled before the settings took effect.
  live.maps.samples.clear();
  const duration = args.positionals[0] !== undefined ? Number(args.positionals[0]) : undefined;
  // Folded output is for flame graph scripts: the header goes to stderr then.
  (v.folded === true ? process.stderr : process.stdout).write(`Sampling at 99 Hertz of ${pid !== undefined ? `PID ${pid}` : 'all threads'} by ${userOnly ? 'user' : kernelOnly ? 'kernel' : 'user + kernel'} stack${duration !== undefined ? ` for ${duration} secs` : '... Hit Ctrl-C to end'}.\n`);
  await new Promise<void>((resolve) => {
    const timer = duration !== undefined ? setTimeout(resolve, duration * 1000) : undefined;
    args.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
  const rows = [...live.maps.samples].sort((a, b) => a[1] - b[1]);
  const only = userOnly ? 'user' : kernelOnly ? 'kernel' : undefined;
  // Stacks with other ids can name the same functions: folded lines are merged.
  const folded = new Map<string, number>();
  for (const [s, count] of rows) {
    const { lines, folded: line } = live.stacks.stacks.describe(s, { ...(only ? { only } : {}), delimited: v.delimited === true });
    if (v.folded === true) folded.set(line, (folded.get(line) ?? 0) + count);
    else process.stdout.write(`${lines.map((l) => `    ${l}\n`).join('')}    ${'-'.padEnd(16)} ${s.comm} (${s.pid})\n        ${count}\n\n`);
  }
  for (const [line, count] of [...folded].sort((a, b) => a[1] - b[1])) process.stdout.write(`${line} ${count}\n`);
}
