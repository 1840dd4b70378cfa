/**
 * One epoll instance for every reader in the process, waited on by a single
 * koffi worker thread.
 *
 * Why: a blocking epoll_wait on the main thread would freeze Node, so the
 * wait runs on koffi's async pool (`fn.async`). That pool has only a few
 * threads (about one per core): one blocking wait per reader would let two
 * idle readers hold every worker, and a third reader's wakeup, or any other
 * async FFI call, would queue behind them. Here all readers' fds sit in one
 * epoll set (EPOLLONESHOT, re-armed by each wait), one worker waits at a
 * time, and readiness is dispatched to the waiting reader on the main
 * thread. The worker is only busy while some reader is actually waiting, so
 * an idle process can exit, and an eventfd wakes it when the last waiter
 * goes away. Cost of a wakeup: one thread hand-off (tens of microseconds);
 * readers drain synchronously first and only wait when empty.
 */
import { closeFd } from '../syscall/fd.js';
import {
  EpollEventBuffer, EpollEvents, EpollOp, epollCreate, epollCtl, epollWaitAsync, eventfdCreate, eventfdDrain, eventfdSignal,
} from '../syscall/epoll.js';

const WAKE_TOKEN = 0;
const ARMED = EpollEvents.IN | (1 << 30); // EPOLLIN | EPOLLONESHOT

interface Waiter {
  resolve: (ready: boolean) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

class Poller {
  #epfd = -1;
  #wakeFd = -1;
  #events: EpollEventBuffer | undefined;
  #nextToken = 1;
  #handles = 0;
  #waiters = new Map<number, Waiter>();
  #fds = new Map<number, number[]>();
  #running = false;

  register(fds: number[]): number {
    if (this.#epfd < 0) {
      const epfd = epollCreate();
      let wakeFd = -1;
      try {
        wakeFd = eventfdCreate();
        epollCtl(epfd, EpollOp.ADD, wakeFd, EpollEvents.IN, WAKE_TOKEN);
      } catch (err) {
        closeFd(epfd);
        if (wakeFd >= 0) closeFd(wakeFd);
        throw err;
      }
      this.#epfd = epfd;
      this.#wakeFd = wakeFd;
      this.#events ??= new EpollEventBuffer(64);
    }
    const token = this.#nextToken++;
    const added: number[] = [];
    try {
      for (const fd of fds) {
        // Registered disarmed: a wait arms it.
        epollCtl(this.#epfd, EpollOp.ADD, fd, 1 << 30, token);
        added.push(fd);
      }
    } catch (err) {
      for (const fd of added) epollCtl(this.#epfd, EpollOp.DEL, fd, 0, 0);
      this.#releaseIfIdle();
      throw err;
    }
    this.#fds.set(token, fds);
    this.#handles++;
    return token;
  }

  unregister(token: number): void {
    const fds = this.#fds.get(token);
    if (!fds) return;
    this.cancel(token);
    for (const fd of fds) {
      try {
        epollCtl(this.#epfd, EpollOp.DEL, fd, 0, 0);
      } catch {
        // The fd was closed already: the kernel dropped it from the set.
      }
    }
    this.#fds.delete(token);
    this.#handles--;
    this.#releaseIfIdle();
  }

  /** Resolves true when one of the token's fds is readable, false on timeout or cancel. */
  wait(token: number, timeoutMs: number): Promise<boolean> {
    const fds = this.#fds.get(token);
    if (!fds) return Promise.resolve(false);
    this.#settle(token, false); // one wait per reader: a newer one replaces it
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { resolve, timer: undefined };
      if (timeoutMs >= 0) {
        waiter.timer = setTimeout(() => {
          this.#settle(token, false);
          this.#wakeIfIdle();
        }, timeoutMs);
      }
      this.#waiters.set(token, waiter);
      for (const fd of fds) epollCtl(this.#epfd, EpollOp.MOD, fd, ARMED, token);
      void this.#run();
    });
  }

  cancel(token: number): void {
    this.#settle(token, false);
    this.#wakeIfIdle();
  }

  /** A worker blocked for nobody would keep the process alive: wake it so the loop ends. */
  #wakeIfIdle(): void {
    if (this.#waiters.size === 0 && this.#running) eventfdSignal(this.#wakeFd);
  }

  #settle(token: number, ready: boolean): void {
    const w = this.#waiters.get(token);
    if (!w) return;
    this.#waiters.delete(token);
    if (w.timer !== undefined) clearTimeout(w.timer);
    w.resolve(ready);
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#waiters.size > 0) {
        const n = await epollWaitAsync(this.#epfd, this.#events!, -1);
        for (let i = 0; i < n; i++) {
          const token = this.#events!.data(i);
          if (token === WAKE_TOKEN) eventfdDrain(this.#wakeFd);
          else this.#settle(token, true);
        }
      }
    } finally {
      this.#running = false;
      this.#releaseIfIdle();
    }
  }

  /** With no reader left and no wait in flight, the epoll and eventfd fds are closed. */
  #releaseIfIdle(): void {
    if (this.#handles > 0 || this.#running || this.#epfd < 0) return;
    closeFd(this.#epfd);
    closeFd(this.#wakeFd);
    this.#epfd = -1;
    this.#wakeFd = -1;
  }
}

const poller = new Poller();
/** Safety net: a reader dropped without close() leaves the set when collected. */
const handles = new FinalizationRegistry<number>((token) => poller.unregister(token));

/** A reader's registration: its fds in the shared epoll set. */
export class PollHandle {
  readonly #token: number;
  #closed = false;

  constructor(fds: number[]) {
    this.#token = poller.register(fds);
    handles.register(this, this.#token, this);
  }

  /** Resolves true when readable, false after `timeoutMs` (-1: no limit) or when cancelled/closed. */
  wait(timeoutMs = -1): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    return poller.wait(this.#token, timeoutMs);
  }

  /** Ends a pending wait (it resolves false). */
  cancel(): void {
    if (!this.#closed) poller.cancel(this.#token);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    handles.unregister(this);
    poller.unregister(this.#token);
  }
}
