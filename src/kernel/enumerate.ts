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

export const listPrograms = (): ProgInfo[] => [...infos('PROG', (fd) => progInfoByFd(fd))];
export const listMaps = (): MapInfo[] => [...infos('MAP', mapInfoByFd)];
export const listLinks = (): LinkInfoBase[] => [...infos('LINK', linkInfoByFd)];
export const listBtf = (): BtfInfo[] => [...infos('BTF', btfInfoByFd)];
