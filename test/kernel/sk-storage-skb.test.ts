/**
 * skStorage from packet programs: cgroup skb programs (egress and ingress)
 * read `ctx.sk`, take the full socket with `bpf.skFullsock` and count each
 * socket's packets and bytes in sk storage. The test makes a cgroup, makes
 * two UDP sockets while it is in it (a socket belongs to the cgroup of the
 * task that made it), sends datagrams of known sizes between them on
 * loopback and reads each socket's value by its fd; the interpreter, given
 * the same packets and sockets, keeps the same values. tc programs see the
 * socket of BPF_PROG_TEST_RUN (one the kernel makes for the run, with the
 * packet's addresses): kernel and interpreter agree on what they read.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { attachCgroup } from '../../src/kernel/link-cgroup.js';
import { cgroup2Path } from '../../src/kernel/fs-mounts.js';
import { closeFd } from '../../src/syscall/fd.js';
import { AddressFamily, bindInet4, connectInet4, recvNonBlocking, send, socket, SocketType } from '../../src/syscall/socket.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { waitFor } from '../support/wait.js';
import { compileSource, diagnosticsOf, InterpMaps, kernelSequence, le32, le64, packet, runInterp } from '../dsl/support/harness.js';

const SOURCE = `
import { cgroupSkb, skStorage, bpf, CgroupAction, type SkbSockContext, type u32, type u64 } from 'tsbpf/dsl';
export interface Traffic { sent: u64; sentBytes: u64; received: u64; receivedBytes: u64; family: u32; protocol: u32; port: u32; state: u32 }
export const traffic = skStorage<Traffic>();
function account(ctx: SkbSockContext, egress: boolean): number {
  const sk = ctx.sk;
  if (sk === null) return CgroupAction.ALLOW;
  const full = bpf.skFullsock(sk);
  if (full === null) return CgroupAction.ALLOW;
  const t = traffic.get(full, true);
  if (t === null) return CgroupAction.ALLOW;
  if (egress) {
    t.sent += 1;
    t.sentBytes += ctx.len;
  } else {
    t.received += 1;
    t.receivedBytes += ctx.len;
  }
  t.family = full.family;
  t.protocol = full.protocol;
  t.port = sk.srcPort;
  t.state = sk.state;
  return CgroupAction.ALLOW;
}
export const out = cgroupSkb('egress', (ctx) => account(ctx, true));
export const into = cgroupSkb('ingress', (ctx) => account(ctx, false));
`;

/** A Traffic value as the map holds it: four u64 counters, then family, protocol, port and state (u32). */
const traffic = (t: { sent: number; sentBytes: number; received: number; receivedBytes: number; port: number; state: number }) =>
  [t.sent, t.sentBytes, t.received, t.receivedBytes].map((n) => le64(BigInt(n))).join('') + [2, 17, t.port, t.state].map(le32).join('');

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** An IP datagram's length: IPv4 and UDP headers and the payload (what skb->len is in a cgroup skb program). */
const ipLength = (payload: number) => 20 + 8 + payload;
const TCP_ESTABLISHED = 1;

describe('kernel: skStorage from cgroup skb programs (ctx.sk, bpf.skFullsock)', function () {
  this.timeout(60_000);
  let root: string | undefined;
  let cgroup = '';
  before(function () {
    root = cgroup2Path();
    needKernel(this, root ? null : 'no cgroup v2 hierarchy');
    cgroup = `${root}/${uniqueName('feat10b-sk')}`;
    mkdirSync(cgroup);
  });
  after(function () {
    if (cgroup && existsSync(cgroup)) rmdirSync(cgroup);
  });

  /** Makes sockets with `make` while this process is in the test's cgroup, then puts the process back where it was. */
  function inCgroup<T>(make: () => T): T {
    const home = `${root}${readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3)}`;
    writeFileSync(`${cgroup}/cgroup.procs`, String(process.pid));
    try {
      return make();
    } finally {
      writeFileSync(`${home}/cgroup.procs`, String(process.pid));
    }
  }

  it('counts each socket\'s datagrams and bytes, both ways; the interpreter keeps the same values', async function () {
    const mod = compileSource(SOURCE);
    const live = loadCompiledModule(mod);
    const fds: number[] = [];
    try {
      using egress = attachCgroup(live.programs.get('out')!, cgroup, 'egress');
      using ingress = attachCgroup(live.programs.get('into')!, cgroup, 'ingress');
      const [a, b] = inCgroup(() => [socket(AddressFamily.INET, SocketType.DGRAM, 0), socket(AddressFamily.INET, SocketType.DGRAM, 0)]);
      fds.push(a!, b!);
      const portA = bindInet4(a!, '127.0.0.1', 0);
      const portB = bindInet4(b!, '127.0.0.1', 0);
      connectInet4(a!, '127.0.0.1', portB);
      connectInet4(b!, '127.0.0.1', portA);
      const aToB = [10, 200, 33];
      const bToA = [7, 1000];
      for (const n of aToB) send(a!, new Uint8Array(n).fill(0x61));
      for (const n of bToA) send(b!, new Uint8Array(n).fill(0x62));
      // Ingress runs before a datagram is queued: once each socket has all of its datagrams, every run has happened.
      const buf = new Uint8Array(2048);
      let gotA = 0;
      let gotB = 0;
      await waitFor(() => {
        while (recvNonBlocking(a!, buf) >= 0) gotA++;
        while (recvNonBlocking(b!, buf) >= 0) gotB++;
        return gotA === bToA.length && gotB === aToB.length;
      }, 'the datagrams on both sockets');
      void egress;
      void ingress;
      const sum = (ns: number[]) => ns.reduce((s, n) => s + ipLength(n), 0);
      // Connected UDP sockets are TCP_ESTABLISHED to the kernel's sk_state.
      const expectA = traffic({ sent: 3, sentBytes: sum(aToB), received: 2, receivedBytes: sum(bToA), port: portA, state: TCP_ESTABLISHED });
      const expectB = traffic({ sent: 2, sentBytes: sum(bToA), received: 3, receivedBytes: sum(aToB), port: portB, state: TCP_ESTABLISHED });
      const storage = live.maps.get('traffic')!;
      // User space names a socket's value by the socket's fd.
      expect(hex(storage.lookup(new Uint8Array(new Uint32Array([a!]).buffer))!)).to.equal(expectA);
      expect(hex(storage.lookup(new Uint8Array(new Uint32Array([b!]).buffer))!)).to.equal(expectB);

      // The interpreter, with each socket described by a cookie, on the same packets in the same order.
      const maps = new InterpMaps(mod);
      const sockA = { cookie: 1, src: '127.0.0.1', srcPort: portA, dst: '127.0.0.1', dstPort: portB, state: TCP_ESTABLISHED };
      const sockB = { cookie: 2, src: '127.0.0.1', srcPort: portB, dst: '127.0.0.1', dstPort: portA, state: TCP_ESTABLISHED };
      const udp = (from: number, to: number, n: number) => packet({ proto: 'udp', src: '127.0.0.1', dst: '127.0.0.1', sport: from, dport: to, payload: new Array(n).fill(0x61) });
      for (const n of aToB) {
        runInterp(mod, 'out', { packet: udp(portA, portB, n), sk: sockA }, { maps });
        runInterp(mod, 'into', { packet: udp(portA, portB, n), sk: sockB }, { maps });
      }
      for (const n of bToA) {
        runInterp(mod, 'out', { packet: udp(portB, portA, n), sk: sockB }, { maps });
        runInterp(mod, 'into', { packet: udp(portB, portA, n), sk: sockA }, { maps });
      }
      const interp = maps.byName.get('traffic')!;
      // The interpreter keys a socket's value by its cookie.
      expect(hex(interp.lookup(new Uint8Array(new BigUint64Array([1n]).buffer))!)).to.equal(expectA);
      expect(hex(interp.lookup(new Uint8Array(new BigUint64Array([2n]).buffer))!)).to.equal(expectB);
    } finally {
      for (const fd of fds) closeFd(fd);
      live.close();
    }
  });

  describe('tc: the socket BPF_PROG_TEST_RUN gives the packet', () => {
    const TC = `
import { tc, skStorage, arrayMap, bpf, type u64 } from 'tsbpf/dsl';
export const out = arrayMap<u64>({ maxEntries: 16 });
export interface Seen { n: u64 }
export const seen = skStorage<Seen>();
export const p = tc('ingress', (ctx) => {
  const sk = ctx.sk;
  if (sk === null) return 1;
  out.update(0, sk.family);
  out.update(1, sk.srcIp4);
  out.update(2, sk.dstIp4);
  out.update(3, sk.srcIp6[0] ^ sk.srcIp6[3]);
  out.update(4, sk.dstIp6[3]);
  out.update(5, sk.state);
  out.update(6, sk.boundDevIf);
  const full = bpf.skFullsock(ctx.sk);
  if (full === null) return 2;
  out.update(7, full.protocol);
  out.update(8, full.mark);
  const s = seen.get(sk, true);
  if (s === null) return 3;
  s.n += 1;
  out.update(9, (out.lookup(9) ?? 0) + s.n);
  return 0;
});`;
    // The run's socket (bpf_prog_test_run_skb, since 5.9): the packet's family and addresses, a TCP_CLOSE state, a new one each run.
    const v4 = packet({ proto: 'udp', src: '10.1.2.3', dst: '192.0.2.9', payload: [1, 2, 3] });
    const ip6 = (last: number) => [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), last];
    const v6 = Uint8Array.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd, 0x60, 0, 0, 0, 0, 11, 17, 64, ...ip6(1), ...ip6(2), 0x04, 0xd2, 0, 53, 0, 11, 0, 0, 1, 2, 3]);
    const sockets = [
      { cookie: 1, family: 2, type: 0, protocol: 0, src: '10.1.2.3', dst: '192.0.2.9' },
      { cookie: 2, family: 10, type: 0, protocol: 0, src: Uint8Array.from(ip6(1)), dst: Uint8Array.from(ip6(2)) },
    ];

    it('kernel and interpreter read the same fields and keep one value per socket', function () {
      needKernel(this);
      const mod = compileSource(TC);
      const outs = [v4, v6].map((pkt, i) => {
        const kernel = kernelSequence(mod, 'p', [pkt, pkt]);
        const maps = new InterpMaps(mod);
        // A new socket each run, as the kernel makes one for each.
        const retvals = [1, 2].map((n) => runInterp(mod, 'p', { packet: pkt, sk: { ...sockets[i]!, cookie: n } }, { maps }).retval);
        expect(retvals).to.deep.equal(kernel.retvals);
        expect(maps.dump().out).to.deep.equal(kernel.maps.out);
        return kernel.maps.out!;
      });
      const [four, six] = outs;
      // IPv4: AF_INET, the packet's addresses as be32 (10.1.2.3, 192.0.2.9), no IPv6 address; TCP_CLOSE, bound to no device.
      expect([four!['00000000'], four!['01000000'], four!['02000000'], four!['03000000'], four!['05000000'], four!['06000000']]).to.deep.equal([le64(2n), le64(0x0302010an), le64(0x090200c0n), undefined, le64(7n), undefined]);
      // IPv6: AF_INET6, the addresses' words (2001:db8::1 and 2001:db8::2).
      expect([six!['00000000'], six!['03000000'], six!['04000000']]).to.deep.equal([le64(10n), le64(0xb80d0120n ^ 0x01000000n), le64(0x02000000n)]);
      // Each run's socket had a value of its own, counted once.
      expect([four!['09000000'], six!['09000000']]).to.deep.equal([le64(2n), le64(2n)]);
    });
  });
});

describe('dsl: ctx.sk and bpf.skFullsock diagnostics', () => {
  const codes = (body: string) => diagnosticsOf(`import { tc, xdp, arrayMap, bpf, type SockCommon, type u64 } from 'tsbpf/dsl';
export const out = arrayMap<u64>({ maxEntries: 8 });
${body}`).map((d) => `${d.line}:${d.column} ${d.code}`);
  it('a socket is read-only, is not copied whole, and stays in the function that has it', () => {
    expect(codes(`export const p = tc('ingress', (ctx) => {
  const sk = ctx.sk;
  if (sk === null) return 0;
  sk.srcIp6[0] = 1;
  const c: SockCommon = { ...sk };
  return f(sk);
});
/** @noinline */
function f(s: SockCommon): number { return s.family; }`)).to.deep.equal(['6:3 TSBPF_CTX_WRITE', '7:27 TSBPF_OBJECT', '8:10 TSBPF_NOINLINE']);
  });
  it('bpf.skFullsock is for tc and cgroup skb programs', () => {
    expect(codes(`export const p = xdp(() => {
  bpf.skFullsock(null);
  return 0;
});`)).to.deep.equal(['4:3 TSBPF_HELPER_PROGRAM_TYPE']);
  });
});
