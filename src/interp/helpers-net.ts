/** Forwarding and checksum helpers: bpf_redirect_map, bpf_csum_diff, socket and cgroup ids of packets. */
import type { Helper } from './helpers.js';
import { Errno, helperResult, u32KeyBytes } from './maps.js';
import { RedirectArrayMap, RedirectHashMap } from './redirect-maps.js';

const XDP_REDIRECT = 4n;

/** (map, key, flags): XDP_REDIRECT when the slot holds a target, else the action in flags' low two bits. */
export const redirectMap: Helper = (ctx, map, key, flags) => {
  const m = ctx.map(map);
  const present = (m instanceof RedirectArrayMap || m instanceof RedirectHashMap) && m.has(u32KeyBytes(Number(BigInt.asUintN(32, key))));
  return present ? XDP_REDIRECT : flags & 3n;
};

/**
 * (from, from_size, to, to_size, seed): the one's complement sum of seed,
 * the complemented words of `from` and the words of `to`, folded to 16 bits
 * (not complemented) as kernels since 6.13 return it on every architecture.
 * Older x86 kernels return the same sum folded only to 32 bits, which
 * l3/l4_csum_replace treat alike.
 */
export const csumDiff: Helper = (ctx, from, fromSize, to, toSize, seed) => {
  if (fromSize % 4n !== 0n || toSize % 4n !== 0n || fromSize + toSize > 512n || (fromSize === 0n && toSize === 0n && from !== 0n)) return helperResult(-Errno.EINVAL);
  let sum = BigInt.asUintN(32, seed);
  const words = (addr: bigint, size: bigint, invert: boolean) => {
    if (size === 0n) return;
    const bytes = ctx.memory.slice(addr, Number(size), ctx.pc);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < bytes.length; i += 4) {
      const w = BigInt(view.getUint32(i, true));
      sum += invert ? w ^ 0xffffffffn : w;
    }
  };
  words(from, fromSize, true);
  words(to, toSize, false);
  while (sum > 0xffffn) sum = (sum & 0xffffn) + (sum >> 16n);
  return sum;
};
