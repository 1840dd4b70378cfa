import { bpf, hashMap, tracepoint, type u32 } from '../../src/dsl/index.js';
export const parents = hashMap<u32, u32>({ maxEntries: 1024 });
export const task_ppid = tracepoint('sched/sched_process_exec', () => {
  parents.update(bpf.pid(), bpf.currentTask().real_parent.tgid);
  return 0;
});
