/** close(2) and fd counting, shared by every object that owns a file descriptor. */
import { SyscallError } from './bpf.js';
import { lastErrno, libc } from './libc.js';

const closeRaw = libc.func('int close(int fd)');

/** Closes `fd`; EINTR is not retried (Linux releases the fd anyway). */
export function closeFd(fd: number, what = 'close'): void {
  if ((closeRaw(fd) as number) < 0) {
    const errno = lastErrno();
    if (errno !== 4) throw new SyscallError(what, errno);
  }
}
