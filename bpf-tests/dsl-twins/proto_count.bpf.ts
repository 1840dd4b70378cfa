import { htons, perCpuArray, type u64, xdp, XdpAction } from '../../src/dsl/index.js';
import { ETH_P_IP, EthHdr, IpHdr } from '../../src/dsl/net.js';
export const by_proto = perCpuArray<u64>({ maxEntries: 256 });
export const proto_count = xdp((ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null || eth.proto !== htons(ETH_P_IP)) return XdpAction.PASS;
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null) return XdpAction.PASS;
  by_proto.increment(ip.protocol);
  return XdpAction.PASS;
});
