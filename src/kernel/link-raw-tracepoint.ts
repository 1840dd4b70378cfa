/** Raw tracepoint links (BPF_RAW_TRACEPOINT_OPEN): the tracepoint's raw arguments, no perf event. */
import { SyscallError } from '../syscall/bpf.js';
import { Attr } from '../syscall/layouts.generated.js';
import { nativeCString } from '../syscall/memory.js';
import { bpfCommand } from './bpf-call.js';
import { LinkError } from './link-error.js';
import { FdLink, type ProgramLike } from './link.js';

/**
 * Attaches a BPF_PROG_TYPE_RAW_TRACEPOINT program to raw tracepoint `name` (e.g. 'sys_enter', 'sched_switch').
 * @example
 * using link = attachRawTracepoint(prog, 'sys_enter');   // a RAW_TRACEPOINT program on every system call
 */
export function attachRawTracepoint(program: ProgramLike, name: string, options: { cookie?: bigint } = {}): FdLink {
  if (name === '' || name.includes('/')) {
    throw new LinkError('EBADARG', `raw tracepoint '${name}' must be a bare tracepoint name`, name, "e.g. 'sys_enter', not 'raw_syscalls/sys_enter'");
  }
  using str = nativeCString(name);
  try {
    const fd = bpfCommand('RAW_TRACEPOINT_OPEN', Attr.rawTracepoint.size, (a) => {
      a.view.setBigUint64(Attr.rawTracepoint.name, str.address, true);
      a.view.setUint32(Attr.rawTracepoint.prog_fd, program.fd, true);
      if (options.cookie !== undefined) a.view.setBigUint64(Attr.rawTracepoint.cookie, options.cookie, true);
    }, `raw tracepoint ${name}`);
    return new FdLink('raw-tracepoint', fd, [fd], name);
  } catch (err) {
    if (err instanceof SyscallError && err.errno === 2) {
      throw new LinkError('ENOTRACEPOINT', `no raw tracepoint '${name}'`, name, 'the name is the tracepoint without its category, as in /sys/kernel/tracing/events/*/NAME', { cause: err });
    }
    throw err;
  }
}
