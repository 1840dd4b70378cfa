/**
 * BPF_ENABLE_STATS: while the returned handle is open, the kernel counts
 * every program run (run_cnt) and its time (run_time_ns) in program info,
 * as `sysctl kernel.bpf_stats_enabled=1` does.
 */
import { Attr } from '../syscall/layouts.generated.js';
import { bpfCommand } from './bpf-call.js';
import { OwnedFd } from './owned-fd.js';

/** BPF_STATS_RUN_TIME: the only stats type so far. */
const STATS_RUN_TIME = 0;

/**
 * Turns on run-time statistics (BPF_ENABLE_STATS) until the returned fd is closed: run_cnt and run_time_ns in program info.
 * @example
 * using stats = enableRunStats();
 * console.log(prog.info().runCount, prog.info().runTimeNs);
 */
export function enableRunStats(): OwnedFd {
  const fd = bpfCommand('ENABLE_STATS', Attr.enableStats.size, (a) => a.view.setUint32(Attr.enableStats.type, STATS_RUN_TIME, true), 'run time');
  return new OwnedFd(fd, 'BPF run-time stats');
}
