/**
 * tcpstates: every TCP state change (sock:inet_sock_set_state), IPv4 and
 * IPv6, with the time spent in the old state, as bcc's tcpstates prints it.
 *   sudo npx tsbpf run examples/tools/tcpstates.bpf.ts -- [-4|-6] [-L PORT] [-D PORT] [--time]
 */
import { bpf, hashMap, range, ringBuf, tracepoint, type CStr, type FixedArray, type i32, type u16, type u32, type u64, type u8 } from 'tsbpf/dsl';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as tcpstates from './tcpstates.bpf.js';

const AF_INET = 2;
const IPPROTO_TCP = 6;

export interface StateChange {
  skaddr: u64;
  /** Time in the old state, in microseconds (0 when the socket was not seen before). */
  deltaUs: u64;
  pid: u32;
  oldstate: i32;
  newstate: i32;
  family: u16;
  sport: u16;
  dport: u16;
  comm: CStr<16>;
  saddr: FixedArray<u8, 16>;
  daddr: FixedArray<u8, 16>;
}

/** The fields of the tracepoint this tool reads (typed for TypeScript; the compiler reads the format). */
interface InetSockSetState {
  skaddr: u64;
  oldstate: i32;
  newstate: i32;
  sport: u16;
  dport: u16;
  family: u16;
  protocol: u16;
  saddr: FixedArray<u8, 4>;
  daddr: FixedArray<u8, 4>;
  saddr_v6: FixedArray<u8, 16>;
  daddr_v6: FixedArray<u8, 16>;
}

export const changes = ringBuf<StateChange>({ size: 256 * 1024 });
/** When each socket entered its current state. */
const since = hashMap<u64, u64>({ maxEntries: 10240 });

export const onStateChange = tracepoint<InetSockSetState>('sock/inet_sock_set_state', (ctx) => {
  if (ctx.protocol !== IPPROTO_TCP) return 0;
  const sk = ctx.skaddr;
  const now = bpf.ktimeNs();
  const then = since.lookup(sk);
  const e = changes.reserve();
  if (e === null) return 0;
  e.skaddr = sk;
  e.deltaUs = then === null ? 0 : (now - then) / 1000;
  e.pid = bpf.pid();
  e.oldstate = ctx.oldstate;
  e.newstate = ctx.newstate;
  e.family = ctx.family;
  e.sport = ctx.sport;
  e.dport = ctx.dport;
  bpf.currentComm(e.comm);
  if (ctx.family === AF_INET) {
    for (const i of range(16)) e.saddr[i] = 0;
    for (const i of range(16)) e.daddr[i] = 0;
    for (const i of range(4)) {
      e.saddr[i] = ctx.saddr[i];
      e.daddr[i] = ctx.daddr[i];
    }
  } else {
    bpf.probeReadKernel(e.saddr, ctx.saddr_v6);
    bpf.probeReadKernel(e.daddr, ctx.daddr_v6);
  }
  changes.submit(e);
  // TCP_CLOSE (7): the socket is gone.
  if (ctx.newstate === 7) since.delete(sk);
  else since.update(sk, now);
  return 0;
});

const STATES = ['', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV'];
const stateName = (s: number): string => STATES[s] ?? `UNKNOWN(${s})`;

/** An address as text: dotted quad, or IPv6 in its compressed form. */
export function formatAddress(family: number, bytes: number[]): string {
  if (family === AF_INET) return bytes.slice(0, 4).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  let best = [-1, 0];
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best[1]! && j - i > 1) best = [i, j - i];
    i = j;
  }
  if (best[0]! < 0) return groups.join(':');
  return `${groups.slice(0, best[0]).join(':')}::${groups.slice(best[0]! + best[1]!).join(':')}`;
}

/** The filters bcc's TCP tools share: -4, -6, -L PORT[,PORT…] (local), -D PORT[,PORT…] (remote). */
export const inetOptions = {
  ipv4: { type: 'boolean', short: '4' },
  ipv6: { type: 'boolean', short: '6' },
  localport: { type: 'string', short: 'L' },
  remoteport: { type: 'string', short: 'D' },
} as const;

/** Whether an event passes the -4/-6/-L/-D options given. */
export function inetFilter(v: ModuleArgs['values']): (e: { family: number; sport: number; dport: number }) => boolean {
  const ports = (o: unknown) => (typeof o === 'string' ? new Set(o.split(',').map(Number)) : undefined);
  const lport = ports(v.localport);
  const rport = ports(v.remoteport);
  return (e) => !(v.ipv4 === true && e.family !== AF_INET) && !(v.ipv6 === true && e.family === AF_INET) && (!lport || lport.has(e.sport)) && (!rport || rport.has(e.dport));
}

export const options = {
  ...inetOptions,
  time: { type: 'boolean', short: 'T' },
} as const;

/** Columns as bcc's tcpstates prints them. */
export async function main(live: LiveModule<typeof tcpstates>, args: ModuleArgs): Promise<void> {
  const v = args.values;
  const wanted = inetFilter(v);
  const width = v.ipv4 === true ? 15 : 39;
  process.stdout.write(`${v.time === true ? 'TIME     ' : ''}${'SKADDR'.padEnd(16)} ${'C-PID'.padStart(7)} ${'C-COMM'.padEnd(16)} ${'LADDR'.padEnd(width)} ${'LPORT'.padStart(5)} ${'RADDR'.padEnd(width)} ${'RPORT'.padStart(5)} OLDSTATE    -> NEWSTATE    MS\n`);
  for await (const e of live.events.changes) {
    if (!wanted(e)) continue;
    const time = v.time === true ? `${new Date().toTimeString().slice(0, 8)} ` : '';
    const l = formatAddress(e.family, e.saddr as unknown as number[]);
    const r = formatAddress(e.family, e.daddr as unknown as number[]);
    process.stdout.write(`${time}${e.skaddr.toString(16).padStart(16, '0')} ${String(e.pid).padStart(7)} ${e.comm.padEnd(16)} ${l.padEnd(width)} ${String(e.sport).padStart(5)} ${r.padEnd(width)} ${String(e.dport).padStart(5)} ${stateName(e.oldstate).padEnd(11)} -> ${stateName(e.newstate).padEnd(11)} ${(Number(e.deltaUs) / 1000).toFixed(3)}\n`);
  }
}
