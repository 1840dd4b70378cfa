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

const fcntlRaw = libc.func('int fcntl(int fd, int cmd, int arg)');
const F_DUPFD_CLOEXEC = 1030;

/** A second fd for the same open file (close-on-exec), owned by the caller. */
export function dupFd(fd: number, what = 'dup'): number {
  const r = fcntlRaw(fd, F_DUPFD_CLOEXEC, 0) as number;
  if (r < 0) throw new SyscallError(what, lastErrno());
  return r;
}
