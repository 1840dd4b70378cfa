/**
 * examples/tools/tc-dnat on a veth pair whose peer sits in a namespace of
 * the test's own: datagrams the peer sends to a service address that no
 * host has are rewritten at tc ingress to the host's address and another
 * port. The oracle is the host's UDP socket on the backend port: the kernel
 * delivers a datagram there only to the rewritten address and port, and
 * only with a correct IP header checksum (verified in software by ip_rcv).
 * The UDP checksum is fixed the same way, but veth may leave it to offload
 * (no ethtool here to turn that off), so this test does not prove it.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnRun, until } from '../support/cli.js';
import { patience } from '../support/wait.js';
import { vethSuite } from './veth-suite.js';
import { eventually, stopTool } from './support.js';
import { parseEndpoint } from '../../examples/tools/tc-dnat.bpf.js';

describe('tools: tc-dnat', function () {
  this.timeout(300000);
  const suite = vethSuite('tsbpf-dnat-');

  it('parses endpoints with network-order fields as numbers', () => {
    expect(parseEndpoint('10.0.0.7:5353')).to.deep.equal({ addr: 0x0a000007, port: 5353, pad: 0 });
    expect(() => parseEndpoint('10.0.0.300:1')).to.throw(/bad endpoint/);
  });

  it('rewrites address and port with valid checksums: the backend socket receives every datagram', async () => {
    const n = suite.net;
    const vip = `198.19.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    const hostMac = readFileSync(`/sys/class/net/${n.host}/address`, 'utf8').trim();
    execFileSync('ip', ['-n', n.ns, 'route', 'add', `${vip}/32`, 'dev', n.peer]);
    execFileSync('ip', ['-n', n.ns, 'neigh', 'replace', vip, 'lladdr', hostMac, 'dev', n.peer, 'nud', 'permanent']);
    const servicePort = 20000 + Math.floor(Math.random() * 10000);
    const backendPort = servicePort + 10000;
    const got: string[] = [];
    const sock = createSocket('udp4');
    sock.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((resolve) => sock.bind(backendPort, n.hostIp, resolve));
    const run = spawnRun(['examples/tools/tc-dnat.bpf.ts', '--iface', n.host, '--', '--map', `${vip}:${servicePort}=${n.hostIp}:${backendPort}`], join(suite.dir, 'cache'));
    let out: string;
    try {
      expect(await until(run, 960, (r) => r.stderr.includes('rewriting 1 service')), run.stderr).to.equal(true);
      const script = `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>{if(n===6)return s.close();s.send(Buffer.from('dnat'+n),${servicePort},'${vip}',()=>{n++;go();});};go();`;
      execFileSync('ip', ['netns', 'exec', n.ns, process.execPath, '-e', script], { stdio: 'ignore', timeout: patience(20000) });
      expect(await eventually(patience(10), () => got.length === 6), JSON.stringify(got)).to.equal(true);
    } finally {
      out = await stopTool(run).finally(() => sock.close());
    }
    expect(got.sort()).to.deep.equal(['dnat0', 'dnat1', 'dnat2', 'dnat3', 'dnat4', 'dnat5']);
    const lines = out.trim().split('\n');
    expect(lines[0]).to.match(/^SERVICE\s+BACKEND\s+REWRITTEN$/);
    expect(lines[1]).to.equal(`${`${vip}:${servicePort}`.padEnd(22)} ${`${n.hostIp}:${backendPort}`.padEnd(22)} ${'6'.padStart(10)}`);
  });
});
