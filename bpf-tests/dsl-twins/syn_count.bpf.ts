import { arrayMap, type u64, xdp, XdpAction } from '../../src/dsl/index.js';
import { EthHdr, IPPROTO_TCP, IpHdr, TCP_ACK, TCP_SYN, TcpHdr } from '../../src/dsl/net.js';
export const syns = arrayMap<u64>({ maxEntries: 1 });
export const syn_count = xdp((ctx) => {
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null || ip.protocol !== IPPROTO_TCP) return XdpAction.PASS;
  const tcp = ctx.packet.at(TcpHdr, EthHdr.size + IpHdr.size);
  if (tcp === null) return XdpAction.PASS;
  if ((tcp.flags & TCP_SYN) !== 0 && (tcp.flags & TCP_ACK) === 0) syns.increment(0);
  return XdpAction.PASS;
});
