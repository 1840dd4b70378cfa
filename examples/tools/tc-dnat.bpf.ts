/**
 * tc-dnat: rewrites the destination of UDP datagrams arriving on an
 * interface (a service address and port to a backend's), fixing the IP
 * header checksum and the UDP checksum (pseudo-header included) with
 * bpf_csum_diff and l3/l4_csum_replace, as a load balancer's DNAT does.
 *   sudo npx tsbpf run examples/tools/tc-dnat.bpf.ts --iface eth0 -- \
 *     --map 10.0.0.100:53=10.0.0.7:5353 [--map …]
 * On Ctrl-C (or --duration) it prints the datagrams rewritten per service.
 */
import { atomic, bpf, hashMap, htons, tc, TcAction, type be16, type be32, type u16, type u64 } from 'tsbpf/dsl';
import { EthHdr, ETH_P_IP, IPPROTO_UDP, IpHdr, UdpHdr } from 'tsbpf/dsl/net';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as self from './tc-dnat.bpf.js';

export interface Endpoint { addr: be32; port: be16; pad: u16 }
export interface Backend { addr: be32; port: be16; pad: u16; rewritten: u64 }

export const services = hashMap<Endpoint, Backend>({ maxEntries: 1024 });

/** bpf_l4_csum_replace flags: the change is in the pseudo header; a zero UDP checksum (none) stays zero. */
const BPF_F_PSEUDO_HDR = 0x10;
const BPF_F_MARK_MANGLED_0 = 0x20;
const IP_CHECK = EthHdr.size + 10;
const UDP_CHECK = EthHdr.size + IpHdr.size + 6;

export const dnat = tc('ingress', (ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null || eth.proto !== htons(ETH_P_IP)) return TcAction.OK;
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  // Options would move the UDP header: only 20-byte IP headers are rewritten.
  if (ip === null || ip.protocol !== IPPROTO_UDP || ip.versionIhl !== 0x45) return TcAction.OK;
  const udp = ctx.packet.at(UdpHdr, EthHdr.size + IpHdr.size);
  if (udp === null) return TcAction.OK;
  const backend = services.lookup({ addr: ip.daddr, port: udp.dest, pad: 0 });
  if (backend === null) return TcAction.OK;
  const oldAddr = ip.daddr;
  const oldPort = udp.dest;
  const newAddr = backend.addr;
  const newPort = backend.port;
  atomic.add(backend, 'rewritten', 1);
  ip.daddr = newAddr;
  udp.dest = newPort;
  // The address is in the IP header and in UDP's pseudo header; the port only in UDP's.
  const diff = bpf.csumDiff(oldAddr, newAddr);
  bpf.l3CsumReplace(ctx, IP_CHECK, 0, diff, 0);
  bpf.l4CsumReplace(ctx, UDP_CHECK, 0, diff, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0);
  bpf.l4CsumReplace(ctx, UDP_CHECK, oldPort, newPort, 2 | BPF_F_MARK_MANGLED_0);
  return TcAction.OK;
});

// ------------------------------------------------------------ user space

export const options = {
  map: { type: 'string', multiple: true },
} as const;

/** `a.b.c.d:port` as an endpoint key (user space sees network-order fields as numbers: 10.0.0.1 is 0x0a000001). */
export function parseEndpoint(text: string): { addr: number; port: number; pad: 0 } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+):(\d+)$/.exec(text);
  const parts = m ? m.slice(1).map(Number) : [];
  if (!m || parts.slice(0, 4).some((p) => p > 255) || parts[4]! > 65535) throw new Error(`bad endpoint '${text}' (want a.b.c.d:port)`);
  return { addr: ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0, port: parts[4]!, pad: 0 };
}

const show = (e: { addr: number; port: number }): string => `${[e.addr >>> 24, (e.addr >>> 16) & 0xff, (e.addr >>> 8) & 0xff, e.addr & 0xff].join('.')}:${e.port}`;

export async function main(live: LiveModule<typeof self>, args: ModuleArgs): Promise<void> {
  const maps = (args.values.map as string[] | undefined) ?? [];
  for (const m of maps) {
    const [from, to] = m.split('=');
    if (from === undefined || to === undefined) throw new Error(`bad --map '${m}' (want SERVICE=BACKEND)`);
    live.maps.services.set(parseEndpoint(from), { ...parseEndpoint(to), rewritten: 0 });
  }
  process.stderr.write(`rewriting ${maps.length} service${maps.length === 1 ? '' : 's'}\n`);
  await new Promise<void>((resolve) => (args.signal.aborted ? resolve() : args.signal.addEventListener('abort', () => resolve(), { once: true })));
  process.stdout.write(`${'SERVICE'.padEnd(22)} ${'BACKEND'.padEnd(22)} ${'REWRITTEN'.padStart(10)}\n`);
  for (const [k, v] of live.maps.services) process.stdout.write(`${show(k).padEnd(22)} ${show(v).padEnd(22)} ${String(v.rewritten).padStart(10)}\n`);
}
