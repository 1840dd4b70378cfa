/**
 * examples/tools/xdp-firewall on a veth pair whose peer sits in a network
 * namespace of the test's own: datagrams from a blocked prefix are dropped
 * at XDP, others pass. The oracle is the host's own UDP socket, which
 * counts what the kernel delivered; the tool's table must agree with it.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { spawnRun, until } from '../support/cli.js';
import { patience } from '../support/wait.js';
import type { VethNetns } from '../kernel/netns-fixture.js';
import { vethSuite } from './veth-suite.js';
import { eventually, stopTool } from './support.js';
import { parsePrefix } from '../../examples/tools/xdp-firewall.bpf.js';

/** Sends `count` datagrams from inside the namespace, from source address `from`, and waits until they are out. */
function sendFrom(net: VethNetns, from: string, count: number, to: string, port: number): void {
  const script = `const s=require('dgram').createSocket('udp4');s.bind({address:'${from}'},()=>{let n=0;const go=()=>{if(n===${count})return s.close();s.send(Buffer.from('fw'),${port},'${to}',()=>{n++;go();});};go();});`;
  execFileSync('ip', ['netns', 'exec', net.ns, process.execPath, '-e', script], { stdio: 'ignore', timeout: patience(20000) });
}

describe('tools: xdp-firewall', function () {
  this.timeout(300000);
  const suite = vethSuite('tsbpf-fw-');

  it('parses IPv4 and IPv6 prefixes into LPM keys', () => {
    expect(parsePrefix('10.1.2.0/24')).to.deep.equal({ v: 4, key: { prefixLen: 24, addr: 0x0a010200 } });
    expect(parsePrefix('2001:db8::1/127')).to.deep.equal({ v: 6, key: { prefixLen: 127, addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] } });
    expect(() => parsePrefix('10.0.0.0/33')).to.throw(/prefix length/);
  });

  it('drops datagrams from a blocked prefix and passes the rest, counting per prefix', async () => {
    const n = suite.net;
    // A second source address on the peer, outside the blocked prefix, routed back through the veth.
    const other = `198.18.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    execFileSync('ip', ['-n', n.ns, 'addr', 'add', `${other}/32`, 'dev', n.peer]);
    execFileSync('ip', ['route', 'add', `${other}/32`, 'dev', n.host]);
    const port = 40000 + Math.floor(Math.random() * 20000);
    const received = new Map<string, number>();
    const sock = createSocket('udp4');
    sock.on('message', (_m, from) => received.set(from.address, (received.get(from.address) ?? 0) + 1));
    await new Promise<void>((resolve) => sock.bind(port, n.hostIp, resolve));
    const blockedPrefix = `${n.peerIp.split('.').slice(0, 3).join('.')}.0/24`;
    const run = spawnRun(['examples/tools/xdp-firewall.bpf.ts', '--iface', n.host, '--', '--block', blockedPrefix, '--block', '2001:db8::/32'], join(suite.dir, 'cache'));
    let out: string;
    try {
      expect(await until(run, 960, (r) => r.stderr.includes('blocking 2 prefixes')), run.stderr).to.equal(true);
      sendFrom(n, n.peerIp, 5, n.hostIp, port);
      sendFrom(n, other, 4, n.hostIp, port);
      expect(await eventually(patience(10), () => received.get(other) === 4), JSON.stringify([...received])).to.equal(true);
    } finally {
      out = await stopTool(run).finally(() => sock.close());
    }
    expect(received.get(n.peerIp) ?? 0, 'datagrams from the blocked prefix delivered').to.equal(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).to.match(/^PREFIX\s+PACKETS\s+BYTES$/);
    // 5 frames of 14 + 20 + 8 + 2 bytes.
    expect(lines).to.include(`${blockedPrefix.padEnd(44)} ${'5'.padStart(10)} ${String(5 * 44).padStart(12)}`);
    expect(lines.some((l) => /^2001:db8::\/32\s+0\s+0$/.test(l)), out).to.equal(true);
    const totals = /^passed (\d+), dropped (\d+)$/.exec(lines[lines.length - 1]!);
    expect(totals, out).to.not.equal(null);
    expect(Number(totals![2])).to.equal(5);
    expect(Number(totals![1])).to.be.at.least(4);
  });
});
