import { htons, ntohs, tc, TcAction } from '../../src/dsl/index.js';
import { ETH_P_IP, EthHdr, IPPROTO_UDP, IpHdr, UdpHdr } from '../../src/dsl/net.js';
export const udp_drop = tc('ingress', (ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null || eth.proto !== htons(ETH_P_IP)) return TcAction.OK;
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null || ip.protocol !== IPPROTO_UDP) return TcAction.OK;
  const udp = ctx.packet.at(UdpHdr, EthHdr.size + IpHdr.size);
  if (udp === null) return TcAction.OK;
  return ntohs(udp.dest) === 53 ? TcAction.SHOT : TcAction.OK;
});
