/**
 * mmap(2)/munmap(2) as a MappedMemory object: an ArrayBuffer view over a
 * mapping (ring buffers, perf rings, BPF_F_MMAPABLE arrays).
 *
 * Unmapping while JS still holds views into the memory would turn a stale
 * view into a segfault, and JS cannot be stopped from writing to an
 * ArrayBuffer. So close() does not munmap: it replaces the range in place
 * with private anonymous read-write memory (MAP_FIXED; the kernel object is
 * released, stale views read zeros and writes to them land in memory of our
 * own, whatever the original protection was), and the address range itself
 * is returned with munmap once the ArrayBuffer is garbage collected.
 *
 * A mapping made without PROT_WRITE is still a trap while open: a write
 * through its ArrayBuffer kills the process with SIGSEGV. Code above this
 * layer never hands such a buffer to a user except through an API named
 * `unsafe...`.
 */
import { SyscallError } from './bpf.js';
import { koffi, lastErrno, libc } from './libc.js';

const mmapRaw = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)');
const munmapRaw = libc.func('int munmap(void *addr, size_t length)');

export const Prot = { NONE: 0, READ: 1, WRITE: 2, EXEC: 4 } as const;
export const MapFlags = { SHARED: 0x01, PRIVATE: 0x02, FIXED: 0x10, ANONYMOUS: 0x20 } as const;

const MAP_FAILED = 0xffffffffffffffffn;

let cachedPageSize = 0;
/** The system page size (from getpagesize(3)). */
export function pageSize(): number {
  if (cachedPageSize === 0) cachedPageSize = libc.func('int getpagesize(void)')() as number;
  return cachedPageSize;
}

/** Raw mmap: returns koffi's pointer, throws a SyscallError on MAP_FAILED. */
export function mmapPointer(addr: unknown, length: number, prot: number, flags: number, fd: number, offset: number, what = 'mmap'): unknown {
  const p = mmapRaw(addr, length, prot, flags, fd, offset);
  if (p === null || koffi.address(p) === MAP_FAILED) {
    const errno = lastErrno();
    throw new SyscallError(what, errno, errno === 1 || errno === 13 ? 'the object does not allow this mapping (e.g. writing a read-only page)' : errno === 22 ? 'bad length, offset or flags for this object' : undefined);
  }
  return p;
}

const unmapper = new FinalizationRegistry<{ pointer: unknown; length: number }>((m) => {
  munmapRaw(m.pointer, m.length);
});

export class MappedMemory {
  readonly buffer: ArrayBuffer;
  readonly pointer: unknown;
  readonly address: bigint;
  /** Mapped with PROT_WRITE: writing through `buffer` is safe. Without it a write kills the process. */
  readonly writable: boolean;
  #closed = false;

  constructor(readonly length: number, prot: number, flags: number, fd: number, offset: number, what = 'mmap') {
    if (!Number.isInteger(length) || length <= 0) throw new RangeError(`${what}: length must be a positive integer, got ${length}`);
    this.writable = (prot & Prot.WRITE) !== 0;
    this.pointer = mmapPointer(null, length, prot, flags, fd, offset, what);
    this.address = koffi.address(this.pointer);
    this.buffer = koffi.view(this.pointer, length) as ArrayBuffer;
    unmapper.register(this.buffer, { pointer: this.pointer, length });
  }

  /** An anonymous private mapping (memory of our own, page aligned). */
  static anonymous(length: number, prot = Prot.READ | Prot.WRITE): MappedMemory {
    return new MappedMemory(length, prot, MapFlags.PRIVATE | MapFlags.ANONYMOUS, -1, 0, 'mmap anonymous');
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Releases the mapped object; stale views read zeros and may be written (see above). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    mmapPointer(this.pointer, this.length, Prot.READ | Prot.WRITE, MapFlags.PRIVATE | MapFlags.ANONYMOUS | MapFlags.FIXED, -1, 0, 'munmap (replace)');
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
