/**
 * killsnoop: every kill(2) with the sender, the signal, the target and the
 * result, as bcc's killsnoop prints them.
 *   sudo npx tsbpf run examples/tools/killsnoop.bpf.ts -- [--name COMM] [--failed] [--signal N]
 */
import { bpf, hashMap, i32, ringBuf, tracepoint, type CStr, type u32 } from 'tsbpf/dsl';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as killsnoop from './killsnoop.bpf.js';

export interface Kill {
  pid: u32;
  tpid: i32;
  sig: i32;
  /** 0, or -errno. */
  ret: i32;
  comm: CStr<16>;
}

interface Pending {
  tpid: i32;
  sig: i32;
}

export const kills = ringBuf<Kill>({ size: 256 * 1024 });
const pending = hashMap<u32, Pending>({ maxEntries: 10240 });

export const onKill = tracepoint('syscalls/sys_enter_kill', (ctx) => {
  pending.update(bpf.tid(), { tpid: i32(ctx.pid), sig: i32(ctx.sig) });
  return 0;
});

export const onKillReturn = tracepoint('syscalls/sys_exit_kill', (ctx) => {
  const tid = bpf.tid();
  const p = pending.lookup(tid);
  if (p === null) return 0;
  const e = kills.reserve();
  if (e !== null) {
    e.pid = bpf.pid();
    e.tpid = p.tpid;
    e.sig = p.sig;
    e.ret = i32(ctx.ret);
    bpf.currentComm(e.comm);
    kills.submit(e);
  }
  pending.delete(tid);
  return 0;
});

export const options = {
  name: { type: 'string' },
  failed: { type: 'boolean', short: 'x' },
  signal: { type: 'string', short: 's' },
} as const;

/** Columns as bcc's killsnoop: TIME PID COMM SIG TPID RESULT. */
export async function main(live: LiveModule<typeof killsnoop>, args: ModuleArgs): Promise<void> {
  const name = typeof args.values.name === 'string' ? args.values.name : undefined;
  const signal = typeof args.values.signal === 'string' ? Number(args.values.signal) : undefined;
  process.stdout.write(`${'TIME'.padEnd(9)}${'PID'.padStart(7)}  ${'COMM'.padEnd(16)} ${'SIG'.padStart(4)} ${'TPID'.padStart(7)} RESULT\n`);
  for await (const e of live.events.kills) {
    if (name !== undefined && !e.comm.includes(name)) continue;
    if (args.values.failed === true && e.ret === 0) continue;
    if (signal !== undefined && e.sig !== signal) continue;
    const time = new Date().toTimeString().slice(0, 8);
    process.stdout.write(`${time} ${String(e.pid).padStart(7)}  ${e.comm.padEnd(16)} ${String(e.sig).padStart(4)} ${String(e.tpid).padStart(7)} ${e.ret}\n`);
  }
}
