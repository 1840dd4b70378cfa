/**
 * A BTF object in the kernel (BPF_BTF_LOAD): maps and programs reference
 * their types through its fd. On failure the kernel's BTF log is fetched
 * and shown, like a verifier log.
 */
import { readName } from '../syscall/attr.js';
import { SyscallError } from '../syscall/bpf.js';
import { Errno } from '../syscall/errno.js';
import { hintFor } from '../syscall/hints.js';
import { Attr } from '../syscall/layouts.generated.js';
import { NativeBuffer, nativeCopy } from '../syscall/memory.js';
import { bpfCommand } from './bpf-call.js';
import { fdById } from './ids.js';
import { type BtfInfo, btfInfoByFd } from './info.js';
import { OwnedFd } from './owned-fd.js';
import { liftMemlockIfCharged } from './memlock.js';

/**
 * The kernel rejected a BTF blob; `log` holds its reason.
 * @example
 * try { BtfObject.load(bytes); } catch (e) { if (e instanceof BtfLoadError) console.error(e.log); }
 */
export class BtfLoadError extends SyscallError {
  override readonly name: string = 'BtfLoadError';
  constructor(errno: number, readonly log: string) {
    super('BPF_BTF_LOAD', errno, hintFor('BTF_LOAD', errno), log);
    const lines = log.split('\n').filter((l) => l.trim());
    if (lines.length) this.message += `\nBTF log, last lines:\n  ${lines.slice(-10).join('\n  ')}`;
  }
}

/**
 * A BTF blob loaded into the kernel (BPF_BTF_LOAD), or one opened by id (the kernel's own, a module's): maps and programs name their types through its fd.
 * @example
 * using btf = BtfObject.load(encodedBtf);   // BPF_BTF_LOAD; a BtfLoadError shows the kernel's BTF log
 * BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, btfFd: btf.fd, btfKeyTypeId: 1, btfValueTypeId: 2 });
 */
export class BtfObject {
  readonly #fd: OwnedFd;

  private constructor(fd: number) {
    this.#fd = new OwnedFd(fd, 'BTF object');
  }

  /** Loads raw BTF (header + types + strings) into the kernel. */
  static load(bytes: Uint8Array): BtfObject {
    liftMemlockIfCharged();
    using blob = nativeCopy(bytes);
    const L = Attr.btfLoad;
    const attempt = (log?: NativeBuffer): number =>
      bpfCommand('BTF_LOAD', L.size, (a) => {
        a.view.setBigUint64(L.btf, blob.address, true);
        a.view.setUint32(L.btf_size, bytes.byteLength, true);
        if (log) {
          a.view.setBigUint64(L.btf_log_buf, log.address, true);
          a.view.setUint32(L.btf_log_size, log.size, true);
          a.view.setUint32(L.btf_log_level, 1, true);
        }
      });
    try {
      return new BtfObject(attempt());
    } catch (e) {
      if (!(e instanceof SyscallError) || e.errno === Errno.EPERM) throw e;
      using log = new NativeBuffer(1 << 20);
      try {
        return new BtfObject(attempt(log));
      } catch (e2) {
        if (!(e2 instanceof SyscallError)) throw e2;
        // ENOSPC: the log did not fit in 1 MiB; the rejection's own errno is the first one.
        throw new BtfLoadError(e2.errno === Errno.ENOSPC ? e.errno : e2.errno, readName(log.bytes, 0, log.size));
      }
    }
  }

  static fromId(id: number): BtfObject {
    return new BtfObject(fdById('BTF', id));
  }

  get fd(): number {
    return this.#fd.value;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  info(): BtfInfo {
    return btfInfoByFd(this.fd);
  }

  close(): void {
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
