/**
 * The far end of a veth pair, run inside its network namespace
 * (`ip netns exec NS node --import tsx ns-peer.ts JSON`): a UDP socket that
 * receives datagrams (the kernel drops any whose IP or UDP checksum is
 * wrong), and a packet socket that captures every frame on the interface
 * and can send raw frames out of it. Prints `ready` when listening, sends
 * its frames, then prints one JSON line (PeerReport) when `expect`
 * datagrams arrived or `timeoutMs` passed.
 */
import dgram from 'node:dgram';
import { attachXdp } from '../../../src/kernel/link-netdev.js';
import { closeFd } from '../../../src/syscall/fd.js';
import { recvNonBlocking } from '../../../src/syscall/socket.js';
import { packetSocket, sendFrame } from './frames.js';

export interface PeerOptions {
  iface: string;
  bind: { ip: string; port: number };
  /** Raw frames (hex) to send out of the interface once listening. */
  send?: string[];
  expect: number;
  timeoutMs: number;
  /**
   * An XDP program (a file descriptor the parent passed) to attach to the
   * interface first: veth hands XDP_TX frames only to a peer with XDP (NAPI) on.
   */
  xdpFd?: number;
}

export interface PeerReport {
  /** What the UDP socket received, with the source address. */
  datagrams: Array<{ from: string; port: number; data: string }>;
  /** Every frame on the interface, both directions (hex). */
  frames: string[];
}

async function main(opts: PeerOptions): Promise<PeerReport> {
  const xdp = opts.xdpFd !== undefined ? attachXdp({ fd: opts.xdpFd }, opts.iface) : undefined;
  const capture = packetSocket(opts.iface);
  const sock = dgram.createSocket('udp4');
  const datagrams: PeerReport['datagrams'] = [];
  sock.on('message', (msg, rinfo) => datagrams.push({ from: rinfo.address, port: rinfo.port, data: msg.toString() }));
  await new Promise<void>((resolve) => sock.bind(opts.bind.port, opts.bind.ip, resolve));
  process.stdout.write('ready\n');
  for (const f of opts.send ?? []) sendFrame(capture, Buffer.from(f, 'hex'));
  const deadline = Date.now() + opts.timeoutMs;
  while (datagrams.length < opts.expect && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  sock.close();
  const frames: string[] = [];
  const buf = new Uint8Array(65536);
  for (let n = recvNonBlocking(capture, buf); n >= 0; n = recvNonBlocking(capture, buf)) frames.push(Buffer.from(buf.subarray(0, n)).toString('hex'));
  closeFd(capture);
  xdp?.close();
  return { datagrams, frames };
}

main(JSON.parse(process.argv[2]!) as PeerOptions).then(
  (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
