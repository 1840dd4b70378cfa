/**
 * oomkill: every OOM kill, with the task that triggered it (the one
 * allocating when memory ran out) and the victim, as bcc's oomkill prints
 * them. bcc probes oom_kill_process; this kernel has no kprobes, so this
 * port uses the oom:mark_victim tracepoint, which runs in the triggering
 * task when the victim is chosen and gives the victim's pid, name and
 * memory (in kB).
 *   sudo npx tsbpf run examples/tools/oomkill.bpf.ts
 */
import { bpf, ringBuf, tracepoint, type CStr, type i32, type u32, type u64 } from 'tsbpf/dsl';
import type { LiveModule } from 'tsbpf';
import { readFileSync } from 'node:fs';
import type * as oomkill from './oomkill.bpf.js';

export interface Kill {
  /** The task that triggered the OOM killer. */
  triggerPid: u32;
  victimPid: i32;
  /** The victim's memory when it was chosen, in kB. */
  totalVm: u64;
  anonRss: u64;
  triggerComm: CStr<16>;
  victimComm: CStr<16>;
}

export const kills = ringBuf<Kill>({ size: 64 * 1024 });

export const onMarkVictim = tracepoint('oom/mark_victim', (ctx) => {
  const e = kills.reserve();
  if (e === null) return 0;
  e.triggerPid = bpf.pid();
  e.victimPid = ctx.pid;
  e.totalVm = ctx.total_vm;
  e.anonRss = ctx.anon_rss;
  bpf.currentComm(e.triggerComm);
  bpf.probeReadKernelStr(e.victimComm, ctx.comm);
  kills.submit(e);
  return 0;
});

/** bcc's line per kill: time, triggering and killed pid and name, the victim's size, the load average. */
export async function main(live: LiveModule<typeof oomkill>): Promise<void> {
  process.stdout.write('Tracing OOM kills... Ctrl-C to stop.\n');
  for await (const e of live.events.kills) {
    const time = new Date().toTimeString().slice(0, 8);
    let loadavg = '';
    try {
      loadavg = `, loadavg: ${readFileSync('/proc/loadavg', 'utf8').trim()}`;
    } catch {
      // No /proc/loadavg: the line without it.
    }
    process.stdout.write(`${time} Triggered by PID ${e.triggerPid} ("${e.triggerComm}"), OOM kill of PID ${e.victimPid} ("${e.victimComm}"), ${e.totalVm} kB total-vm, ${e.anonRss} kB anon-rss${loadavg}\n`);
  }
}
