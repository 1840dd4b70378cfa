/**
 * tsbpf/dsl/net: network headers as C structs (natural alignment, which for
 * these headers equals the wire layout) with their sizes, and constants.
 */
import { header, type be16, type be32, type FixedArray, type u8 } from './index.js';

export interface EthHdr {
  dst: FixedArray<u8, 6>;
  src: FixedArray<u8, 6>;
  proto: be16;
}
export const EthHdr = header<EthHdr>('EthHdr', 14);

export interface VlanHdr {
  tci: be16;
  proto: be16;
}
export const VlanHdr = header<VlanHdr>('VlanHdr', 4);

export interface IpHdr {
  /** Version (high nibble) and header length in 32-bit words (low nibble). */
  versionIhl: u8;
  tos: u8;
  totLen: be16;
  id: be16;
  fragOff: be16;
  ttl: u8;
  protocol: u8;
  check: be16;
  saddr: be32;
  daddr: be32;
}
export const IpHdr = header<IpHdr>('IpHdr', 20);

export interface Ipv6Hdr {
  /** Version, traffic class and flow label. */
  vtcFlow: be32;
  payloadLen: be16;
  nexthdr: u8;
  hopLimit: u8;
  saddr: FixedArray<u8, 16>;
  daddr: FixedArray<u8, 16>;
}
export const Ipv6Hdr = header<Ipv6Hdr>('Ipv6Hdr', 40);

export interface TcpHdr {
  source: be16;
  dest: be16;
  seq: be32;
  ackSeq: be32;
  /** Data offset (high nibble). */
  doff: u8;
  flags: u8;
  window: be16;
  check: be16;
  urgPtr: be16;
}
export const TcpHdr = header<TcpHdr>('TcpHdr', 20);

export interface UdpHdr {
  source: be16;
  dest: be16;
  len: be16;
  check: be16;
}
export const UdpHdr = header<UdpHdr>('UdpHdr', 8);

export interface IcmpHdr {
  type: u8;
  code: u8;
  checksum: be16;
  id: be16;
  sequence: be16;
}
export const IcmpHdr = header<IcmpHdr>('IcmpHdr', 8);

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
export const ETH_P_IPV6 = 0x86dd;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
