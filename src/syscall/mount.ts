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

const umount2Raw = libc.func('int umount2(const char *target, int flags)');

/** MNT_DETACH: lazy unmount. */
export const MNT_DETACH = 2;

export function umount(target: string, flags = 0): void {
  if ((umount2Raw(target, flags) as number) < 0) throw new SyscallError(`umount ${target}`, lastErrno());
}
