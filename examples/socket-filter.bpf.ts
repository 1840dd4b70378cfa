/**
 * A socket filter on a packet socket: counts IPv4 packets by size class
 * (0: <128 bytes, 1: <512, 2: <1024, 3: larger) and keeps every packet.
 *   sudo npx tsbpf run examples/socket-filter.bpf.ts --duration 10
 */
import { arrayMap, htons, socketFilter, type u64 } from 'tsbpf/dsl';
import { ETH_P_IP, EthHdr, IpHdr } from 'tsbpf/dsl/net';

export const sizes = arrayMap<u64>({ maxEntries: 4 });

export const sizeClasses = socketFilter((ctx) => {
  // A raw packet socket sees every frame from its link-layer header on.
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null || eth.proto !== htons(ETH_P_IP)) return ctx.len;
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null || (ip.versionIhl >> 4) !== 4) return ctx.len;
  const len = ctx.len;
  const bucket = len < 128 ? 0 : len < 512 ? 1 : len < 1024 ? 2 : 3;
  sizes.increment(bucket);
  return ctx.len;
});
