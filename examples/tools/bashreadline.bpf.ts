/**
 * bashreadline: every command line typed into bash, system-wide (a return
 * probe on bash's readline() reads the line it returns), as bcc's
 * bashreadline prints it.
 *   sudo npx tsbpf run examples/tools/bashreadline.bpf.ts [--set ...] -- [--shell /bin/bash]
 */
import { bpf, ringBuf, uretprobe, type CStr, type u32 } from 'tsbpf/dsl';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as bashreadline from './bashreadline.bpf.js';

export interface Line {
  pid: u32;
  comm: CStr<16>;
  line: CStr<120>;
}

export const lines = ringBuf<Line>({ size: 256 * 1024 });

export const onReadline = uretprobe('/bin/bash', 'readline', (ctx) => {
  const text = ctx.ret();
  if (text === 0) return 0;
  const e = lines.reserve();
  if (e === null) return 0;
  e.pid = bpf.pid();
  bpf.currentComm(e.comm);
  bpf.probeReadUserStr(e.line, text);
  lines.submit(e);
  return 0;
});

/** Columns as bcc's bashreadline: TIME PID COMMAND. */
export async function main(live: LiveModule<typeof bashreadline>, _args: ModuleArgs): Promise<void> {
  process.stdout.write(`${'TIME'.padEnd(9)}${'PID'.padStart(7)}  COMMAND\n`);
  for await (const e of live.events.lines) {
    process.stdout.write(`${new Date().toTimeString().slice(0, 8)} ${String(e.pid).padStart(7)}  ${e.line}\n`);
  }
}
