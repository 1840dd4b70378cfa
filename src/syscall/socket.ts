/**
 * Sockets for BPF: socket(2), setsockopt(2) with SO_ATTACH_BPF/SO_DETACH_BPF
 * (and byte-struct options for AF_XDP), bind(2), and if_nametoindex(3).
 */
import { SyscallError } from './bpf.js';
import { lastErrno, libc } from './libc.js';

const socketRaw = libc.func('int socket(int domain, int type, int protocol)');
const setsockoptRaw = libc.func('int setsockopt(int fd, int level, int name, void *value, unsigned int len)');
const ifNameToIndexRaw = libc.func('unsigned int if_nametoindex(const char *name)');

export const AddressFamily = { UNIX: 1, INET: 2, INET6: 10, NETLINK: 16, PACKET: 17, XDP: 44 } as const;
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

const getsockoptRaw = libc.func('int getsockopt(int fd, int level, int name, void *value, _Inout_ unsigned int *len)');

/** setsockopt with a struct value: the kernel reads exactly value.byteLength bytes. */
export function setsockoptBytes(fd: number, level: number, name: number, value: Uint8Array, what = 'setsockopt'): void {
  if ((setsockoptRaw(fd, level, name, value, value.byteLength) as number) < 0) throw new SyscallError(what, lastErrno());
}

/** getsockopt into `out` (the kernel writes at most out.byteLength bytes); returns the length the kernel reported. */
export function getsockoptBytes(fd: number, level: number, name: number, out: Uint8Array, what = 'getsockopt'): number {
  const len = [out.byteLength];
  if ((getsockoptRaw(fd, level, name, out, len) as number) < 0) throw new SyscallError(what, lastErrno());
  return len[0]!;
}

/** The interface index of `name`, or 0 when there is no such interface. */
export function ifNameToIndex(name: string): number {
  if (name.length === 0 || name.length >= 16 || name.includes('\0')) return 0;
  return ifNameToIndexRaw(name) as number;
}

const bindRaw = libc.func('int bind(int fd, void *addr, unsigned int len)');
const getsocknameRaw = libc.func('int getsockname(int fd, void *addr, _Inout_ unsigned int *len)');
const recvRaw = libc.func('long recv(int fd, void *buf, unsigned long len, int flags)');

export const MSG_DONTWAIT = 0x40;

/** bind(fd, sockaddr) with an already encoded address of any family. */
export function bindAddress(fd: number, sockaddr: Uint8Array, what = 'bind'): void {
  if ((bindRaw(fd, sockaddr, sockaddr.byteLength) as number) < 0) throw new SyscallError(what, lastErrno());
}

/** A struct sockaddr_in for a 127.0.0.1-style IPv4 address and a port. */
function sockaddrInet4(address: string, port: number): Uint8Array {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new RangeError(`bad IPv4 address '${address}'`);
  const sa = new Uint8Array(16);
  const v = new DataView(sa.buffer);
  v.setUint16(0, AddressFamily.INET, true);
  v.setUint16(2, port, false);
  sa.set(octets, 4);
  return sa;
}

/** bind(fd, 127.0.0.1-style IPv4 address, port); port 0 picks a free one. Returns the bound port. */
export function bindInet4(fd: number, address: string, port: number): number {
  const sa = sockaddrInet4(address, port);
  const v = new DataView(sa.buffer);
  if ((bindRaw(fd, sa, 16) as number) < 0) throw new SyscallError(`bind ${address}:${port}`, lastErrno());
  const len = [16];
  if ((getsocknameRaw(fd, sa, len) as number) < 0) throw new SyscallError('getsockname', lastErrno());
  return v.getUint16(2, false);
}

const connectRaw = libc.func('int connect(int fd, void *addr, unsigned int len)');
const sendRaw = libc.func('long send(int fd, void *buf, unsigned long len, int flags)');

/** connect(fd, IPv4 address, port): for a datagram socket, the default destination of send. */
export function connectInet4(fd: number, address: string, port: number): void {
  if ((connectRaw(fd, sockaddrInet4(address, port), 16) as number) < 0) throw new SyscallError(`connect ${address}:${port}`, lastErrno());
}

/** send(fd, buf, 0) on a connected socket: the bytes sent. */
export function send(fd: number, buf: Uint8Array): number {
  const n = Number(sendRaw(fd, buf, buf.byteLength, 0));
  if (n < 0) throw new SyscallError('send', lastErrno());
  return n;
}

/** recv(fd, buf, MSG_DONTWAIT): bytes received, or -1 when nothing is waiting (EAGAIN). */
export function recvNonBlocking(fd: number, buf: Uint8Array): number {
  const n = Number(recvRaw(fd, buf, buf.byteLength, MSG_DONTWAIT));
  if (n >= 0) return n;
  const errno = lastErrno();
  if (errno === 11) return -1;
  throw new SyscallError('recv', errno);
}
