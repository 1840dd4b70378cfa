/**
 * tcpconnect against bpftrace on the same workload: this process connects
 * three times to 127.0.0.1 and twice to ::1, to listeners of its own on a
 * port of the test's own. The tool (tp_btf inet_sock_set_state, addresses
 * read from the socket through CO-RE) lists each connect with the process,
 * addresses and port, as bpftrace sees them on the sock:inet_sock_set_state
 * tracepoint; a second instance with -c counts them by flow.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needKernel } from '../support/kernel.js';
import { eventually, haveBpftrace, startBpftrace, startTool, stopBpftrace, stopTool } from './support.js';

/** One connection to host:port, closed once established. */
async function connectOnce(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const c = connect({ host, port }, () => c.end());
    c.on('close', () => resolve());
    c.on('error', reject);
  });
}

describe('tools: tcpconnect (compared with bpftrace)', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-tcpconnect-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists IPv4 and IPv6 connects with PID COMM IP SADDR DADDR DPORT, and counts them with -c, as bpftrace sees them', async function () {
    needKernel(this);
    if (!haveBpftrace()) this.skip();
    const port = 20000 + ((process.pid + 7919) % 20000);
    const servers: Server[] = [createServer((s) => s.resume()).listen(port, '127.0.0.1'), createServer((s) => s.resume()).listen(port, '::1')];
    await Promise.all(servers.map((s) => new Promise((r) => s.once('listening', r))));
    const cache = join(dir, 'cache');
    let tool;
    let counter;
    let bt;
    let traced = '';
    try {
      // The first compiles the module into the cache, the second loads it from there.
      tool = await startTool('tcpconnect', ['-P', String(port)], cache, /DPORT\n/);
      counter = await startTool('tcpconnect', ['-c', '-p', String(process.pid)], cache, /Hit Ctrl-C to end\n/);
      bt = await startBpftrace(
        `tracepoint:sock:inet_sock_set_state /args->oldstate == 7 && args->newstate == 2 && args->dport == ${port}/ {\n` +
        `  if (args->family == 2) { printf("%d %s 4 %s %s %d\\n", pid, comm, ntop(args->saddr), ntop(args->daddr), args->dport); }\n` +
        `  else { printf("%d %s 6 %s %s %d\\n", pid, comm, ntop(args->saddr_v6), ntop(args->daddr_v6), args->dport); } }`,
      );
      for (let i = 0; i < 3; i++) await connectOnce('127.0.0.1', port);
      for (let i = 0; i < 2; i++) await connectOnce('::1', port);
      const lines = (text: string) => text.split('\n').filter((l) => new RegExp(` ${port}$`).test(l)).length;
      await eventually(30, () => lines(tool!.stdout) === 5 && lines(bt!.stdout) === 5);
    } finally {
      if (bt) traced = await stopBpftrace(bt);
      for (const s of servers) s.close();
      if (!bt) {
        tool?.child.kill('SIGKILL');
        counter?.child.kill('SIGKILL');
      }
    }
    const out = await stopTool(tool!);
    const counted = await stopTool(counter!);

    const [header, ...rows] = out.trim().split('\n');
    expect(header).to.match(/^PID\s+COMM\s+IP SADDR\s+DADDR\s+DPORT$/);
    const seen = rows.map((r) => r.trim().split(/\s+/).join(' ')).sort();
    const expected = traced.trim().split('\n').filter((l) => l !== '').map((l) => {
      // bpftrace's comm is 16 bytes; bcc's column shows 12.
      const f = l.split(' ');
      return [f[0], f[1]!.slice(0, 12), ...f.slice(2)].join(' ');
    }).sort();
    expect(seen).to.deep.equal(expected);
    expect(seen.map((l) => l.split(' ').slice(2).join(' '))).to.deep.equal([
      ...Array(3).fill(`4 127.0.0.1 127.0.0.1 ${port}`),
      ...Array(2).fill(`6 ::1 ::1 ${port}`),
    ]);
    expect(new Set(seen.map((l) => l.split(' ')[0]))).to.deep.equal(new Set([String(process.pid)]));

    // -c -p PID: this process's connects by flow (the test makes no others).
    const table = counted.slice(counted.indexOf('LADDR')).trim().split('\n');
    expect(table[0]).to.match(/^LADDR\s+RADDR\s+RPORT\s+CONNECTS$/);
    expect(table.slice(1).map((r) => r.trim().split(/\s+/).join(' '))).to.deep.equal([`127.0.0.1 127.0.0.1 ${port} 3`, `::1 ::1 ${port} 2`]);
  });
});
