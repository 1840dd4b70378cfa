/**
 * tcplife: one line per TCP connection when it closes (sock:inet_sock_set_state),
 * IPv4 and IPv6, with the process that opened or closed it, the bytes sent
 * and received (read from the tcp_sock through CO-RE) and how long it lived,
 * as bcc's tcplife prints them.
 *   sudo npx tsbpf run examples/tools/tcplife.bpf.ts -- [-p PID] [-4|-6] [-L PORTS] [-D PORTS] [-w] [-T] [-t]
 */
import { bpf, hashMap, ringBuf, tracepoint, type CStr, type FixedArray, type i32, type Ptr, type u16, type u32, type u64, type u8 } from 'tsbpf/dsl';
import type { tcp_sock } from 'tsbpf/dsl/kernel';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as tcplife from './tcplife.bpf.js';
import { formatAddress, inetFilter, inetOptions } from './tcpstates.bpf.js';

const AF_INET = 2;
const IPPROTO_TCP = 6;
const TCP_SYN_SENT = 2;
const TCP_FIN_WAIT1 = 4;
const TCP_CLOSE = 7;
const TCP_LAST_ACK = 9;

export interface Life {
  /** From the first state at or before ESTABLISHED to CLOSE, in microseconds. */
  spanUs: u64;
  /** tcp_sock.bytes_received and bytes_acked: payload bytes, without SYN and FIN. */
  rxBytes: u64;
  txBytes: u64;
  pid: u32;
  family: u16;
  sport: u16;
  dport: u16;
  comm: CStr<16>;
  /** IPv6, or IPv4-mapped IPv6 for IPv4 (the address in the last four bytes). */
  saddr: FixedArray<u8, 16>;
  daddr: FixedArray<u8, 16>;
}

/** Who a socket belongs to, noted where the kernel runs in its process (connect, close of a passive side). */
export interface Owner {
  pid: u32;
  comm: CStr<16>;
}

/** The fields of the tracepoint this tool reads; skaddr is the socket (the format's `const void *`), a tcp_sock for TCP. */
interface InetSockSetState {
  skaddr: Ptr<tcp_sock>;
  oldstate: i32;
  newstate: i32;
  sport: u16;
  dport: u16;
  family: u16;
  protocol: u16;
  saddr_v6: FixedArray<u8, 16>;
  daddr_v6: FixedArray<u8, 16>;
}

export const lives = ringBuf<Life>({ size: 256 * 1024 });
/** When each socket was born (SYN_SENT, SYN_RECV or ESTABLISHED). */
const births = hashMap<Ptr<tcp_sock>, u64>({ maxEntries: 10240 });
const owners = hashMap<Ptr<tcp_sock>, Owner>({ maxEntries: 10240 });

export const onStateChange = tracepoint<InetSockSetState>('sock/inet_sock_set_state', (ctx) => {
  if (ctx.protocol !== IPPROTO_TCP) return 0;
  const sk = ctx.skaddr;
  const state = ctx.newstate;
  if (state < TCP_FIN_WAIT1) births.update(sk, bpf.ktimeNs());
  if (state === TCP_SYN_SENT || state === TCP_LAST_ACK) {
    let owner!: Owner;
    owner.pid = bpf.pid();
    bpf.currentComm(owner.comm);
    owners.update(sk, owner);
  }
  if (state !== TCP_CLOSE) return 0;
  const born = births.lookup(sk);
  if (born === null) {
    // Born before the tool started: no span to report.
    owners.delete(sk);
    return 0;
  }
  const e = lives.reserve();
  if (e === null) return 0;
  e.spanUs = (bpf.ktimeNs() - born) / 1000;
  e.rxBytes = sk.bytes_received;
  e.txBytes = sk.bytes_acked;
  const owner = owners.lookup(sk);
  if (owner === null) {
    e.pid = bpf.pid();
    bpf.currentComm(e.comm);
  } else {
    e.pid = owner.pid;
    bpf.probeReadKernelStr(e.comm, owner.comm);
  }
  e.family = ctx.family;
  e.sport = ctx.sport;
  e.dport = ctx.dport;
  // IPv4 sockets have their addresses there too, as IPv4-mapped IPv6 (::ffff:a.b.c.d).
  bpf.probeReadKernel(e.saddr, ctx.saddr_v6);
  bpf.probeReadKernel(e.daddr, ctx.daddr_v6);
  lives.submit(e);
  births.delete(sk);
  owners.delete(sk);
  return 0;
});

// ------------------------------------------------------------ user space

export const options = {
  pid: { type: 'string', short: 'p' },
  ...inetOptions,
  wide: { type: 'boolean', short: 'w' },
  time: { type: 'boolean', short: 'T' },
  timestamp: { type: 'boolean', short: 't' },
} as const;

/** Columns as bcc's tcplife prints them: PID COMM LADDR LPORT RADDR RPORT TX_KB RX_KB MS. */
export async function main(live: LiveModule<typeof tcplife>, args: ModuleArgs): Promise<void> {
  const v = args.values;
  const pid = typeof v.pid === 'string' ? Number(v.pid) : undefined;
  if (pid !== undefined && (!Number.isInteger(pid) || pid <= 0)) throw new Error(`-p ${v.pid}: not a process id`);
  const wanted = inetFilter(v);
  const width = v.wide === true ? 39 : v.ipv4 === true ? 15 : 26;
  const start = process.hrtime.bigint();
  const prefix = (time: string, stamp: string) => `${v.time === true ? `${time.padEnd(8)} ` : ''}${v.timestamp === true ? `${stamp.padEnd(9)} ` : ''}`;
  process.stdout.write(`${prefix('TIME', 'TIME(s)')}${'PID'.padEnd(7)} ${'COMM'.padEnd(16)} ${'LADDR'.padEnd(width)} ${'LPORT'.padEnd(5)} ${'RADDR'.padEnd(width)} ${'RPORT'.padEnd(5)} ${'TX_KB'.padEnd(6)} ${'RX_KB'.padEnd(6)} MS\n`);
  for await (const e of live.events.lives) {
    if (pid !== undefined && e.pid !== pid) continue;
    if (!wanted(e)) continue;
    const time = new Date().toTimeString().slice(0, 8);
    const stamp = (Number(process.hrtime.bigint() - start) / 1e9).toFixed(6);
    const address = (bytes: number[]) => formatAddress(e.family, e.family === AF_INET ? bytes.slice(12) : bytes);
    const l = address(e.saddr as unknown as number[]);
    const r = address(e.daddr as unknown as number[]);
    const kb = (n: number | bigint) => (Number(n) / 1024).toFixed(2).padEnd(6);
    process.stdout.write(`${prefix(time, stamp)}${String(e.pid).padEnd(7)} ${e.comm.padEnd(16)} ${l.padEnd(width)} ${String(e.sport).padEnd(5)} ${r.padEnd(width)} ${String(e.dport).padEnd(5)} ${kb(e.txBytes)} ${kb(e.rxBytes)} ${(Number(e.spanUs) / 1000).toFixed(2)}\n`);
  }
}
