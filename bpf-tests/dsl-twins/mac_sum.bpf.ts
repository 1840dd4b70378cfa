import { range, type u32, xdp } from '../../src/dsl/index.js';
import { EthHdr } from '../../src/dsl/net.js';
export const mac_sum = xdp((ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null) return 0;
  let sum: u32 = 0;
  for (const i of range(6)) sum += eth.dst[i] + eth.src[i];
  return sum;
});
