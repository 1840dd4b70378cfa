/**
 * Counts packets per IP protocol on an interface.
 *   sudo npx tsbpf run examples/xdp-proto-count.bpf.ts --iface eth0 --duration 10
 */
import { htons, perCpuArray, type u64, xdp, XdpAction } from 'tsbpf/dsl';
import { ETH_P_IP, EthHdr, IpHdr } from 'tsbpf/dsl/net';

export const packetsByProtocol = perCpuArray<u64>({ maxEntries: 256 });

export const countProtocols = xdp((ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null) return XdpAction.PASS;
  packetsByProtocol.increment(ip.protocol);
  return XdpAction.PASS;
});
