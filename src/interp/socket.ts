/**
 * The packet's socket of an skb run (__sk_buff.sk): a struct bpf_sock the
 * program reads fields of, bpf_sk_fullsock, and the identity local storage
 * and bpf_get_socket_cookie name it by. The interpreter has no sockets of
 * its own: the caller describes one (`skb.sk`), with a cookie that names it
 * across runs, so per-socket storage lives as long as the caller says.
 */
import type { Helper } from './helpers.js';
import type { Memory } from './memory.js';

export interface SocketInfo {
  /** Names the socket across runs (≥ 1): local storage is kept per cookie, and bpf_get_socket_cookie gives it. */
  cookie: number | bigint;
  /** false for a request or time-wait socket, which bpf_sk_fullsock does not give (default true). */
  full?: boolean;
  /** AF_INET (2, the default) or AF_INET6 (10). */
  family?: number;
  /** SOCK_STREAM (1) or SOCK_DGRAM (2, the default). */
  type?: number;
  /** IPPROTO_UDP (17, the default), IPPROTO_TCP (6), … */
  protocol?: number;
  mark?: number;
  priority?: number;
  boundDevIf?: number;
  /** IPv4 addresses as dotted quads ('127.0.0.1'), or IPv6 ones as 16 bytes. */
  src?: string | Uint8Array;
  dst?: string | Uint8Array;
  /** Host byte order, both (the kernel stores dst_port in network order; the struct is laid out as it does). */
  srcPort?: number;
  dstPort?: number;
  /** The TCP state (TCP_CLOSE, 7, by default). */
  state?: number;
  rxQueueMapping?: number;
}

/** struct bpf_sock (uapi): its size and field offsets. */
const BPF_SOCK = { size: 80, boundDevIf: 0, family: 4, type: 8, protocol: 12, mark: 16, priority: 20, srcIp4: 24, srcIp6: 28, srcPort: 44, dstPort: 48, dstIp4: 52, dstIp6: 56, state: 72, rxQueueMapping: 76 } as const;

/** What tags a socket's region: the description it was made from. */
interface SocketTag {
  socket: SocketInfo;
}

const isSocketTag = (tag: unknown): tag is SocketTag => typeof tag === 'object' && tag !== null && 'socket' in tag;

/** Lays `info` out as a struct bpf_sock in memory (read-only, as programs see it); the pointer __sk_buff.sk holds. */
export function socketRegion(memory: Memory, info: SocketInfo): bigint {
  if (BigInt(info.cookie) < 1n) throw new RangeError('a socket cookie is at least 1');
  const bytes = new Uint8Array(BPF_SOCK.size);
  const v = new DataView(bytes.buffer);
  const family = info.family ?? 2;
  v.setUint32(BPF_SOCK.boundDevIf, info.boundDevIf ?? 0, true);
  v.setUint32(BPF_SOCK.family, family, true);
  v.setUint32(BPF_SOCK.type, info.type ?? 2, true);
  v.setUint32(BPF_SOCK.protocol, info.protocol ?? 17, true);
  v.setUint32(BPF_SOCK.mark, info.mark ?? 0, true);
  v.setUint32(BPF_SOCK.priority, info.priority ?? 0, true);
  placeAddress(bytes, info.src, BPF_SOCK.srcIp4, BPF_SOCK.srcIp6);
  placeAddress(bytes, info.dst, BPF_SOCK.dstIp4, BPF_SOCK.dstIp6);
  v.setUint32(BPF_SOCK.srcPort, info.srcPort ?? 0, true);
  v.setUint16(BPF_SOCK.dstPort, info.dstPort ?? 0, false);
  v.setUint32(BPF_SOCK.state, info.state ?? 7, true);
  v.setInt32(BPF_SOCK.rxQueueMapping, info.rxQueueMapping ?? -1, true);
  return memory.add(bytes, { name: 'bpf_sock', writable: false, tag: { socket: info } satisfies SocketTag }).base;
}

/** An address in network byte order: IPv4 in the 4-byte field, IPv6 in the 16-byte one. */
function placeAddress(bytes: Uint8Array, address: string | Uint8Array | undefined, v4: number, v6: number): void {
  if (address === undefined) return;
  if (typeof address === 'string') {
    const octets = address.split('.').map(Number);
    if (octets.length !== 4 || octets.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new RangeError(`bad IPv4 address '${address}'`);
    bytes.set(octets, v4);
    return;
  }
  if (address.length !== 16) throw new RangeError('an IPv6 address is 16 bytes');
  bytes.set(address, v6);
}

/** The socket a pointer names (the start of a socket's region), if any. */
function socketAt(memory: Memory, ptr: bigint): SocketInfo | undefined {
  const region = memory.regionAt(ptr);
  return region && region.base === ptr && isSocketTag(region.tag) ? region.tag.socket : undefined;
}

/**
 * What local storage keys an owner by: a socket by its cookie (so its
 * values outlive the run, as the socket does), anything else by the pointer.
 */
export function storageOwner(memory: Memory, ptr: bigint): bigint {
  const sk = socketAt(memory, ptr);
  return sk ? BigInt(sk.cookie) : ptr;
}

/** bpf_sk_fullsock(sk): the socket when it is a full one, else NULL. */
export const skFullsock: Helper = (ctx, sk) => (socketAt(ctx.memory, sk)?.full === false || !socketAt(ctx.memory, sk) ? 0n : sk);

/** __sk_buff.sk: where an skb run's context keeps the socket pointer. */
export const SKB_SK = 168;

/** bpf_get_socket_cookie(skb): the cookie of the packet's socket, 0 without one. */
export const socketCookie: Helper = (ctx, skb) => {
  const sk = ctx.memory.load(skb + BigInt(SKB_SK), 8, ctx.pc);
  const info = sk === 0n ? undefined : socketAt(ctx.memory, sk);
  return info ? BigInt(info.cookie) : 0n;
};
