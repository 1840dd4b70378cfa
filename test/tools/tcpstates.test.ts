/**
 * tcpstates against bpftrace on the same workload: a TCP connection over
 * 127.0.0.1 and one over ::1 to a port of the test's own, opened and
 * closed; both list every state change with addresses and ports (the
 * tracepoint's array fields saddr/daddr and saddr_v6/daddr_v6).
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, startBpftrace, startTool, stopBpftrace, stopTool } from './support.js';

/** One connection to host:port, closed by both sides; resolves when the server saw it end. */
async function connectAndClose(server: Server, host: string, port: number): Promise<void> {
  const ended = new Promise<void>((resolve) => server.once('connection', (s) => { s.on('end', () => { s.end(); resolve(); }); }));
  await new Promise<void>((resolve, reject) => {
    const c = connect({ host, port }, () => c.end());
    c.on('close', () => resolve());
    c.on('error', reject);
  });
  await ended;
}

describe('tools: tcpstates (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-tcpstates-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the state changes of an IPv4 and an IPv6 connection with addresses and ports, as bpftrace sees them', async function () {
    needKernel(this);
    if (!haveBpftrace()) this.skip();
    const port = 20000 + (process.pid % 20000);
    const v4 = createServer().listen(port, '127.0.0.1');
    const v6 = createServer().listen(port, '::1');
    await Promise.all([v4, v6].map((s) => new Promise((r) => s.once('listening', r))));
    // The server's side of each connection: the changes whose local port is the test's.
    const tool = await startTool('tcpstates', ['-L', String(port)], join(dir, 'cache'), /NEWSTATE\s+MS\n/);
    const bt = await startBpftrace(
      `tracepoint:sock:inet_sock_set_state /args->protocol == 6 && args->sport == ${port}/ {\n` +
      `  if (args->family == 2) { printf("%s %d %s %d %d %d\\n", ntop(args->saddr), args->sport, ntop(args->daddr), args->dport, args->oldstate, args->newstate); }\n` +
      `  else { printf("%s %d %s %d %d %d\\n", ntop(args->saddr_v6), args->sport, ntop(args->daddr_v6), args->dport, args->oldstate, args->newstate); } }`,
    );
    let traced = '';
    try {
      await connectAndClose(v4, '127.0.0.1', port);
      await connectAndClose(v6, '::1', port);
      // Both sides of each connection go to CLOSE (state 7) once TIME_WAIT is reached or the socket closes.
      // Closing the listeners ends the workload: LISTEN -> CLOSE (10 -> 7) is the last change of each.
      await Promise.all([v4, v6].map((s) => new Promise((r) => s.close(r))));
      const closes = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l)).length;
      await eventually(30, () => closes(tool.stdout, /LISTEN\s+-> CLOSE/) === 2 && closes(bt.stdout, / 10 7$/) === 2);
    } finally {
      traced = await stopBpftrace(bt);
      v4.close();
      v6.close();
    }
    const out = await stopTool(tool);
    const names = ['', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV'];
    const expected = traced.trim().split('\n').filter((l) => l !== '').map((l) => {
      const [la, lp, ra, rp, o, n] = l.split(' ');
      return `${la} ${lp} ${ra} ${rp} ${names[Number(o)]} ${names[Number(n)]}`;
    }).sort();
    const [header, ...rows] = out.trim().split('\n');
    expect(header).to.match(/^SKADDR\s+C-PID C-COMM\s+LADDR\s+LPORT RADDR\s+RPORT OLDSTATE\s+-> NEWSTATE\s+MS$/);
    const seen = rows.map((r) => {
      const f = r.trim().split(/\s+/);
      return `${f[3]} ${f[4]} ${f[5]} ${f[6]} ${f[7]} ${f[9]}`;
    }).sort();
    expect(seen.some((l) => l.startsWith('::1 ')), seen.join('\n')).to.equal(true);
    expect(seen.some((l) => l.startsWith('127.0.0.1 ')), seen.join('\n')).to.equal(true);
    expect(seen).to.deep.equal(expected);
  });
});
