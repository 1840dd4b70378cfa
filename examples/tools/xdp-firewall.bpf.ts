/**
 * xdp-firewall: drops packets whose source address falls in a blocked
 * prefix (IPv4 or IPv6, longest-prefix match in LPM tries), counting drops
 * and bytes per prefix; everything else passes.
 *   sudo npx tsbpf run examples/tools/xdp-firewall.bpf.ts --iface eth0 -- \
 *     --block 203.0.113.0/24 --block 2001:db8::/32 [--interval 5]
 * On Ctrl-C (or --duration) it prints, per blocked prefix, the packets and
 * bytes dropped, and the totals passed and dropped.
 */
import { atomic, htons, lpmTrie, perCpuArray, range, xdp, XdpAction, type be32, type FixedArray, type u32, type u64, type u8 } from 'tsbpf/dsl';
import { EthHdr, ETH_P_IP, ETH_P_IPV6, IpHdr, Ipv6Hdr } from 'tsbpf/dsl/net';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as self from './xdp-firewall.bpf.js';

export interface V4Prefix { prefixLen: u32; addr: be32 }
export interface V6Prefix { prefixLen: u32; addr: FixedArray<u8, 16> }
export interface Rule { packets: u64; bytes: u64 }

export const blocked4 = lpmTrie<V4Prefix, Rule>({ maxEntries: 4096 });
export const blocked6 = lpmTrie<V6Prefix, Rule>({ maxEntries: 4096 });
/** Slot 0: packets passed, slot 1: packets dropped. */
export const verdicts = perCpuArray<u64>({ maxEntries: 2 });

export const firewall = xdp((ctx) => {
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null) return XdpAction.PASS;
  if (eth.proto === htons(ETH_P_IP)) {
    const ip = ctx.packet.at(IpHdr, EthHdr.size);
    if (ip !== null) {
      const rule = blocked4.lookup({ prefixLen: 32, addr: ip.saddr });
      if (rule !== null) {
        atomic.add(rule, 'packets', 1);
        atomic.add(rule, 'bytes', ctx.packet.length);
        verdicts.increment(1);
        return XdpAction.DROP;
      }
    }
  } else if (eth.proto === htons(ETH_P_IPV6)) {
    const ip6 = ctx.packet.at(Ipv6Hdr, EthHdr.size);
    if (ip6 !== null) {
      let key!: V6Prefix;
      key.prefixLen = 128;
      for (const i of range(16)) key.addr[i] = ip6.saddr[i];
      const rule = blocked6.lookup(key);
      if (rule !== null) {
        atomic.add(rule, 'packets', 1);
        atomic.add(rule, 'bytes', ctx.packet.length);
        verdicts.increment(1);
        return XdpAction.DROP;
      }
    }
  }
  verdicts.increment(0);
  return XdpAction.PASS;
});

// ------------------------------------------------------------ user space

export const options = {
  block: { type: 'string', multiple: true },
  interval: { type: 'string' },
} as const;

/** A CIDR as an LPM key: IPv4 (a be32: user space sees network-order fields as numbers, 10.1.2.0 is 0x0a010200) or IPv6 (16 bytes). */
export function parsePrefix(cidr: string): { v: 4; key: { prefixLen: number; addr: number } } | { v: 6; key: { prefixLen: number; addr: number[] } } {
  const [addr, len] = cidr.split('/');
  if (addr === undefined) throw new Error(`bad prefix '${cidr}'`);
  if (addr.includes(':')) {
    const bytes = ipv6Bytes(addr);
    const prefixLen = len === undefined ? 128 : Number(len);
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 128) throw new Error(`bad prefix length in '${cidr}'`);
    return { v: 6, key: { prefixLen, addr: bytes } };
  }
  const parts = addr.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 address in '${cidr}'`);
  const prefixLen = len === undefined ? 32 : Number(len);
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) throw new Error(`bad prefix length in '${cidr}'`);
  return { v: 4, key: { prefixLen, addr: ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0 } };
}

function ipv6Bytes(text: string): number[] {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  if (all.length !== 8 || all.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) throw new Error(`bad IPv6 address '${text}'`);
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

const formatV6 = (b: number[]): string => Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
const formatV4 = (a: number): string => [a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff].join('.');

/** Fills the tries from --block, then prints the drops per prefix every --interval seconds and at the end. */
export async function main(live: LiveModule<typeof self>, args: ModuleArgs): Promise<void> {
  const blocks = (args.values.block as string[] | undefined) ?? [];
  for (const cidr of blocks) {
    const p = parsePrefix(cidr);
    if (p.v === 4) live.maps.blocked4.set(p.key, { packets: 0, bytes: 0 });
    else live.maps.blocked6.set(p.key, { packets: 0, bytes: 0 });
  }
  process.stderr.write(`blocking ${blocks.length} prefix${blocks.length === 1 ? '' : 'es'}\n`);
  const print = () => {
    process.stdout.write(`${'PREFIX'.padEnd(44)} ${'PACKETS'.padStart(10)} ${'BYTES'.padStart(12)}\n`);
    for (const [k, v] of live.maps.blocked4) process.stdout.write(`${`${formatV4(k.addr)}/${k.prefixLen}`.padEnd(44)} ${String(v.packets).padStart(10)} ${String(v.bytes).padStart(12)}\n`);
    for (const [k, v] of live.maps.blocked6) process.stdout.write(`${`${formatV6(k.addr)}/${k.prefixLen}`.padEnd(44)} ${String(v.packets).padStart(10)} ${String(v.bytes).padStart(12)}\n`);
    process.stdout.write(`passed ${live.maps.verdicts.get(0) ?? 0}, dropped ${live.maps.verdicts.get(1) ?? 0}\n`);
  };
  const seconds = args.values.interval === undefined ? undefined : Number(args.values.interval);
  const timer = seconds ? setInterval(print, seconds * 1000) : undefined;
  await new Promise<void>((resolve) => (args.signal.aborted ? resolve() : args.signal.addEventListener('abort', () => resolve(), { once: true })));
  if (timer) clearInterval(timer);
  print();
}
