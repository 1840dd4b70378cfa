import { arrayMap, type u32, type u64, xdp, XdpAction } from '../../src/dsl/index.js';
export const hist = arrayMap<u64>({ maxEntries: 16 });
export const len_hist = xdp((ctx) => {
  let bucket: u32 = ctx.packet.length >> 6;
  if (bucket > 15) bucket = 15;
  hist.increment(bucket);
  return XdpAction.PASS;
});
