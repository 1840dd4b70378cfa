import { hashMap, type u8, type u32, type u64, xdp, XdpAction } from '../../src/dsl/index.js';
import { EthHdr, IpHdr } from '../../src/dsl/net.js';
export interface Flow { saddr: u32; daddr: u32; proto: u8 }
export const flows = hashMap<Flow, u64>({ maxEntries: 1024 });
export const flow_bytes = xdp((ctx) => {
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null) return XdpAction.PASS;
  const key: Flow = { saddr: ip.saddr, daddr: ip.daddr, proto: ip.protocol };
  flows.increment(key, ctx.packet.length);
  return XdpAction.PASS;
});
