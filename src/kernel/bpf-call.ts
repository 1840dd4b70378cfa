/**
 * The cold-path bpf() call: fill the scratch attr with `fill`, run the
 * command, turn a failure into a SyscallError named after the command.
 * `after` reads fields the kernel wrote back before the scratch is reused.
 */
import { scratchAttr } from '../syscall/attr.js';
import { bpfSyscall } from '../syscall/bpf.js';
import type { NativeBuffer } from '../syscall/memory.js';
import { BpfCommand } from '../syscall/layouts.generated.js';

export type CommandName = keyof typeof BpfCommand;

export function bpfCommand(
  cmd: CommandName,
  size: number,
  fill: (attr: NativeBuffer) => void,
  what?: string,
  after?: (attr: NativeBuffer) => void,
): number {
  const attr = scratchAttr();
  fill(attr);
  const r = bpfSyscall(BpfCommand[cmd], attr, size, what ? `BPF_${cmd} (${what})` : `BPF_${cmd}`);
  after?.(attr);
  return r;
}
