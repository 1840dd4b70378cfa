/**
 * runqlat: how long runnable tasks wait for a CPU (run queue latency), as a
 * log2 histogram in microseconds, like bcc's runqlat. BTF tracepoints
 * (tp_btf) give the tasks as typed pointers; their pid and state are read
 * through CO-RE.
 *   sudo npx tsbpf run examples/tools/runqlat.bpf.ts [--set targetTgid=PID] [--set inMilliseconds=1] -- [--interval S [--count N]]
 */
import { bpf, hashMap, log2Hist, rodata, tpBtf, type bool, type Ptr, type u32, type u64 } from 'tsbpf/dsl';
import type { task_struct } from 'tsbpf/dsl/kernel';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as runqlat from './runqlat.bpf.js';

/** Only this process's threads (0: every task): `--set targetTgid=PID` (bcc's -p). */
export const targetTgid = rodata<u32>(0);
/** 1: milliseconds instead of microseconds: `--set inMilliseconds=1` (bcc's -m). */
export const inMilliseconds = rodata<u32>(0);

/** When each task (by tid) was made runnable. */
const enqueued = hashMap<u32, u64>({ maxEntries: 10240 });
export const runqLatency = log2Hist();

function enqueue(task: Ptr<task_struct>): void {
  const tid = task.pid;
  if (tid === 0) return;
  if (targetTgid.get() !== 0 && task.tgid !== targetTgid.get()) return;
  enqueued.update(tid, bpf.ktimeNs());
}

export const onWakeup = tpBtf('sched_wakeup', (p: Ptr<task_struct>) => {
  enqueue(p);
  return 0;
});

export const onWakeupNew = tpBtf('sched_wakeup_new', (p: Ptr<task_struct>) => {
  enqueue(p);
  return 0;
});

export const onSwitch = tpBtf('sched_switch', (preempt: bool, prev: Ptr<task_struct>, next: Ptr<task_struct>) => {
  // A task switched out while still runnable (preempted) waits on the run queue again.
  if (prev.__state === 0) enqueue(prev);
  const tid = next.pid;
  const since = enqueued.lookup(tid);
  if (since === null) return 0;
  const delta = bpf.ktimeNs() - since;
  enqueued.delete(tid);
  runqLatency.record(inMilliseconds.get() !== 0 ? delta / 1000000 : delta / 1000);
  return 0;
});

export const options = {
  interval: { type: 'string' },
  count: { type: 'string' },
} as const;

/** bcc's runqlat: the histogram at Ctrl-C, or every --interval seconds (--count times). */
export async function main(live: LiveModule<typeof runqlat>, args: ModuleArgs): Promise<void> {
  const interval = typeof args.values.interval === 'string' ? Number(args.values.interval) : undefined;
  const count = typeof args.values.count === 'string' ? Number(args.values.count) : Infinity;
  const unit = live.globals.inMilliseconds !== 0 ? 'msecs' : 'usecs';
  process.stdout.write(`Tracing run queue latency... ${interval ? `printing every ${interval}s` : 'Hit Ctrl-C to end'}.\n`);
  const print = () => process.stdout.write(`\n${unit}\n${live.histograms.runqLatency.format()}\n`);
  for await (const _ of args.reports(interval, count)) {
    print();
    live.histograms.runqLatency.clear();
  }
}
