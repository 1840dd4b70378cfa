/**
 * A hint for a failed bpf() command: what the errno usually means for that
 * command, so that a user knows what to check without reading kernel code.
 */
import { Errno } from './errno.js';

export function hintFor(command: string, errno: number): string | undefined {
  switch (errno) {
    case Errno.EPERM:
      // As root, privilege is not the cause: say what else makes the kernel refuse.
      return isRoot()
        ? 'not permitted although running as root: kernel lockdown, an LSM policy, or a missing kernel feature (e.g. BPF trampolines for fentry/fexit/lsm/struct_ops programs)'
        : 'not permitted: run as root or with CAP_BPF (+CAP_PERFMON/CAP_NET_ADMIN), and check the memlock limit (ulimit -l) on kernels before 5.11';
    case Errno.EACCES:
      return command.includes('PROG_LOAD')
        ? 'the verifier rejected the program or the caller lacks privilege for it'
        : 'access denied: the object is read-only or the caller lacks privilege';
    case Errno.EINVAL:
      return 'invalid argument: a field is out of range, or this kernel is too old for the command, type or flag';
    case Errno.E2BIG:
      if (command.includes('PROG_LOAD')) return 'too large: more than 1M instructions, or the verifier processed more than 1M instructions (simplify loops and branches)';
      return 'too large: key, value, entry count or attribute exceeds what this kernel accepts';
    case Errno.ENOENT:
      return command.includes('GET_FD_BY_ID') || command.includes('OBJ_GET')
        ? 'no such object (id or path does not exist)'
        : 'no such element';
    case Errno.EEXIST:
      return 'the element or path already exists';
    case Errno.ENOMEM:
      return 'out of memory: lower max_entries or raise the memlock limit';
    case Errno.EBADF:
      return 'bad file descriptor: the object was closed or the fd is not a BPF object';
    case Errno.ENOSPC:
      return 'no space: the map is full or the verifier log buffer is too small';
    case Errno.EOPNOTSUPP:
    case Errno.ENOTSUPP:
      return 'operation not supported by this map or program type on this kernel';
    case Errno.ENOSYS:
      return 'the bpf() syscall is not available in this kernel';
    case Errno.EBUSY:
      return 'busy: the object is in use or already attached';
    case Errno.EFAULT:
      if (command.includes('PROG_LOAD')) return 'the verifier gave up (e.g. a sequence of more than 8192 jumps to explore) or a bad address was passed to the kernel';
      return 'bad address passed to the kernel';
    default:
      return undefined;
  }
}

const isRoot = (): boolean => typeof process.geteuid === 'function' && process.geteuid() === 0;
