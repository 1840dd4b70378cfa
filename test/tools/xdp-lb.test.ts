/**
 * examples/tools/xdp-lb: the entry program tail-calls its UDP or TCP stage,
 * which picks a backend by a hash of the client's address and port,
 * rewrites the destination and both checksums, and bounces the frame
 * (XDP_TX). First through BPF_PROG_TEST_RUN (the output frames checked
 * byte by byte: backend, MACs, checksums, the per-backend counters), then
 * on a veth pair: the tool runs inside the pair's namespace on the peer,
 * the test sends raw frames (with full checksums, as from a real NIC) from
 * the host side to the service address, and the host's own UDP sockets on
 * the two backend addresses count what the kernel delivered, which it
 * does only for frames whose IP and UDP checksums verify.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lbModule from '../../examples/tools/xdp-lb.bpf.js';
import { parseService } from '../../examples/tools/xdp-lb.bpf.js';
import { attachXdp } from '../../src/kernel/link-netdev.js';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { loadModule } from '../../src/module/load-module.js';
import { compileSource } from '../dsl/support/harness.js';
import { ipChecksumOk, onesComplementSum, packetSocket, parseUdpFrame, sendFrame, udpChecksumOk, udpFrame } from '../dsl/support/frames.js';
import { CLI_BIN, type RunningCli, until } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';
import { patience } from '../support/wait.js';
import { eventually, stopTool } from './support.js';
import { vethSuite } from './veth-suite.js';

const XDP_PASS = 2;
const XDP_TX = 3;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const ip4 = (s: string): number[] => s.split('.').map(Number);
const num4 = (s: string): number => ip4(s).reduce((a, b) => a * 256 + b, 0);

/** The backend the tool's hash gives a client: as the program computes it on the raw (network-order) bytes. */
function expectedSlot(client: string, sport: number, count: number): number {
  const b = ip4(client);
  const rawAddr = BigInt((b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0);
  const rawPort = BigInt(((sport & 0xff) << 8) | (sport >> 8));
  const h = ((((rawAddr << 16n) ^ rawPort) * 0x9e3779b97f4a7c15n) & 0xffff_ffff_ffff_ffffn) >> 32n;
  return Number(h % BigInt(count));
}

/** An Ethernet/IPv4/TCP SYN with correct checksums. */
function tcpSyn(f: { srcMac: string; dstMac: string; srcIp: string; dstIp: string; sport: number; dport: number }): Uint8Array {
  const out = new Uint8Array(54);
  const mac = (s: string) => s.split(':').map((x) => parseInt(x, 16));
  out.set([...mac(f.dstMac), ...mac(f.srcMac), 0x08, 0x00], 0);
  out.set([0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, ...ip4(f.srcIp), ...ip4(f.dstIp)], 14);
  out.set([f.sport >> 8, f.sport & 0xff, f.dport >> 8, f.dport & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0], 34);
  const ipSum = ~onesComplementSum(out.subarray(14, 34)) & 0xffff;
  out.set([ipSum >> 8, ipSum & 0xff], 24);
  const tcpSum = ~tcpChecksumSum(out) & 0xffff;
  out.set([tcpSum >> 8, tcpSum & 0xff], 50);
  return out;
}
const tcpChecksumSum = (frame: Uint8Array): number => onesComplementSum(frame.subarray(34, 54), onesComplementSum(new Uint8Array([...frame.subarray(26, 34), 0, 6, 0, 20])));

describe('tools: xdp-lb (tail calls, XDP_TX)', function () {
  this.timeout(300000);
  const suite = vethSuite('tsbpf-toolsb-lb-');

  it('parses services', () => {
    expect(parseService('10.0.0.100:53/udp=10.0.1.1,10.0.1.2')).to.deep.equal({ vip: 0x0a000064, port: 53, proto: 17, backends: [0x0a000101, 0x0a000102] });
    expect(parseService('10.0.0.100:80/tcp=10.0.1.3').proto).to.equal(6);
    expect(() => parseService('10.0.0.100:80/sctp=10.0.1.3')).to.throw(/bad service/);
  });

  it('through BPF_PROG_TEST_RUN: UDP and TCP to a service go to the hashed backend with valid checksums, other traffic passes', async function () {
    needKernel(this);
    const live = await loadModule(lbModule, { attach: false, cache: false });
    try {
      const vip = '198.51.100.10';
      const b = ['203.0.113.1', '203.0.113.2', '203.0.113.3'];
      live.maps.services.set({ addr: num4(vip), port: 53, proto: 17, pad: 0 }, { first: 0, count: 2 });
      live.maps.services.set({ addr: num4(vip), port: 80, proto: 6, pad: 0 }, { first: 2, count: 1 });
      b.forEach((addr, i) => live.maps.backends.set(i, { addr: num4(addr), pad: 0, packets: 0, bytes: 0 }));
      const macs = { srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02' };
      const lb = live.programs.lb.raw;
      const picked = [0, 0];
      const bytes = [0, 0];
      for (let i = 0; i < 16; i++) {
        const client = `192.0.2.${1 + i * 7}`;
        const sport = 1024 + i * 977;
        const frame = udpFrame({ ...macs, srcIp: client, dstIp: vip, sport, dport: 53, payload: Buffer.from(`lb${i}`) });
        const r = lb.testRun({ data: frame });
        expect(r.retval).to.equal(XDP_TX);
        const out = r.dataOut!;
        const slot = expectedSlot(client, sport, 2);
        picked[slot]!++;
        bytes[slot]! += frame.length;
        expect(parseUdpFrame(out)).to.deep.equal({ srcMac: macs.dstMac, dstMac: macs.srcMac, srcIp: client, dstIp: b[slot], sport, dport: 53, ttl: 64, payload: `lb${i}` });
        expect(ipChecksumOk(out) && udpChecksumOk(out), `checksums of ${Buffer.from(out).toString('hex')}`).to.equal(true);
      }
      expect(picked[0]! > 0 && picked[1]! > 0, `the hash spreads flows: ${picked}`).to.equal(true);
      expect(live.maps.backends.get(0)).to.deep.include({ packets: picked[0], bytes: bytes[0] });
      expect(live.maps.backends.get(1)).to.deep.include({ packets: picked[1], bytes: bytes[1] });

      const syn = tcpSyn({ ...macs, srcIp: '192.0.2.99', dstIp: vip, sport: 40000, dport: 80 });
      const t = lb.testRun({ data: syn });
      expect(t.retval).to.equal(XDP_TX);
      expect(Array.from(t.dataOut!.subarray(30, 34)).join('.')).to.equal(b[2]);
      expect(ipChecksumOk(t.dataOut!), 'IP checksum').to.equal(true);
      expect(tcpChecksumSum(t.dataOut!), 'TCP checksum').to.equal(0xffff);
      expect(live.maps.backends.get(2)).to.deep.include({ packets: 1, bytes: 54 });

      // Not a service (another port, another protocol's port): passed untouched.
      for (const other of [udpFrame({ ...macs, srcIp: '192.0.2.1', dstIp: vip, sport: 1, dport: 54, payload: Buffer.from('x') }), tcpSyn({ ...macs, srcIp: '192.0.2.1', dstIp: vip, sport: 1, dport: 53 })]) {
        const r = lb.testRun({ data: other });
        expect(r.retval).to.equal(XDP_PASS);
        expect(Buffer.from(r.dataOut!).equals(Buffer.from(other))).to.equal(true);
      }
    } finally {
      await live.close();
    }
  });

  it('on a veth pair: frames to the service reach the backends chosen by the hash, with checksums the kernel verifies; the tool counts them', async function () {
    needKernel(this);
    const n = suite.net;
    // Backends: the host's address and a second one on the host's side of the pair.
    const second = `198.18.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    execFileSync('ip', ['addr', 'add', `${second}/32`, 'dev', n.host]);
    const vip = `198.19.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    const client = `198.18.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    // The client's address is reached through the pair (so the host accepts it as a source there).
    execFileSync('ip', ['route', 'add', `${client}/32`, 'dev', n.host]);
    const port = 30000 + Math.floor(Math.random() * 20000);
    const backends = [n.hostIp, second];
    const got = new Map<string, string[]>(backends.map((a) => [a, []]));
    const socks: Socket[] = [];
    for (const addr of backends) {
      const s = createSocket('udp4');
      s.on('message', (m) => got.get(addr)!.push(m.toString()));
      await new Promise<void>((resolve) => s.bind(port, addr, resolve));
      socks.push(s);
    }
    // XDP_TX on a veth hands the frame to the other end's NAPI, which runs only while that end has an XDP program too.
    const pass = loadCompiledModule(compileSource(`import { xdp, XdpAction } from 'tsbpf/dsl';\nexport const pass = xdp(() => XdpAction.PASS);`));
    const passLink = attachXdp(pass.programs.get('pass')!, n.host);
    const hostMac = readFileSync(`/sys/class/net/${n.host}/address`, 'utf8').trim();
    const peerMac = execFileSync('ip', ['-n', n.ns, '-o', 'link', 'show', n.peer], { encoding: 'utf8' }).match(/link\/ether ([0-9a-f:]+)/)![1]!;
    const run = spawnInNamespace(n.ns, ['examples/tools/xdp-lb.bpf.ts', '--iface', n.peer, '--', '--service', `${vip}:${port}/udp=${backends.join(',')}`], join(suite.dir, 'cache'));
    const fd = packetSocket(n.host);
    const flows = 12;
    let out = '';
    try {
      expect(await until(run, 960, (r) => r.stderr.includes('balancing 1 service over 2 backends')), run.stderr).to.equal(true);
      for (let i = 0; i < flows; i++) {
        sendFrame(fd, udpFrame({ srcMac: hostMac, dstMac: peerMac, srcIp: client, dstIp: vip, sport: 2000 + i * 131, dport: port, payload: Buffer.from(`flow${i}`) }));
      }
      await eventually(patience(10), () => got.get(backends[0]!)!.length + got.get(backends[1]!)!.length === flows);
    } finally {
      closeSync(fd);
      out = await stopTool(run).finally(() => {
        for (const s of socks) s.close();
        passLink.close();
        pass.close();
      });
    }
    const want = new Map<string, string[]>(backends.map((a) => [a, []]));
    for (let i = 0; i < flows; i++) want.get(backends[expectedSlot(client, 2000 + i * 131, 2)]!)!.push(`flow${i}`);
    expect(Object.fromEntries([...got].map(([k, v]) => [k, v.sort()]))).to.deep.equal(Object.fromEntries([...want].map(([k, v]) => [k, v.sort()])));
    const lines = out.trim().split('\n');
    expect(lines[0]).to.match(/^SERVICE\s+BACKEND\s+PACKETS\s+BYTES$/);
    const frameLen = (i: number) => 42 + `flow${i}`.length;
    for (const addr of backends) {
      const mine = [...Array(flows).keys()].filter((i) => backends[expectedSlot(client, 2000 + i * 131, 2)] === addr);
      expect(lines, out).to.include(`${`${vip}:${port}/udp`.padEnd(24)} ${addr.padEnd(15)} ${String(mine.length).padStart(10)} ${String(mine.reduce((s, i) => s + frameLen(i), 0)).padStart(12)}`);
    }
  });
});

/** `tsbpf run …` inside a network namespace (`ip netns exec`), its output collected as it arrives. */
function spawnInNamespace(ns: string, args: string[], cacheDir: string): RunningCli {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', CLI_BIN, 'run', ...args], {
    cwd: ROOT, env: { ...process.env, NO_COLOR: '1', TSBPF_CACHE_DIR: cacheDir },
  });
  const run: RunningCli = { child, stdout: '', stderr: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code ?? -1))) };
  child.stdout.on('data', (d) => (run.stdout += d));
  child.stderr.on('data', (d) => (run.stderr += d));
  return run;
}
