/**
 * Probes for the newer ways of attaching, each as cilium/ebpf probes it:
 * BPF_LINK_CREATE with an argument that cannot work, where a kernel that
 * knows the attach type fails for the argument (EBADF, ENODEV, EOPNOTSUPP)
 * and an older one fails for the type (EINVAL). Nothing stays attached.
 */
import { instruction } from '../asm/instruction.js';
import { SyscallError } from '../syscall/bpf.js';
import { Errno } from '../syscall/errno.js';
import { closeFd } from '../syscall/fd.js';
import { Attr, AttachType, ProgType } from '../syscall/layouts.generated.js';
import { nativeCString, NativeBuffer } from '../syscall/memory.js';
import { bpfCommand } from './bpf-call.js';
import { Program, type ProgramSpec } from './program.js';

const ret0 = [instruction(0xb7, 0, 0, 0, 0), instruction(0x95)];
/** XDP_FLAGS_DRV_MODE: native XDP, which the loopback device's driver does not have. */
const XDP_FLAGS_DRV_MODE = 1 << 2;
/** The loopback device is interface 1 in every network namespace. */
const LOOPBACK_IFINDEX = 1;

/**
 * Loads a 2-instruction program of `spec`, runs LINK_CREATE with `fill`, and
 * answers true when the kernel succeeded or failed with one of
 * `supportedErrnos`, false on any other error (EINVAL: an unknown attach
 * type; EOPNOTSUPP: a kernel built without it), except EPERM, which says
 * nothing about the kernel and propagates.
 */
function linkCreateProbe(spec: Omit<ProgramSpec, 'instructions'>, fill: (view: DataView) => void, supportedErrnos: number[]): boolean {
  let prog: Program;
  try {
    prog = Program.load({ ...spec, instructions: ret0, license: 'GPL' });
  } catch (e) {
    if (e instanceof SyscallError && e.errno !== Errno.EPERM) return false;
    throw e;
  }
  try {
    const fd = bpfCommand('LINK_CREATE', Attr.linkCreate.size, (a) => {
      a.view.setUint32(Attr.linkCreate.prog_fd, prog.fd, true);
      fill(a.view);
    }, 'feature probe');
    closeFd(fd);
    return true;
  } catch (e) {
    if (!(e instanceof SyscallError)) throw e;
    if (supportedErrnos.includes(e.errno)) return true;
    if (e.errno === Errno.EPERM) throw e;
    return false;
  } finally {
    prog.close();
  }
}

/** tcx (Linux 6.6): interface 0 does not exist (ENODEV). */
export function probeTcx(): boolean {
  return linkCreateProbe({ type: ProgType.SCHED_CLS }, (v) => {
    v.setUint32(Attr.linkCreate.attach_type, AttachType.TCX_INGRESS, true);
    v.setUint32(Attr.linkCreate.target_ifindex, 0, true);
  }, [Errno.ENODEV]);
}

/**
 * bpf_link for XDP (Linux 5.9): native mode on the loopback device, whose
 * driver has none (EOPNOTSUPP), or EBUSY/EEXIST when lo already runs an
 * XDP program. EOPNOTSUPP here means supported, unlike in other probes.
 */
export function probeXdpLink(): boolean {
  return linkCreateProbe({ type: ProgType.XDP }, (v) => {
    v.setUint32(Attr.linkCreate.attach_type, AttachType.XDP, true);
    v.setUint32(Attr.linkCreate.target_ifindex, LOOPBACK_IFINDEX, true);
    v.setUint32(Attr.linkCreate.flags, XDP_FLAGS_DRV_MODE, true);
  }, [Errno.EOPNOTSUPP, Errno.EBUSY, Errno.EEXIST]);
}

/** bpf_link on a perf event (Linux 5.15): fd -1 is not a perf event (EBADF). */
export function probePerfLink(): boolean {
  return linkCreateProbe({ type: ProgType.TRACEPOINT }, (v) => {
    v.setUint32(Attr.linkCreate.attach_type, AttachType.PERF_EVENT, true);
    v.setInt32(Attr.linkCreate.target_fd, -1, true);
  }, [Errno.EBADF]);
}

/** kprobe_multi (Linux 5.18, CONFIG_FPROBE): one real symbol, attached and closed at once, as cilium/ebpf does. */
export function probeKprobeMulti(): boolean {
  using sym = nativeCString('vprintk');
  using syms = new NativeBuffer(8);
  syms.view.setBigUint64(0, sym.address, true);
  return linkCreateProbe({ type: ProgType.KPROBE, expectedAttachType: AttachType.TRACE_KPROBE_MULTI }, (v) => {
    v.setUint32(Attr.linkCreate.attach_type, AttachType.TRACE_KPROBE_MULTI, true);
    v.setUint32(Attr.linkCreate.kprobe_multi_cnt, 1, true);
    v.setBigUint64(Attr.linkCreate.kprobe_multi_syms, syms.address, true);
  }, []);
}

/** uprobe_multi (Linux 6.6): the path '/' is no file to probe (EBADF). */
export function probeUprobeMulti(): boolean {
  using path = nativeCString('/');
  using offsets = new NativeBuffer(8);
  return linkCreateProbe({ type: ProgType.KPROBE, expectedAttachType: AttachType.TRACE_UPROBE_MULTI }, (v) => {
    v.setUint32(Attr.linkCreate.attach_type, AttachType.TRACE_UPROBE_MULTI, true);
    v.setBigUint64(Attr.linkCreate.uprobe_multi_path, path.address, true);
    v.setBigUint64(Attr.linkCreate.uprobe_multi_offsets, offsets.address, true);
    v.setUint32(Attr.linkCreate.uprobe_multi_cnt, 1, true);
  }, [Errno.EBADF]);
}
