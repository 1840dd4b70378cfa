/** Network namespace links: sk_lookup and flow dissector programs on a netns (BPF_LINK_CREATE). */
import { closeSync, openSync } from 'node:fs';
import { Attr, AttachType } from '../syscall/layouts.generated.js';
import { bpfCommand } from './bpf-call.js';
import { LinkError } from './link-error.js';
import { FdLink, type ProgramLike } from './link.js';

/** The network namespace hooks a program can attach to. */
export type NetnsAttachPoint = 'sk_lookup' | 'flow_dissector';

/**
 * Attaches to the network namespace at `netnsPath` (e.g. /var/run/netns/NAME,
 * /proc/PID/ns/net; default: this process's own namespace).
 * @example
 * using link = attachNetns(prog, 'sk_lookup', '/var/run/netns/blue');
 */
export function attachNetns(program: ProgramLike, attach: NetnsAttachPoint, netnsPath = '/proc/self/ns/net'): FdLink {
  const attachType = attach === 'sk_lookup' ? AttachType.SK_LOOKUP : attach === 'flow_dissector' ? AttachType.FLOW_DISSECTOR : undefined;
  if (attachType === undefined) throw new LinkError('EBADARG', `unknown netns attach point '${String(attach)}'`, netnsPath, 'sk_lookup or flow_dissector');
  let nsFd: number;
  try {
    nsFd = openSync(netnsPath, 'r');
  } catch (err) {
    throw new LinkError('EBADARG', `cannot open network namespace '${netnsPath}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`, netnsPath, 'give /var/run/netns/NAME or /proc/PID/ns/net', { cause: err });
  }
  try {
    const fd = bpfCommand('LINK_CREATE', Attr.linkCreate.size, (a) => {
      a.view.setUint32(Attr.linkCreate.prog_fd, program.fd, true);
      a.view.setUint32(Attr.linkCreate.target_fd, nsFd, true);
      a.view.setUint32(Attr.linkCreate.attach_type, attachType, true);
    }, `${attach} on ${netnsPath}`);
    return new FdLink('netns', fd, [fd], `${netnsPath} ${attach}`);
  } finally {
    closeSync(nsFd);
  }
}
