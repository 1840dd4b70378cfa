/**
 * BPF_PROG_QUERY: the programs (and, for tcx and other mprog hooks, the
 * links) attached to a hook: an interface's tcx ingress/egress, a network
 * namespace's flow dissector, a cgroup's hooks.
 */
import { SyscallError } from '../syscall/bpf.js';
import { Attr } from '../syscall/layouts.generated.js';
import { NativeBuffer } from '../syscall/memory.js';
import { bpfCommand } from './bpf-call.js';

/** What is attached to one hook, in the order it runs. */
export interface AttachedPrograms {
  progIds: number[];
  /** The bpf_link of each program, 0 for one attached without a link (mprog hooks, Linux 6.6+; empty elsewhere). */
  linkIds: number[];
  /** The hook's revision (mprog hooks), 0 elsewhere. */
  revision: bigint;
}

const ENOSPC = 28;

/**
 * The programs attached at `attachType` to an interface (`{ ifindex }`) or
 * to an fd (a netns or cgroup fd). A kernel that does not know the attach
 * type answers EINVAL: that is a SyscallError for the caller to judge.
 * @example
 * const { progIds, linkIds } = queryAttached({ ifindex: interfaceIndex('eth0') }, AttachType.TCX_INGRESS, 'tcx ingress of eth0');
 */
export function queryAttached(target: { ifindex: number } | { fd: number }, attachType: number, what: string): AttachedPrograms {
  const ask = (room: number, progIds?: NativeBuffer, linkIds?: NativeBuffer): { count: number; revision: bigint } => {
    let out = { count: 0, revision: 0n };
    bpfCommand('PROG_QUERY', Attr.query.size, (a) => {
      a.view.setUint32(Attr.query.target_fd, 'ifindex' in target ? target.ifindex : target.fd, true);
      a.view.setUint32(Attr.query.attach_type, attachType, true);
      if (progIds) a.view.setBigUint64(Attr.query.prog_ids, progIds.address, true);
      if (linkIds) a.view.setBigUint64(Attr.query.link_ids, linkIds.address, true);
      a.view.setUint32(Attr.query.count, room, true);
    }, what, (a) => {
      out = { count: a.view.getUint32(Attr.query.count, true), revision: a.view.getBigUint64(Attr.query.revision, true) };
    });
    return out;
  };
  // Ask how many first (no arrays: nothing to copy), then make room; programs attached in between get ENOSPC and another round.
  const first = ask(0);
  if (first.count === 0) return { progIds: [], linkIds: [], revision: first.revision };
  for (let room = first.count; ; room *= 2) {
    using progIds = new NativeBuffer(room * 4, 'prog_query prog_ids');
    using linkIds = new NativeBuffer(room * 4, 'prog_query link_ids');
    let answer;
    try {
      answer = ask(room, progIds, linkIds);
    } catch (e) {
      if (e instanceof SyscallError && e.errno === ENOSPC) continue;
      throw e;
    }
    const read = (b: NativeBuffer): number[] => Array.from({ length: Math.min(answer.count, room) }, (_, i) => b.view.getUint32(i * 4, true));
    return { progIds: read(progIds), linkIds: read(linkIds), revision: answer.revision };
  }
}
