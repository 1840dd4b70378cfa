/**
 * XDP through netlink (IFLA_XDP in RTM_SETLINK), for kernels without XDP
 * bpf_links (before 5.9). The attachment is the interface's: not pinnable,
 * and it stays if the process dies, so close() removes it, and only while
 * the interface still runs our program (XDP_FLAGS_REPLACE with the expected
 * fd). update() swaps the program the same way.
 */
import { closeFd, dupFd } from '../syscall/fd.js';
import { NetlinkError, NetlinkRequest, netlinkRequest, NlmFlags, RtmType } from '../syscall/netlink.js';
import { LinkError } from './link-error.js';
import { FdLink, type ProgramLike } from './link.js';

export const IFLA_XDP = 43;
const IFLA_XDP_FD = 1;
const IFLA_XDP_FLAGS = 3;
const IFLA_XDP_EXPECTED_FD = 8;
const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
const XDP_FLAGS_REPLACE = 1 << 4;

/** struct ifinfomsg for interface `ifindex` (0: every interface, for a dump). */
export function ifinfomsg(ifindex: number): Uint8Array {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setInt32(4, ifindex, true);
  return b;
}

function setXdp(ifindex: number, fd: number, flags: number, expectedFd: number | undefined, what: string): void {
  const req = new NetlinkRequest(RtmType.SETLINK, NlmFlags.REQUEST | NlmFlags.ACK, ifinfomsg(ifindex)).nested(IFLA_XDP, (x) => {
    x.s32(IFLA_XDP_FD, fd);
    x.u32(IFLA_XDP_FLAGS, flags);
    if (expectedFd !== undefined) x.s32(IFLA_XDP_EXPECTED_FD, expectedFd);
  });
  netlinkRequest(req, what);
}

/**
 * An XDP program attached through netlink (kernels before 5.9, or when asked): not a bpf_link, so it cannot be pinned; close() detaches it only while it is still ours.
 * @example
 * const link = attachXdp(prog, 'eth0', { method: 'netlink' });   // an XdpNetlinkLink
 * link.update(newer);   // swapped only while prog is still the one attached
 */
export class XdpNetlinkLink extends FdLink {
  /** A duplicate of the attached program's fd: the caller may close the program, detaching still needs it. */
  #progFd: number;

  constructor(readonly ifindex: number, readonly modeFlags: number, progFd: number, target: string) {
    super('xdp', -1, [], target);
    this.#progFd = progFd;
  }

  override update(program: ProgramLike): void {
    this.ensureOpen('update');
    const next = dupFd(program.fd, 'dup program fd');
    try {
      setXdp(this.ifindex, program.fd, this.modeFlags | XDP_FLAGS_REPLACE, this.#progFd, `replace XDP program on ${this.target}`);
    } catch (e) {
      closeFd(next);
      throw e;
    }
    closeFd(this.#progFd);
    this.#progFd = next;
  }

  protected override onClose(): void {
    try {
      setXdp(this.ifindex, -1, this.modeFlags | XDP_FLAGS_REPLACE, this.#progFd, `detach XDP from ${this.target}`);
    } catch (e) {
      // EEXIST: another program replaced ours; ENODEV: the interface is gone. Either way ours no longer runs there.
      if (!(e instanceof NetlinkError) || (e.errno !== 17 && e.errno !== 19)) throw e;
    } finally {
      closeFd(this.#progFd);
    }
  }
}

/** Attaches an XDP program through netlink, refusing to replace a program already there. */
export function attachXdpNetlink(program: ProgramLike, ifindex: number, modeFlags: number, label: string): XdpNetlinkLink {
  const progFd = dupFd(program.fd, 'dup program fd');
  try {
    setXdp(ifindex, program.fd, modeFlags | XDP_FLAGS_UPDATE_IF_NOEXIST, undefined, `attach XDP to ${label}`);
  } catch (e) {
    closeFd(progFd);
    if (e instanceof NetlinkError) {
      throw new LinkError('EATTACH', `xdp on ${label}: ${e.message}`, label, e.errno === 16 ? 'the interface already runs an XDP program; detach it first' : undefined, { cause: e });
    }
    throw e;
  }
  return new XdpNetlinkLink(ifindex, modeFlags, progFd, `${label} (netlink)`);
}
