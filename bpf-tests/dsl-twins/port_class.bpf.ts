import { arrayMap, ntohs, type u32, type u64, xdp, XdpAction } from '../../src/dsl/index.js';
import { EthHdr, IPPROTO_UDP, IpHdr, UdpHdr } from '../../src/dsl/net.js';
export const classes = arrayMap<u64>({ maxEntries: 4 });
export const port_class = xdp((ctx) => {
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null || ip.protocol !== IPPROTO_UDP) return XdpAction.PASS;
  const udp = ctx.packet.at(UdpHdr, EthHdr.size + IpHdr.size);
  if (udp === null) return XdpAction.PASS;
  const port = ntohs(udp.dest);
  const k: u32 = port < 1024 ? 1 : port < 49152 ? 2 : 3;
  classes.increment(k);
  return XdpAction.PASS;
});
