/**
 * A file descriptor owned by one JS object: closed by close(), by
 * `using`/Symbol.dispose, or, as a safety net, when the owner is garbage
 * collected. Using it after close is an ObjectClosedError, never a call on a
 * number that may since have been reused for another file.
 */
import { closeFd } from '../syscall/fd.js';

/**
 * An object was used after close().
 * @example
 * map.close();
 * map.lookup(key);   // throws ObjectClosedError, never touches a reused fd number
 */
export class ObjectClosedError extends Error {
  override readonly name = 'ObjectClosedError';
  readonly code = 'E_CLOSED';
  constructor(what: string) {
    super(`${what} is closed (hint: it was closed explicitly or by 'using'; open or create it again)`);
  }
}

const registry = new FinalizationRegistry<number>((fd) => {
  try {
    closeFd(fd);
  } catch {
    // Nothing to report to at GC time.
  }
});

/**
 * A file descriptor that exactly one object owns and closes once (close(), `using`, or garbage collection as a last resort); any use after close is an ObjectClosedError.
 * @example
 * using stats = new OwnedFd(fd, 'stats fd');   // closed at the end of the scope
 * ioctl(stats.value, ...);                      // .value throws ObjectClosedError after close()
 */
export class OwnedFd {
  #fd: number;

  constructor(fd: number, readonly what: string) {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`${what}: invalid file descriptor ${fd}`);
    this.#fd = fd;
    registry.register(this, fd, this);
  }

  /** The fd number; throws ObjectClosedError after close(). */
  get value(): number {
    if (this.#fd < 0) throw new ObjectClosedError(this.what);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    registry.unregister(this);
    closeFd(fd, `close ${this.what}`);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
