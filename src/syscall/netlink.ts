/**
 * rtnetlink (NETLINK_ROUTE) requests: encode a message with its fixed header
 * and attributes, send it, and read what the kernel answers until its ack.
 * Thin: the tc and XDP messages themselves are built in src/kernel. The
 * kernel's extended ack text ("Exclusivity flag on, cannot modify") is kept
 * on the error.
 */
import { SyscallError } from './bpf.js';
import { closeFd } from './fd.js';
import { lastErrno, libc } from './libc.js';
import { AddressFamily, setsockoptInt, socket, SocketType } from './socket.js';

const sendRaw = libc.func('long send(int fd, const void *buf, unsigned long len, int flags)');
const recvRaw = libc.func('long recv(int fd, _Out_ void *buf, unsigned long len, int flags)');

export const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_EXT_ACK = 11;

export const NlmFlags = { REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, ECHO: 0x8, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400, ACK_TLVS: 0x200, DUMP: 0x300 } as const;
export const NlmType = { ERROR: 2, DONE: 3 } as const;
export const RtmType = { NEWLINK: 16, GETLINK: 18, SETLINK: 19, NEWQDISC: 36, DELQDISC: 37, NEWTFILTER: 44, DELTFILTER: 45, GETTFILTER: 46 } as const;
/** A nested attribute's type carries this bit (NLA_F_NESTED). */
export const NLA_F_NESTED = 0x8000;
const NLMSGERR_ATTR_MSG = 1;
const HEADER = 16;

const align4 = (n: number): number => (n + 3) & ~3;

/** A netlink request failed: errno plus the kernel's extended-ack message, if any. */
export class NetlinkError extends SyscallError {
  override readonly name = 'NetlinkError';
  constructor(what: string, errno: number, readonly kernelMessage?: string) {
    super(what, errno, kernelMessage);
  }
}

/** Builds one request: a fixed header (tcmsg, ifinfomsg ...) then attributes, nested as needed. */
export class NetlinkRequest {
  readonly #chunks: number[] = [];

  constructor(readonly type: number, readonly flags: number, fixedHeader: Uint8Array) {
    this.#push(fixedHeader);
  }

  #push(bytes: Uint8Array): void {
    for (const b of bytes) this.#chunks.push(b);
    while (this.#chunks.length % 4 !== 0) this.#chunks.push(0);
  }

  #attrHeader(type: number, payloadLength: number): Uint8Array {
    const h = new Uint8Array(4);
    const v = new DataView(h.buffer);
    v.setUint16(0, 4 + payloadLength, true);
    v.setUint16(2, type, true);
    return h;
  }

  bytes(type: number, payload: Uint8Array): this {
    this.#push(new Uint8Array([...this.#attrHeader(type, payload.byteLength), ...payload]));
    return this;
  }

  u32(type: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    return this.bytes(type, b);
  }

  s32(type: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, value, true);
    return this.bytes(type, b);
  }

  /** A NUL-terminated string. */
  string(type: number, value: string): this {
    return this.bytes(type, new TextEncoder().encode(`${value}\0`));
  }

  /** Attributes added inside `fill` are nested in attribute `type`. */
  nested(type: number, fill: (r: this) => void): this {
    const start = this.#chunks.length;
    this.#push(this.#attrHeader(type | NLA_F_NESTED, 0));
    fill(this);
    const length = this.#chunks.length - start;
    this.#chunks[start] = length & 0xff;
    this.#chunks[start + 1] = (length >> 8) & 0xff;
    return this;
  }

  encode(seq: number): Uint8Array {
    const body = Uint8Array.from(this.#chunks);
    const out = new Uint8Array(HEADER + body.byteLength);
    const v = new DataView(out.buffer);
    v.setUint32(0, out.byteLength, true);
    v.setUint16(4, this.type, true);
    v.setUint16(6, this.flags, true);
    v.setUint32(8, seq, true);
    v.setUint32(12, 0, true);
    out.set(body, HEADER);
    return out;
  }
}

/** One message the kernel sent back (not the ack). */
export interface NetlinkReply {
  type: number;
  flags: number;
  /** The message after its 16-byte header. */
  payload: Uint8Array;
}

/** Attributes in `bytes` from `offset` on, by type (the nested flag masked off); the last of a repeated type wins. */
export function parseAttributes(bytes: Uint8Array, offset = 0): Map<number, Uint8Array> {
  const attrs = new Map<number, Uint8Array>();
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = offset;
  while (at + 4 <= bytes.byteLength) {
    const len = v.getUint16(at, true);
    if (len < 4 || at + len > bytes.byteLength) break;
    attrs.set(v.getUint16(at + 2, true) & 0x3fff, bytes.subarray(at + 4, at + len));
    at += align4(len);
  }
  return attrs;
}

let nextSeq = 1;

/**
 * Sends `request` on a fresh NETLINK_ROUTE socket of this process's network
 * namespace and returns the messages answered before the ack; a negative
 * ack is a NetlinkError with the kernel's own message.
 */
export function netlinkRequest(request: NetlinkRequest, what: string): NetlinkReply[] {
  const fd = socket(AddressFamily.NETLINK, SocketType.RAW, NETLINK_ROUTE);
  try {
    try {
      setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1, 'NETLINK_EXT_ACK');
    } catch {
      // Kernels before 4.12: errors come without the text.
    }
    const seq = nextSeq++;
    const message = request.encode(seq);
    const sent = Number(sendRaw(fd, message, message.byteLength, 0));
    if (sent < 0) throw new SyscallError(`${what}: netlink send`, lastErrno());
    return readUntilAck(fd, seq, what);
  } finally {
    closeFd(fd);
  }
}

function readUntilAck(fd: number, seq: number, what: string): NetlinkReply[] {
  const replies: NetlinkReply[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = Number(recvRaw(fd, buf, buf.byteLength, 0));
    if (n < 0) {
      const errno = lastErrno();
      if (errno === 4) continue;
      throw new SyscallError(`${what}: netlink recv`, errno);
    }
    const v = new DataView(buf.buffer, 0, n);
    let at = 0;
    while (at + HEADER <= n) {
      const len = v.getUint32(at, true);
      if (len < HEADER || at + len > n) throw new SyscallError(`${what}: netlink recv (a truncated message)`, 71);
      const type = v.getUint16(at + 4, true);
      const flags = v.getUint16(at + 6, true);
      const msgSeq = v.getUint32(at + 8, true);
      const payload = buf.slice(at + HEADER, at + len);
      at += align4(len);
      if (msgSeq !== seq) continue;
      if (type === NlmType.ERROR) {
        const errno = -new DataView(payload.buffer).getInt32(0, true);
        if (errno === 0) return replies;
        throw new NetlinkError(what, errno, extAckMessage(payload, flags));
      }
      if (type === NlmType.DONE) return replies;
      replies.push({ type, flags, payload });
    }
  }
}

/** NLMSGERR_ATTR_MSG after the error code and the echoed request header (the request itself is echoed unless capped). */
function extAckMessage(payload: Uint8Array, flags: number): string | undefined {
  if ((flags & NlmFlags.ACK_TLVS) === 0 || payload.byteLength < 4 + HEADER) return undefined;
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const echoedLength = (flags & 0x100) !== 0 ? HEADER : v.getUint32(4, true); // NLM_F_CAPPED: only the header was echoed
  const msg = parseAttributes(payload, 4 + align4(echoedLength)).get(NLMSGERR_ATTR_MSG);
  if (!msg) return undefined;
  const end = msg.indexOf(0);
  return new TextDecoder().decode(end >= 0 ? msg.subarray(0, end) : msg) || undefined;
}
