/**
 * Drops incoming UDP packets to one port (tcx ingress) and counts them.
 *   sudo npx tsbpf run examples/tc-drop-udp-port.bpf.ts --iface eth0 --set port=5353 --duration 10
 */
import { arrayMap, htons, ntohs, rodata, tc, TcAction, type u16, type u64 } from 'tsbpf/dsl';
import { ETH_P_IP, EthHdr, IPPROTO_UDP, IpHdr, UdpHdr } from 'tsbpf/dsl/net';

/** The port to drop; set before load with --set port=N. */
export const port = rodata<u16>(5353);
export const dropped = arrayMap<u64>({ maxEntries: 1 });

export const dropUdpPort = tc('ingress', (ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null || eth.proto !== htons(ETH_P_IP)) return TcAction.OK;
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null || ip.protocol !== IPPROTO_UDP) return TcAction.OK;
  // Options make the IP header longer than 20 bytes: ihl counts 32-bit words.
  const udp = ctx.packet.at(UdpHdr, EthHdr.size + (ip.versionIhl & 0x0f) * 4);
  if (udp === null || ntohs(udp.dest) !== port.get()) return TcAction.OK;
  dropped.increment(0);
  return TcAction.SHOT;
});
