/**
 * Pinning: BPF_OBJ_PIN puts an object in bpffs under a path, BPF_OBJ_GET
 * opens it again. Paths must be inside a mounted bpffs (ensureBpffs()).
 */
import { rmSync } from 'node:fs';
import { Attr } from '../syscall/layouts.generated.js';
import { nativeCString } from '../syscall/memory.js';
import { SyscallError } from '../syscall/bpf.js';
import { bpfCommand } from './bpf-call.js';
import { bpffsContaining } from './fs-mounts.js';

export function pinFd(fd: number, path: string): void {
  using p = nativeCString(path);
  try {
    bpfCommand('OBJ_PIN', Attr.objPin.size, (a) => {
      a.view.setBigUint64(Attr.objPin.pathname, p.address, true);
      a.view.setUint32(Attr.objPin.bpf_fd, fd, true);
    }, path);
  } catch (e) {
    if (e instanceof SyscallError && bpffsContaining(path) === undefined) {
      throw new SyscallError(e.command, e.errno, `${path} is not inside a mounted bpffs: pin under /sys/fs/bpf (ensureBpffs() mounts it) or mount -t bpf bpf DIR`);
    }
    throw e;
  }
}

/** Opens a pinned object; the caller owns the returned fd. */
export function openPinnedFd(path: string, fileFlags = 0): number {
  using p = nativeCString(path);
  return bpfCommand('OBJ_GET', Attr.objPin.size, (a) => {
    a.view.setBigUint64(Attr.objPin.pathname, p.address, true);
    a.view.setUint32(Attr.objPin.file_flags, fileFlags, true);
  }, path);
}

/** Removes a pin (the object lives on while other references exist). */
export function unpin(path: string): void {
  rmSync(path, { force: true });
}
