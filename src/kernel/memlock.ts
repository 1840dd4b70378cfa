/**
 * Kernels before 5.11 charge BPF maps, programs and BTF to RLIMIT_MEMLOCK
 * (newer ones charge the memory cgroup), and its default (64 KiB, later
 * 8 MiB) is too small for a real object: creation fails with EPERM. Like
 * libbpf, tsbpf lifts the limit once per process, and only on those kernels.
 * The test is cilium/ebpf's: with the limit at zero, creating a tiny map
 * succeeds only where memory is charged to the cgroup.
 */
import { SyscallError } from '../syscall/bpf.js';
import { closeFd } from '../syscall/fd.js';
import { Attr, MapType } from '../syscall/layouts.generated.js';
import { getResourceLimit, RLIM_INFINITY, Rlimit, setResourceLimit } from '../syscall/rlimit.js';
import { bpfCommand } from './bpf-call.js';

let settled = false;

/** Whether bpf memory is charged to the memory cgroup (5.11+) rather than RLIMIT_MEMLOCK. */
function chargedToCgroup(): boolean | undefined {
  const old = getResourceLimit(Rlimit.MEMLOCK);
  setResourceLimit(Rlimit.MEMLOCK, { soft: 0n, hard: old.hard });
  try {
    const fd = bpfCommand('MAP_CREATE', Attr.mapCreate.size, (a) => {
      a.view.setUint32(Attr.mapCreate.map_type, MapType.ARRAY, true);
      a.view.setUint32(Attr.mapCreate.key_size, 4, true);
      a.view.setUint32(Attr.mapCreate.value_size, 4, true);
      a.view.setUint32(Attr.mapCreate.max_entries, 1, true);
    }, 'memlock probe');
    closeFd(fd);
    return true;
  } catch (e) {
    if (e instanceof SyscallError && e.errno === 1) return false; // EPERM: charged to the (zero) memlock limit
    return undefined; // no privilege or no bpf(): the caller's own call will say why
  } finally {
    setResourceLimit(Rlimit.MEMLOCK, old);
  }
}

/**
 * Called before creating a map, program or BTF object: on a kernel that
 * charges RLIMIT_MEMLOCK, raises it to unlimited (as libbpf does). Failing
 * to raise it (no privilege) is left to the creation itself to report.
 */
export function liftMemlockIfCharged(): void {
  if (settled) return;
  settled = true;
  try {
    if (getResourceLimit(Rlimit.MEMLOCK).soft === RLIM_INFINITY) return;
    if (chargedToCgroup() !== false) return;
    setResourceLimit(Rlimit.MEMLOCK, { soft: RLIM_INFINITY, hard: RLIM_INFINITY });
  } catch {
    // Not allowed to change the limit: creating the object fails with EPERM and its hint names ulimit -l.
  }
}
