/**
 * Links of BTF-typed tracing programs: tp_btf, fentry/fexit/fmod_ret, lsm
 * and freplace. The attach point was fixed at load (attach_btf_id), so
 * attaching needs only the program: BPF_RAW_TRACEPOINT_OPEN without a name.
 */
import { SyscallError } from '../syscall/bpf.js';
import { Attr } from '../syscall/layouts.generated.js';
import { bpfCommand } from './bpf-call.js';
import { LinkError } from './link-error.js';
import { FdLink, type ProgramLike } from './link.js';

/**
 * Attaches a TRACING/LSM/EXT program loaded with attachBtfId (and expectedAttachType).
 * @example
 * using prog = Program.load({ type: 'tracing', expectedAttachType: 'trace_raw_tp', attachBtfId, instructions });
 * using link = attachTracing(prog);   // tp_btf/sched_switch, fentry ...
 */
export function attachTracing(program: ProgramLike, label = program.name ?? 'tracing program', options: { cookie?: bigint } = {}): FdLink {
  try {
    const fd = bpfCommand('RAW_TRACEPOINT_OPEN', Attr.rawTracepoint.size, (a) => {
      a.view.setUint32(Attr.rawTracepoint.prog_fd, program.fd, true);
      if (options.cookie !== undefined) a.view.setBigUint64(Attr.rawTracepoint.cookie, options.cookie, true);
    }, `tracing ${label}`);
    return new FdLink('tracing', fd, [fd], label);
  } catch (err) {
    if (err instanceof SyscallError && (err.errno === 524 || err.errno === 95)) {
      throw new LinkError('ENOTSUP', `cannot attach ${label}: this kernel has no BPF trampoline for it`, label, 'fentry/fexit/fmod_ret/lsm need CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS (and lsm CONFIG_BPF_LSM); tp_btf needs only BTF', { cause: err });
    }
    throw err;
  }
}
