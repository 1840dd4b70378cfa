/**
 * tcplife against bpftrace on the same workload: one TCP connection over
 * 127.0.0.1 and one over ::1 to a port of the test's own, the client
 * sending 3 KiB and the server answering 5 KiB before both close. Each
 * side of each connection is one line when it closes; the bytes come from
 * the tcp_sock (CO-RE in the tool, a BTF cast in bpftrace) and are known
 * by construction.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, startBpftrace, startTool, stopBpftrace, stopTool } from './support.js';

const SENT = 3 * 1024;
const ANSWERED = 5 * 1024;

/** The server answers ANSWERED bytes once it has SENT bytes, and closes when the client does. */
function answering(server: Server): void {
  server.on('connection', (s) => {
    let got = 0;
    s.on('data', (d) => {
      got += d.length;
      if (got === SENT) s.write(Buffer.alloc(ANSWERED, 0x5a));
    });
    s.on('end', () => s.end());
  });
}

/** One connection: SENT bytes out, ANSWERED bytes back, then the client closes; resolves when both sides closed. */
async function converse(server: Server, host: string, port: number): Promise<void> {
  const serverClosed = new Promise<void>((resolve) => server.once('connection', (s) => s.on('close', () => resolve())));
  await new Promise<void>((resolve, reject) => {
    const c = connect({ host, port }, () => c.write(Buffer.alloc(SENT, 0xa5)));
    let got = 0;
    c.on('data', (d) => {
      got += d.length;
      if (got === ANSWERED) c.end();
    });
    c.on('close', () => resolve());
    c.on('error', reject);
  });
  await serverClosed;
}

describe('tools: tcplife (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-tcplife-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives each side of an IPv4 and an IPv6 connection with addresses, ports and bytes, as bpftrace reads them', async function () {
    needKernel(this);
    if (!haveBpftrace()) this.skip();
    const port = 20000 + ((process.pid + 7919) % 20000);
    const v4 = createServer().listen(port, '127.0.0.1');
    const v6 = createServer().listen(port, '::1');
    await Promise.all([v4, v6].map((s) => new Promise((r) => s.once('listening', r))));
    answering(v4);
    answering(v6);
    const tool = await startTool('tcplife', ['-p', String(process.pid), '-w'], join(dir, 'cache'), /RX_KB\s+MS\n/);
    const bt = await startBpftrace(
      `tracepoint:sock:inet_sock_set_state /args->protocol == 6 && args->newstate == 7 && args->oldstate != 10 && (args->sport == ${port} || args->dport == ${port})/ {\n` +
      `  $tp = (struct tcp_sock *)args->skaddr;\n` +
      `  if (args->family == 2) { printf("%s %d %s %d %d %d\\n", ntop(args->saddr), args->sport, ntop(args->daddr), args->dport, $tp->bytes_acked, $tp->bytes_received); }\n` +
      `  else { printf("%s %d %s %d %d %d\\n", ntop(args->saddr_v6), args->sport, ntop(args->daddr_v6), args->dport, $tp->bytes_acked, $tp->bytes_received); } }`,
    );
    let traced = '';
    const ours = (text: string) => text.split('\n').filter((l) => l.includes(` ${port} `));
    try {
      await converse(v4, '127.0.0.1', port);
      await converse(v6, '::1', port);
      await eventually(30, () => ours(tool.stdout).length === 4 && ours(bt.stdout).length === 4);
    } finally {
      traced = await stopBpftrace(bt);
      v4.close();
      v6.close();
    }
    const out = await stopTool(tool);
    const kb = (n: string) => (Number(n) / 1024).toFixed(2);
    const expected = traced.trim().split('\n').filter((l) => l !== '').map((l) => {
      const [la, lp, ra, rp, tx, rx] = l.split(' ');
      return `${la} ${lp} ${ra} ${rp} ${kb(tx!)} ${kb(rx!)}`;
    }).sort();
    const [header, ...rows] = out.trim().split('\n');
    expect(header).to.match(/^PID\s+COMM\s+LADDR\s+LPORT RADDR\s+RPORT TX_KB\s+RX_KB\s+MS$/);
    const seen = ours(rows.join('\n')).map((r) => r.trim().split(/\s+/));
    expect(seen.map((f) => `${f[2]} ${f[3]} ${f[4]} ${f[5]} ${f[6]} ${f[7]}`).sort()).to.deep.equal(expected);
    // By construction: the client sent 3 KiB and got 5 KiB, the server the reverse; both sockets are this process's.
    const sides = seen.map((f) => `${f[2]} ${f[3] === String(port) ? 'server' : 'client'} ${f[6]} ${f[7]}`).sort();
    expect(sides).to.deep.equal(['127.0.0.1 client 3.00 5.00', '127.0.0.1 server 5.00 3.00', '::1 client 3.00 5.00', '::1 server 5.00 3.00']);
    expect(seen.every((f) => f[0] === String(process.pid)), out).to.equal(true);
    expect(seen.every((f) => Number(f[8]) >= 0), out).to.equal(true);
  });
});
