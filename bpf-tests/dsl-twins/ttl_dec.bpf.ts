import { xdp, XdpAction } from '../../src/dsl/index.js';
import { EthHdr, IpHdr } from '../../src/dsl/net.js';
export const ttl_dec = xdp((ctx) => {
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null) return XdpAction.PASS;
  if (ip.ttl <= 1) return XdpAction.DROP;
  ip.ttl -= 1;
  return XdpAction.TX;
});
