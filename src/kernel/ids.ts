/**
 * Object ids: walk every program, map, link or BTF object in the kernel
 * with BPF_*_GET_NEXT_ID, and open one by id with BPF_*_GET_FD_BY_ID.
 */
import { Errno } from '../syscall/errno.js';
import { Attr } from '../syscall/layouts.generated.js';
import { SyscallError } from '../syscall/bpf.js';
import { bpfCommand } from './bpf-call.js';

/** The kinds of BPF object the kernel numbers with ids (the prefix of their BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID commands). */
export type ObjectKind = 'PROG' | 'MAP' | 'LINK' | 'BTF';

/**
 * The next id after `start` of a kind, or undefined at the end.
 * @example
 * const first = nextId('MAP', 0);   // the lowest map id, or undefined when there is none
 */
export function nextId(kind: ObjectKind, start: number): number | undefined {
  let next = 0;
  try {
    bpfCommand(`${kind}_GET_NEXT_ID`, Attr.getId.size, (a) => {
      a.view.setUint32(Attr.getId.start_id, start, true);
    }, undefined, (a) => {
      next = a.view.getUint32(Attr.getId.next_id, true);
    });
  } catch (e) {
    if (e instanceof SyscallError && e.errno === Errno.ENOENT) return undefined;
    throw e;
  }
  return next;
}

/**
 * All ids of a kind, in increasing order.
 * @example
 * for (const id of allIds('PROG')) console.log(id);   // every loaded program's id
 */
export function* allIds(kind: ObjectKind): Generator<number> {
  let id = 0;
  for (;;) {
    const next = nextId(kind, id);
    if (next === undefined) return;
    yield next;
    id = next;
  }
}

/**
 * A new fd for the object with this id (caller owns it).
 * @example
 * const fd = fdById('MAP', 42);   // the caller closes it; BpfMap.fromId wraps this
 */
export function fdById(kind: ObjectKind, id: number, openFlags = 0): number {
  return bpfCommand(`${kind}_GET_FD_BY_ID`, Attr.getId.size, (a) => {
    a.view.setUint32(Attr.getId.start_id, id, true);
    a.view.setUint32(Attr.getId.open_flags, openFlags, true);
  }, `id ${id}`);
}
