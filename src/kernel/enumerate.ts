/**
 * Enumeration like `bpftool prog/map/link/btf list`: walk ids with
 * GET_NEXT_ID, open each by id, read its info, close it. Objects that
 * vanish between the two steps are skipped.
 */
import { SyscallError } from '../syscall/bpf.js';
import { Errno } from '../syscall/errno.js';
import { closeFd } from '../syscall/fd.js';
import { allIds, fdById, type ObjectKind } from './ids.js';
import { type BtfInfo, type LinkInfoBase, type MapInfo, type ProgInfo, btfInfoByFd, linkInfoByFd, mapInfoByFd, progInfoByFd } from './info.js';

function* infos<T>(kind: ObjectKind, read: (fd: number) => T): Generator<T> {
  for (const id of allIds(kind)) {
    let fd: number;
    try {
      fd = fdById(kind, id);
    } catch (e) {
      if (e instanceof SyscallError && e.errno === Errno.ENOENT) continue; // gone meanwhile
      throw e;
    }
    try {
      yield read(fd);
    } finally {
      closeFd(fd);
    }
  }
}

/**
 * Every program loaded in the kernel, with its info (like `bpftool prog list`; needs CAP_SYS_ADMIN or root).
 * @example
 * for (const p of listPrograms()) console.log(p.id, p.name, p.tag);
 */
export const listPrograms = (): ProgInfo[] => [...infos('PROG', (fd) => progInfoByFd(fd))];
/**
 * Every map in the kernel, with its info (like `bpftool map list`).
 * @example
 * for (const m of listMaps()) console.log(m.id, m.name, mapTypeName(m.type));
 */
export const listMaps = (): MapInfo[] => [...infos('MAP', mapInfoByFd)];
/**
 * Every BPF link in the kernel, with its common info (like `bpftool link list`).
 * @example
 * for (const l of listLinks()) console.log(l.id, l.progId);
 */
export const listLinks = (): LinkInfoBase[] => [...infos('LINK', linkInfoByFd)];
/**
 * Every BTF object in the kernel, with its info (like `bpftool btf list`).
 * @example
 * const kernel = listBtf().filter((b) => b.kernelBtf).map((b) => b.name);   // ['vmlinux', modules ...]
 */
export const listBtf = (): BtfInfo[] => [...infos('BTF', btfInfoByFd)];
