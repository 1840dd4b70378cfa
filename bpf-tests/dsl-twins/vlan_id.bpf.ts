import { htons, ntohs, xdp } from '../../src/dsl/index.js';
import { ETH_P_8021Q, EthHdr, VlanHdr } from '../../src/dsl/net.js';
export const vlan_id = xdp((ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null) return 0;
  if (eth.proto !== htons(ETH_P_8021Q)) return 1;
  const vlan = ctx.packet.at(VlanHdr, EthHdr.size);
  if (vlan === null) return 0;
  return ntohs(vlan.tci) & 0xfff;
});
