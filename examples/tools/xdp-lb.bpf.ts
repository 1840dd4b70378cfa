/**
 * xdp-lb: a one-armed layer-4 load balancer at XDP. Datagrams and segments
 * to a service (VIP:port, UDP or TCP) go to one of the service's backends,
 * chosen by a hash of the client's address and port (a flow stays on its
 * backend): the destination address is rewritten, the IP and UDP/TCP
 * checksums updated incrementally, and the frame sent back out of the
 * interface it came in on (XDP_TX) towards the router that delivered it.
 * The entry program parses Ethernet and IP and tail-calls the UDP or TCP
 * stage through a program array.
 *   sudo npx tsbpf run examples/tools/xdp-lb.bpf.ts --iface eth0 -- \
 *     --service 10.0.0.100:53/udp=10.0.1.1,10.0.1.2 [--service …] [--interval 5]
 * On Ctrl-C (or --duration) it prints the packets and bytes per backend.
 */
import { arrayMap, atomic, bpf, hashMap, htons, progArray, u16, u32, u64, xdp, XdpAction, type be16, type be32, type i64, type u8, type XdpContext } from 'tsbpf/dsl';
import { EthHdr, ETH_P_IP, IPPROTO_TCP, IPPROTO_UDP, IpHdr, TcpHdr, UdpHdr } from 'tsbpf/dsl/net';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as self from './xdp-lb.bpf.js';

/** A service: its virtual address, port and protocol. */
export interface Service { addr: be32; port: be16; proto: u8; pad: u8 }
/** Its backends: slots first … first + count - 1 of `backends`. */
export interface Pool { first: u32; count: u32 }
export interface Backend { addr: be32; pad: u32; packets: u64; bytes: u64 }

export const services = hashMap<Service, Pool>({ maxEntries: 256 });
export const backends = arrayMap<Backend>({ maxEntries: 1024 });

const L4 = EthHdr.size + IpHdr.size;
const UDP_STAGE = 0;
const TCP_STAGE = 1;

/** The backend for a flow of a service, counted; null when the address is not a service's. */
function pick(vip: be32, port: be16, proto: u8, client: be32, clientPort: be16, length: u32): Backend | null {
  const pool = services.lookup({ addr: vip, port, proto, pad: 0 });
  if (pool === null || pool.count === 0) return null;
  // A multiplicative hash of the client's address and port: the same flow, the same backend.
  const h = u64(((u64(client) << 16) ^ u64(clientPort)) * u64(0x9e37_79b9_7f4a_7c15n)) >> 32;
  const b = backends.lookup(pool.first + u32(h % u64(pool.count)));
  if (b === null) return null;
  atomic.add(b, 'packets', 1);
  atomic.add(b, 'bytes', length);
  return b;
}

/** A 16-bit ones'-complement checksum after a change whose difference is `diff` (bpf_csum_diff's result), as RFC 1624 updates it. */
function updated(check: be16, diff: i64): u16 {
  let s = u64(~check & 0xffff) + u64(diff & 0xffff_ffff);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return u16(~s & 0xffff);
}

/**
 * Rewrites the destination to the backend's address, updates the IP
 * checksum, and sends the frame back to where it came from (the router
 * towards the backends). Gives the checksum difference, for the
 * transport checksum (whose pseudo header holds the address too).
 */
function forward(eth: EthHdr, ip: IpHdr, b: Backend): i64 {
  const diff = bpf.csumDiff(ip.daddr, b.addr);
  ip.daddr = b.addr;
  ip.check = updated(ip.check, diff);
  for (let i = 0; i < 6; i++) {
    const byte = eth.dst[i];
    eth.dst[i] = eth.src[i];
    eth.src[i] = byte;
  }
  return diff;
}

export const balanceUdp = xdp((ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  const udp = ctx.packet.at(UdpHdr, L4);
  if (eth === null || ip === null || udp === null) return XdpAction.PASS;
  const b = pick(ip.daddr, udp.dest, IPPROTO_UDP, ip.saddr, udp.source, ctx.packet.length);
  if (b === null) return XdpAction.PASS;
  const diff = forward(eth, ip, b);
  // A zero checksum (none) stays zero; a computed zero is sent as 0xffff.
  if (udp.check !== 0) {
    const c = updated(udp.check, diff);
    udp.check = c === 0 ? 0xffff : c;
  }
  return XdpAction.TX;
});

export const balanceTcp = xdp((ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  const tcp = ctx.packet.at(TcpHdr, L4);
  if (eth === null || ip === null || tcp === null) return XdpAction.PASS;
  const b = pick(ip.daddr, tcp.dest, IPPROTO_TCP, ip.saddr, tcp.source, ctx.packet.length);
  if (b === null) return XdpAction.PASS;
  tcp.check = updated(tcp.check, forward(eth, ip, b));
  return XdpAction.TX;
});

/** The stages, by slot: UDP_STAGE, TCP_STAGE. */
export const stages = progArray<XdpContext>({ programs: [balanceUdp, balanceTcp] });

export const lb = xdp((ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  // Options would move the transport header, fragments have none past the first: those pass untouched.
  if (ip === null || ip.versionIhl !== 0x45 || (ip.fragOff & htons(0x3fff)) !== 0) return XdpAction.PASS;
  if (ip.protocol === IPPROTO_UDP) stages.tailCall(ctx, UDP_STAGE);
  else if (ip.protocol === IPPROTO_TCP) stages.tailCall(ctx, TCP_STAGE);
  return XdpAction.PASS;
});

// ------------------------------------------------------------ user space

export const options = {
  service: { type: 'string', multiple: true },
  interval: { type: 'string' },
} as const;

const ipv4 = (text: string): number => {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 address '${text}'`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
};
const formatV4 = (a: number): string => [a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff].join('.');

export interface ServiceSpec { vip: number; port: number; proto: 6 | 17; backends: number[] }

/** `VIP:PORT/udp=B1,B2,…` (user space sees network-order fields as numbers: 10.0.0.1 is 0x0a000001). */
export function parseService(text: string): ServiceSpec {
  const m = /^([\d.]+):(\d+)\/(udp|tcp)=([\d.,]+)$/.exec(text);
  if (!m) throw new Error(`bad service '${text}' (VIP:PORT/udp=BACKEND,… or /tcp)`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new Error(`bad port in '${text}'`);
  return { vip: ipv4(m[1]!), port, proto: m[3] === 'udp' ? 17 : 6, backends: m[4]!.split(',').filter((b) => b !== '').map(ipv4) };
}

/** Fills the service table and the backend slots, then prints the traffic per backend every --interval seconds and at the end. */
export async function main(live: LiveModule<typeof self>, args: ModuleArgs): Promise<void> {
  const specs = ((args.values.service as string[] | undefined) ?? []).map(parseService);
  const rows: Array<{ service: string; backend: string; slot: number }> = [];
  let next = 0;
  for (const s of specs) {
    if (next + s.backends.length > 1024) throw new Error('more than 1024 backends');
    s.backends.forEach((addr, i) => {
      live.maps.backends.set(next + i, { addr, pad: 0, packets: 0, bytes: 0 });
      rows.push({ service: `${formatV4(s.vip)}:${s.port}/${s.proto === 17 ? 'udp' : 'tcp'}`, backend: formatV4(addr), slot: next + i });
    });
    live.maps.services.set({ addr: s.vip, port: s.port, proto: s.proto, pad: 0 }, { first: next, count: s.backends.length });
    next += s.backends.length;
  }
  process.stderr.write(`balancing ${specs.length} service${specs.length === 1 ? '' : 's'} over ${next} backend${next === 1 ? '' : 's'}\n`);
  const print = () => {
    process.stdout.write(`${'SERVICE'.padEnd(24)} ${'BACKEND'.padEnd(15)} ${'PACKETS'.padStart(10)} ${'BYTES'.padStart(12)}\n`);
    for (const r of rows) {
      const b = live.maps.backends.get(r.slot);
      process.stdout.write(`${r.service.padEnd(24)} ${r.backend.padEnd(15)} ${String(b?.packets ?? 0).padStart(10)} ${String(b?.bytes ?? 0).padStart(12)}\n`);
    }
  };
  const seconds = args.values.interval === undefined ? undefined : Number(args.values.interval);
  const timer = seconds ? setInterval(print, seconds * 1000) : undefined;
  await new Promise<void>((resolve) => (args.signal.aborted ? resolve() : args.signal.addEventListener('abort', () => resolve(), { once: true })));
  if (timer) clearInterval(timer);
  print();
}
