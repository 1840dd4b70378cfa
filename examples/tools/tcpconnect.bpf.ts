/**
 * tcpconnect: every active TCP connection (connect()), IPv4 and IPv6, with
 * the process that made it, as bcc's tcpconnect prints it; with -c, counts
 * of connections by source, destination and port instead. The BTF
 * tracepoint inet_sock_set_state gives the socket as a typed pointer: a
 * change from CLOSE to SYN_SENT is a connect() running in its process, and
 * the addresses are read from the socket through CO-RE.
 *   sudo npx tsbpf run examples/tools/tcpconnect.bpf.ts -- [-p PID] [-u UID] [-4|-6] [-P PORT[,PORT…]] [-U] [-t] [-c]
 */
import { bpf, global, hashMap, ntohs, range, ringBuf, tpBtf, type CStr, type FixedArray, type i32, type Ptr, type u16, type u32, type u64, type u8 } from 'tsbpf/dsl';
import type { sock } from 'tsbpf/dsl/kernel';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as tcpconnect from './tcpconnect.bpf.js';

const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const TCP_SYN_SENT = 2;
const TCP_CLOSE = 7;
const MAX_PORTS = 8;

/** Only this process (tgid; 0: every process), set by main from -p. */
export const targetTgid = global<u32>(0);
/** Only this user (-u), when filterUid is 1. */
export const targetUid = global<u32>(0);
export const filterUid = global<u32>(0);
/** Only this family (AF_INET with -4, AF_INET6 with -6; 0: both). */
export const targetFamily = global<u16>(0);
/** Only these destination ports (-P; all 0: every port). */
export const targetPorts = global<FixedArray<u16, 8>>([]);
/** 1: count connections in `counts` (-c) instead of sending events. */
export const counting = global<u32>(0);

export interface Connect {
  /** bpf_ktime_get_ns() when connect() sent its SYN. */
  ts: u64;
  pid: u32;
  uid: u32;
  family: u16;
  dport: u16;
  comm: CStr<16>;
  /** IPv4 addresses in the first four bytes. */
  saddr: FixedArray<u8, 16>;
  daddr: FixedArray<u8, 16>;
}

export interface Flow {
  saddr: FixedArray<u8, 16>;
  daddr: FixedArray<u8, 16>;
  family: u16;
  dport: u16;
}

export const connects = ringBuf<Connect>({ size: 256 * 1024 });
export const counts = hashMap<Flow, u64>({ maxEntries: 10240 });

/** Whether the destination port is one of -P's (or -P was not given). */
function portWanted(dport: u16): boolean {
  const ports = targetPorts.get();
  if (ports[0] === 0) return true;
  for (const i of range(MAX_PORTS)) {
    if (ports[i] === dport) return true;
  }
  return false;
}

/** The socket's addresses into `saddr`/`daddr` (IPv4 in the first four bytes, the rest zero). */
function readAddresses(sk: Ptr<sock>, family: u16, saddr: FixedArray<u8, 16>, daddr: FixedArray<u8, 16>): void {
  if (family === AF_INET) {
    for (const i of range(16)) {
      saddr[i] = 0;
      daddr[i] = 0;
    }
    const s = sk.__sk_common.skc_rcv_saddr;
    const d = sk.__sk_common.skc_daddr;
    // be32 as stored: the first address byte is the low byte.
    for (const i of range(4)) {
      saddr[i] = s >> (i * 8);
      daddr[i] = d >> (i * 8);
    }
  } else {
    bpf.probeReadKernel(saddr, sk.__sk_common.skc_v6_rcv_saddr);
    bpf.probeReadKernel(daddr, sk.__sk_common.skc_v6_daddr);
  }
}

export const onStateChange = tpBtf('inet_sock_set_state', (sk: Ptr<sock>, oldstate: i32, newstate: i32) => {
  if (oldstate !== TCP_CLOSE || newstate !== TCP_SYN_SENT) return 0;
  if (sk.sk_protocol !== IPPROTO_TCP) return 0;
  const tgid = bpf.tgid();
  if (targetTgid.get() !== 0 && tgid !== targetTgid.get()) return 0;
  const uid = bpf.uid();
  if (filterUid.get() !== 0 && uid !== targetUid.get()) return 0;
  const family = sk.__sk_common.skc_family;
  if (family !== AF_INET && family !== AF_INET6) return 0;
  if (targetFamily.get() !== 0 && family !== targetFamily.get()) return 0;
  const dport = ntohs(sk.__sk_common.skc_dport);
  if (!portWanted(dport)) return 0;
  if (counting.get() !== 0) {
    let flow!: Flow;
    flow.family = family;
    flow.dport = dport;
    readAddresses(sk, family, flow.saddr, flow.daddr);
    counts.increment(flow);
    return 0;
  }
  const e = connects.reserve();
  if (e === null) return 0;
  e.ts = bpf.ktimeNs();
  e.pid = tgid;
  e.uid = uid;
  e.family = family;
  e.dport = dport;
  bpf.currentComm(e.comm);
  readAddresses(sk, family, e.saddr, e.daddr);
  connects.submit(e);
  return 0;
});

// ------------------------------------------------------------ user space

export const options = {
  pid: { type: 'string', short: 'p' },
  uid: { type: 'string', short: 'u' },
  ipv4: { type: 'boolean', short: '4' },
  ipv6: { type: 'boolean', short: '6' },
  port: { type: 'string', short: 'P' },
  'print-uid': { type: 'boolean', short: 'U' },
  timestamp: { type: 'boolean', short: 't' },
  count: { type: 'boolean', short: 'c' },
} as const;

/** An address as text: dotted quad, or IPv6 in its compressed form (RFC 5952). */
export function formatAddress(family: number, bytes: ArrayLike<number>): string {
  if (family === AF_INET) return Array.from(bytes).slice(0, 4).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // The longest run of two or more zero groups becomes '::' (the first of equal runs).
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLength))}`;
}

function number(name: string, text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`-${name} ${text}: not a number`);
  return n;
}

/** bcc's tcpconnect: PID COMM IP SADDR DADDR DPORT per connection, or with -c LADDR RADDR RPORT CONNECTS at the end. */
export async function main(live: LiveModule<typeof tcpconnect>, args: ModuleArgs): Promise<void> {
  const v = args.values;
  const pid = number('p', v.pid);
  const uid = number('u', v.uid);
  const ports = typeof v.port === 'string' ? v.port.split(',').map((p) => number('P', p)!) : [];
  if (ports.length > MAX_PORTS || ports.some((p) => p === 0 || p > 65535)) throw new Error(`-P ${v.port}: up to ${MAX_PORTS} ports in 1…65535`);
  if (pid !== undefined) live.globals.targetTgid = pid;
  if (uid !== undefined) {
    live.globals.targetUid = uid;
    live.globals.filterUid = 1;
  }
  if (v.ipv4 === true) live.globals.targetFamily = AF_INET;
  if (v.ipv6 === true) live.globals.targetFamily = AF_INET6;
  if (ports.length > 0) live.globals.targetPorts = ports;
  if (v.count === true) {
    live.globals.counting = 1;
    live.maps.counts.clear();
    process.stdout.write('Tracing connect ... Hit Ctrl-C to end\n');
    for await (const _ of args.reports(undefined)) {
      process.stdout.write(`\n${'LADDR'.padEnd(25)} ${'RADDR'.padEnd(25)} ${'RPORT'.padEnd(20)} CONNECTS\n`);
      const rows = [...live.maps.counts].sort((a, b) => Number(b[1]) - Number(a[1]));
      for (const [k, n] of rows) {
        process.stdout.write(`${formatAddress(k.family, k.saddr).padEnd(25)} ${formatAddress(k.family, k.daddr).padEnd(25)} ${String(k.dport).padEnd(20)} ${n}\n`);
      }
    }
    return;
  }
  let first: number | undefined;
  process.stdout.write(`${v.timestamp === true ? `${'TIME(s)'.padEnd(9)} ` : ''}${v['print-uid'] === true ? `${'UID'.padEnd(6)} ` : ''}${'PID'.padEnd(6)} ${'COMM'.padEnd(12)} ${'IP'.padEnd(2)} ${'SADDR'.padEnd(16)} ${'DADDR'.padEnd(16)} DPORT\n`);
  for await (const e of live.events.connects) {
    first ??= e.ts;
    const time = v.timestamp === true ? `${((e.ts - first) / 1e9).toFixed(3).padEnd(9)} ` : '';
    const user = v['print-uid'] === true ? `${String(e.uid).padEnd(6)} ` : '';
    const ip = e.family === AF_INET ? 4 : 6;
    process.stdout.write(`${time}${user}${String(e.pid).padEnd(6)} ${e.comm.slice(0, 12).padEnd(12)} ${String(ip).padEnd(2)} ${formatAddress(e.family, e.saddr).padEnd(16)} ${formatAddress(e.family, e.daddr).padEnd(16)} ${e.dport}\n`);
  }
}
