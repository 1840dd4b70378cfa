/**
 * bpf_fib_lookup without a kernel: the interpreter has no routing table, so
 * by default every lookup answers NOT_FWDED ("give the packet to the stack")
 * and leaves the params as they were, which is what a program must already
 * handle. A test or tool that wants forwarding decisions supplies its own
 * table with `fibLookupWith(table)` in RunOptions.helpers.
 */
import type { Helper } from './helpers.js';
import { Errno, helperResult } from './maps.js';

/** sizeof(struct bpf_fib_lookup). */
export const FIB_PARAMS_SIZE = 64;

/** BPF_FIB_LKUP_RET_*. */
export const FibResult = {
  SUCCESS: 0, BLACKHOLE: 1, UNREACHABLE: 2, PROHIBIT: 3, NOT_FWDED: 4, FWD_DISABLED: 5,
  UNSUPP_LWT: 6, NO_NEIGH: 7, FRAG_NEEDED: 8, NO_SRC_ADDR: 9,
} as const;

/** The inputs of one lookup, as the program wrote them into struct bpf_fib_lookup. */
export interface FibQuery {
  family: number;
  l4Protocol: number;
  /** Network order, as stored. */
  sport: number;
  dport: number;
  totLen: number;
  ifindex: number;
  flags: number;
  /** The address bytes in network order: 4 for AF_INET, 16 for AF_INET6. */
  src: Uint8Array;
  dst: Uint8Array;
}

/** What the table answers; the outputs given are written back as the kernel writes them. */
export interface FibAnswer {
  result: number;
  /** The egress device (SUCCESS, NO_NEIGH). */
  ifindex?: number;
  /** The egress device's and the next hop's MAC addresses (SUCCESS). */
  smac?: Uint8Array;
  dmac?: Uint8Array;
  /** The next hop's address when the route has a gateway (replaces dst). */
  gateway?: Uint8Array;
  /** The route's MTU (FRAG_NEEDED: written into tot_len/mtu_result). */
  mtu?: number;
  /** The route's metric (rt_metric). */
  metric?: number;
}

export type FibTable = (query: FibQuery) => FibAnswer;

/** BPF_FIB_LOOKUP_DIRECT, OUTPUT, SKIP_NEIGH, TBID, SRC, MARK: others give -EINVAL. */
const KNOWN_FLAGS = 0x3fn;
const AF_INET = 2;
const AF_INET6 = 10;

/** A bpf_fib_lookup helper (ctx, params, plen, flags) that answers from `table`. */
export function fibLookupWith(table: FibTable): Helper {
  return (ctx, _ctxPtr, params, plen, flags) => {
    if (plen < BigInt(FIB_PARAMS_SIZE) || (flags & ~KNOWN_FLAGS) !== 0n) return helperResult(-Errno.EINVAL);
    const p = ctx.memory.slice(params, FIB_PARAMS_SIZE, ctx.pc, true);
    const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
    const family = p[0]!;
    if (family !== AF_INET && family !== AF_INET6) return helperResult(-Errno.EAFNOSUPPORT);
    const addrLen = family === AF_INET ? 4 : 16;
    const answer = table({
      family,
      l4Protocol: p[1]!,
      sport: view.getUint16(2, true),
      dport: view.getUint16(4, true),
      totLen: view.getUint16(6, true),
      ifindex: view.getUint32(8, true),
      flags: Number(BigInt.asUintN(32, flags)),
      src: p.slice(16, 16 + addrLen),
      dst: p.slice(32, 32 + addrLen),
    });
    if (answer.ifindex !== undefined) view.setUint32(8, answer.ifindex, true);
    if (answer.metric !== undefined) view.setUint32(12, answer.metric, true);
    if (answer.gateway) p.set(answer.gateway.subarray(0, addrLen), 32);
    if (answer.mtu !== undefined) view.setUint16(6, answer.mtu, true);
    if (answer.result === FibResult.SUCCESS) view.setUint32(48, 0, true); // h_vlan_proto and h_vlan_TCI are cleared on success
    if (answer.smac) p.set(answer.smac.subarray(0, 6), 52);
    if (answer.dmac) p.set(answer.dmac.subarray(0, 6), 58);
    return helperResult(answer.result);
  };
}

/** The default: no routing table, so nothing is forwarded. */
export const fibLookupNotForwarded: Helper = fibLookupWith(() => ({ result: FibResult.NOT_FWDED }));
