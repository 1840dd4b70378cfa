/**
 * Sockets for BPF: socket(2), setsockopt(2) with SO_ATTACH_BPF/SO_DETACH_BPF,
 * and if_nametoindex(3).
 */
import { SyscallError } from './bpf.js';
import { lastErrno, libc } from './libc.js';

const socketRaw = libc.func('int socket(int domain, int type, int protocol)');
const setsockoptRaw = libc.func('int setsockopt(int fd, int level, int name, void *value, unsigned int len)');
const ifNameToIndexRaw = libc.func('unsigned int if_nametoindex(const char *name)');

export const AddressFamily = { UNIX: 1, INET: 2, INET6: 10, NETLINK: 16, PACKET: 17 } as const;
export const SocketType = { STREAM: 1, DGRAM: 2, RAW: 3, SEQPACKET: 5, CLOEXEC: 0x80000, NONBLOCK: 0x800 } as const;
export const SOL_SOCKET = 1;
export const SocketOption = { ATTACH_FILTER: 26, DETACH_FILTER: 27, ATTACH_BPF: 50, DETACH_BPF: 27, ATTACH_REUSEPORT_EBPF: 52 } as const;

export function socket(domain: number, type: number, protocol: number): number {
  const fd = socketRaw(domain, type | SocketType.CLOEXEC, protocol) as number;
  if (fd < 0) throw new SyscallError('socket', lastErrno());
  return fd;
}

/** setsockopt with an int value. */
export function setsockoptInt(fd: number, level: number, name: number, value: number, what = 'setsockopt'): void {
  const buf = new Int32Array([value]);
  if ((setsockoptRaw(fd, level, name, buf, 4) as number) < 0) {
    const errno = lastErrno();
    throw new SyscallError(what, errno, errno === 9 ? 'not an open file descriptor' : errno === 88 ? 'not a socket' : undefined);
  }
}

/** The interface index of `name`, or 0 when there is no such interface. */
export function ifNameToIndex(name: string): number {
  if (name.length === 0 || name.length >= 16 || name.includes('\0')) return 0;
  return ifNameToIndexRaw(name) as number;
}
