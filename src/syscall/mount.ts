/** mount(2), for bpffs and tracefs. */
import { SyscallError } from './bpf.js';
import { lastErrno, libc } from './libc.js';

const mountRaw = libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)');

export function mount(source: string, target: string, fstype: string, flags = 0, data: string | null = null): void {
  if ((mountRaw(source, target, fstype, flags, data) as number) < 0) {
    const errno = lastErrno();
    throw new SyscallError(`mount ${fstype} on ${target}`, errno, errno === 1 ? 'mounting needs root (CAP_SYS_ADMIN)' : errno === 19 ? `this kernel has no ${fstype} filesystem` : undefined);
  }
}
