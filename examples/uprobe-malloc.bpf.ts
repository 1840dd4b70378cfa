/**
 * A uprobe on libc's malloc: calls and requested bytes per process id.
 *   sudo npx tsbpf run examples/uprobe-malloc.bpf.ts --duration 5
 */
import { bpf, hashMap, type u32, type u64, uprobe } from 'tsbpf/dsl';

export interface Usage {
  calls: u64;
  bytes: u64;
}

export const mallocByPid = hashMap<u32, Usage>({ maxEntries: 4096 });

export const onMalloc = uprobe('libc.so.6', 'malloc', (ctx) => {
  const pid = bpf.pid();
  const size = ctx.arg(0);
  const usage = mallocByPid.lookup(pid);
  if (usage === null) {
    mallocByPid.update(pid, { calls: 1, bytes: size });
    return 0;
  }
  usage.calls += 1;
  usage.bytes += size;
  return 0;
});
