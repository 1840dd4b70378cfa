/**
 * Pinning: BPF_OBJ_PIN puts an object in bpffs under a path, BPF_OBJ_GET
 * opens it again. Paths must be inside a mounted bpffs (ensureBpffs()).
 */
import { readlinkSync, rmSync } from 'node:fs';
import { Attr } from '../syscall/layouts.generated.js';
import { closeFd } from '../syscall/fd.js';
import { nativeCString } from '../syscall/memory.js';
import { SyscallError } from '../syscall/bpf.js';
import { bpfCommand } from './bpf-call.js';
import { bpffsContaining } from './fs-mounts.js';

/**
 * Pins the BPF object behind `fd` at `path` in a bpffs (BPF_OBJ_PIN): it then outlives the fd and the process, until the file is removed. A path outside a mounted bpffs says so.
 * @example
 * pinFd(map.fd, '/sys/fs/bpf/counts');   // survives this process; unpin() or rm removes it
 */
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

/**
 * A pin holds another kind of object than the caller asked for (a program where a map was wanted...).
 * @example
 * BpfMap.openPinned('/sys/fs/bpf/my_prog');   // PinnedKindError: a pinned program, not a map
 */
export class PinnedKindError extends Error {
  override readonly name = 'PinnedKindError';
  readonly code = 'E_PIN_KIND';
}

/** What a pin in bpffs may hold. */
export type PinnedKind = 'map' | 'prog' | 'link';

/** The anon inode name the kernel gives each kind's fds (see /proc/self/fd). */
const inodeNames: Record<string, PinnedKind> = { 'anon_inode:bpf-map': 'map', 'anon_inode:bpf-prog': 'prog', 'anon_inode:bpf_link': 'link' };

/**
 * Opens a pinned object; the caller owns the returned fd. With `kind`, an fd
 * of another kind is closed and refused: OBJ_GET opens any pin, and reading a
 * program's info as a map's would give nonsense sizes.
 * @example
 * const fd = openPinnedFd('/sys/fs/bpf/counts', 0, 'map');   // a PinnedKindError if it pins a program
 */
export function openPinnedFd(path: string, fileFlags = 0, kind?: PinnedKind): number {
  using p = nativeCString(path);
  const fd = bpfCommand('OBJ_GET', Attr.objPin.size, (a) => {
    a.view.setBigUint64(Attr.objPin.pathname, p.address, true);
    a.view.setUint32(Attr.objPin.file_flags, fileFlags, true);
  }, path);
  if (kind === undefined) return fd;
  let actual: string;
  try {
    actual = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return fd; // no procfs: let the caller's own checks decide
  }
  const found = inodeNames[actual];
  if (found === undefined || found === kind) return fd;
  closeFd(fd);
  const words: Record<PinnedKind, string> = { map: 'map', prog: 'program', link: 'link' };
  throw new PinnedKindError(`${path} is a pinned ${words[found]}, not a ${words[kind]}`);
}

/**
 * Removes a pin (the object lives on while other references exist).
 * @example
 * unpin('/sys/fs/bpf/counts');   // the map lives on while fds to it are open
 */
export function unpin(path: string): void {
  rmSync(path, { force: true });
}
