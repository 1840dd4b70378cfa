/**
 * epoll(7) and eventfd(2) for reader wakeups.
 *
 * Waiting must not block Node's event loop, so `epollWaitAsync` runs
 * epoll_wait on koffi's worker pool (`fn.async`): the main thread stays free
 * and the wakeup costs one thread hand-off (tens of microseconds), much less
 * than polling on a timer would add, and no CPU is burnt while idle. The
 * pool is small, so src/kernel/poller.ts keeps every reader in one epoll set
 * with a single wait in flight; an eventfd in the set wakes that wait when
 * it is no longer needed.
 */
import { SyscallError } from './bpf.js';
import { lastErrno, libc } from './libc.js';
import { NativeBuffer } from './memory.js';

const epollCreate1Raw = libc.func('int epoll_create1(int flags)');
const epollCtlRaw = libc.func('int epoll_ctl(int epfd, int op, int fd, void *event)');
const epollWaitRaw = libc.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)');
const eventfdRaw = libc.func('int eventfd(unsigned int initval, int flags)');
const writeRaw = libc.func('long write(int fd, void *buf, unsigned long count)');
const readRaw = libc.func('long read(int fd, void *buf, unsigned long count)');

export const EPOLL_CLOEXEC = 0x80000;
export const EpollOp = { ADD: 1, DEL: 2, MOD: 3 } as const;
export const EpollEvents = { IN: 0x001, PRI: 0x002, OUT: 0x004, ERR: 0x008, HUP: 0x010, RDHUP: 0x2000, ET: 1 << 31 } as const;
export const EFD_CLOEXEC = 0x80000;
export const EFD_NONBLOCK = 0x800;

/** struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16). */
export const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

export function epollCreate(): number {
  const fd = epollCreate1Raw(EPOLL_CLOEXEC) as number;
  if (fd < 0) throw new SyscallError('epoll_create1', lastErrno());
  return fd;
}

/** Adds/modifies/removes `fd` with the given events; `data` comes back from wait. */
export function epollCtl(epfd: number, op: number, fd: number, events: number, data: number): void {
  const ev = new Uint8Array(EPOLL_EVENT_SIZE);
  const v = new DataView(ev.buffer);
  v.setUint32(0, events >>> 0, true);
  v.setBigUint64(DATA_OFFSET, BigInt(data), true);
  if ((epollCtlRaw(epfd, op, fd, ev) as number) < 0) throw new SyscallError('epoll_ctl', lastErrno());
}

/** The result buffer of an epoll wait: `count` entries of (events, data). */
export class EpollEventBuffer {
  readonly native: NativeBuffer;
  constructor(readonly capacity: number) {
    this.native = new NativeBuffer(capacity * EPOLL_EVENT_SIZE);
  }
  events(i: number): number {
    return this.native.view.getUint32(i * EPOLL_EVENT_SIZE, true);
  }
  data(i: number): number {
    return Number(this.native.view.getBigUint64(i * EPOLL_EVENT_SIZE + DATA_OFFSET, true));
  }
  free(): void {
    this.native.free();
  }
}

/** Non-blocking (timeout 0) or blocking wait on the calling thread. EINTR → 0. */
export function epollWait(epfd: number, out: EpollEventBuffer, timeoutMs: number): number {
  const n = epollWaitRaw(epfd, out.native.pointer, out.capacity, timeoutMs) as number;
  if (n < 0) {
    const errno = lastErrno();
    if (errno === 4) return 0;
    throw new SyscallError('epoll_wait', errno);
  }
  return n;
}

/** epoll_wait on koffi's worker pool: resolves with the number of ready entries (0 on timeout/EINTR). */
export function epollWaitAsync(epfd: number, out: EpollEventBuffer, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    epollWaitRaw.async(epfd, out.native.pointer, out.capacity, timeoutMs, (err: unknown, n: number) => {
      if (err) reject(err);
      else if (n < 0) resolve(0); // EINTR or the epoll fd closed under us: the caller re-checks its state
      else resolve(n);
    });
  });
}

/** A non-blocking eventfd for waking a waiter. */
export function eventfdCreate(): number {
  const fd = eventfdRaw(0, EFD_CLOEXEC | EFD_NONBLOCK) as number;
  if (fd < 0) throw new SyscallError('eventfd', lastErrno());
  return fd;
}

const one = new Uint8Array(8);
new DataView(one.buffer).setBigUint64(0, 1n, true);
const sink = new Uint8Array(8);

export function eventfdSignal(fd: number): void {
  writeRaw(fd, one, 8);
}

export function eventfdDrain(fd: number): void {
  readRaw(fd, sink, 8);
}
