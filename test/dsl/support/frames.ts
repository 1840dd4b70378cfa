/**
 * Ethernet/IPv4/UDP frames for tests on veth pairs: built with correct IP
 * and UDP checksums (as a NIC without checksum offload would send them),
 * checked, and sent raw on an interface through a packet socket, so what
 * the program under test sees, and what the receiver verifies, is exactly
 * these bytes.
 */
import { SyscallError } from '../../../src/syscall/bpf.js';
import { lastErrno, libc } from '../../../src/syscall/libc.js';
import { AddressFamily, bindAddress, ifNameToIndex, socket, SocketType } from '../../../src/syscall/socket.js';

export interface UdpFrame {
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  sport: number;
  dport: number;
  ttl?: number;
  payload: Uint8Array;
}

const mac = (s: string) => s.split(':').map((x) => parseInt(x, 16));
const ip4 = (s: string) => s.split('.').map(Number);

/** The 16-bit ones' complement sum of `b` (folded), as IP, UDP and TCP checksums use it. */
export function onesComplementSum(b: Uint8Array, start = 0): number {
  let s = start;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export function udpFrame(f: UdpFrame): Uint8Array {
  const udpLen = 8 + f.payload.length;
  const totLen = 20 + udpLen;
  const out = new Uint8Array(14 + totLen);
  out.set([...mac(f.dstMac), ...mac(f.srcMac), 0x08, 0x00], 0);
  out.set([0x45, 0, totLen >> 8, totLen & 0xff, 0x12, 0x34, 0x40, 0, f.ttl ?? 64, 17, 0, 0, ...ip4(f.srcIp), ...ip4(f.dstIp)], 14);
  out.set([f.sport >> 8, f.sport & 0xff, f.dport >> 8, f.dport & 0xff, udpLen >> 8, udpLen & 0xff, 0, 0], 34);
  out.set(f.payload, 42);
  const ipSum = ~onesComplementSum(out.subarray(14, 34)) & 0xffff;
  out[24] = ipSum >> 8;
  out[25] = ipSum & 0xff;
  let udpSum = ~udpChecksumSum(out) & 0xffff;
  if (udpSum === 0) udpSum = 0xffff;
  out[40] = udpSum >> 8;
  out[41] = udpSum & 0xff;
  return out;
}

/** The UDP pseudo-header, header and payload summed (0xffff when the checksum in place is right). */
function udpChecksumSum(frame: Uint8Array): number {
  const udpLen = (frame[38]! << 8) | frame[39]!;
  const pseudo = new Uint8Array([...frame.subarray(26, 34), 0, 17, udpLen >> 8, udpLen & 0xff]);
  return onesComplementSum(frame.subarray(34, 34 + udpLen), onesComplementSum(pseudo));
}

export const ipChecksumOk = (frame: Uint8Array): boolean => onesComplementSum(frame.subarray(14, 34)) === 0xffff;
export const udpChecksumOk = (frame: Uint8Array): boolean => udpChecksumSum(frame) === 0xffff;

/** Fields of an IPv4/UDP frame, for assertions. */
export function parseUdpFrame(frame: Uint8Array): { srcMac: string; dstMac: string; srcIp: string; dstIp: string; sport: number; dport: number; ttl: number; payload: string } | undefined {
  if (frame.length < 42 || frame[12] !== 0x08 || frame[13] !== 0x00 || frame[23] !== 17) return undefined;
  const hexMac = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
  return {
    dstMac: hexMac(frame.subarray(0, 6)), srcMac: hexMac(frame.subarray(6, 12)),
    srcIp: Array.from(frame.subarray(26, 30)).join('.'), dstIp: Array.from(frame.subarray(30, 34)).join('.'),
    sport: (frame[34]! << 8) | frame[35]!, dport: (frame[36]! << 8) | frame[37]!, ttl: frame[22]!,
    payload: Buffer.from(frame.subarray(42)).toString(),
  };
}

/** A packet socket bound to `iface` (all protocols): it captures every frame there, both ways, and sends raw frames out of it. */
export function packetSocket(iface: string): number {
  const fd = socket(AddressFamily.PACKET, SocketType.RAW, 0x0300); // htons(ETH_P_ALL)
  const sll = new Uint8Array(20);
  const v = new DataView(sll.buffer);
  v.setUint16(0, AddressFamily.PACKET, true);
  v.setUint16(2, 0x0003, false);
  v.setInt32(4, ifNameToIndex(iface), true);
  bindAddress(fd, sll, `bind a packet socket to ${iface}`);
  return fd;
}

const sendRaw = libc.func('long send(int fd, const void *buf, unsigned long len, int flags)');

/** Sends one raw frame out of the interface a packet socket is bound to. */
export function sendFrame(fd: number, frame: Uint8Array): void {
  if (Number(sendRaw(fd, frame, frame.byteLength, 0)) !== frame.byteLength) throw new SyscallError('send', lastErrno());
}
