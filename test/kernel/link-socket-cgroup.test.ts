import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, rmdirSync, existsSync } from 'node:fs';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { attachSocketFilter } from '../../src/kernel/link-socket-filter.js';
import { attachCgroup } from '../../src/kernel/link-cgroup.js';
import { LinkError } from '../../src/kernel/link-error.js';
import { cgroup2Path } from '../../src/kernel/fs-mounts.js';
import { LinkType } from '../../src/syscall/layouts.generated.js';
import { SyscallError } from '../../src/syscall/bpf.js';
import { closeFd } from '../../src/syscall/fd.js';
import { AddressFamily, bindInet4, recvNonBlocking, socket, SocketType } from '../../src/syscall/socket.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { waitFor, CHILD_DEADLINE } from '../support/wait.js';
import { countAll, op } from './link-programs.js';

const counter = (): BpfMap => BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
const readCount = (map: BpfMap): number => Number(new DataView(map.lookup(new Uint8Array(4))!.buffer).getBigUint64(0, true));
const deny = [op.mov(0, 0), op.exit()];

/** Runs `script` with node in a child process moved into `cgroup` first; returns its stdout. */
function runInCgroup(cgroup: string, script: string): string {
  const r = spawnSync('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$0" -e "$1"`, process.execPath, script], { encoding: 'utf8', timeout: CHILD_DEADLINE });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

describe('kernel: socket filter and cgroup links', function () {
  before(function () {
    needKernel(this);
  });

  it('a socket filter drops the datagrams on a UDP socket the test owns, until closed', async function () {
    const fd = socket(AddressFamily.INET, SocketType.DGRAM, 0);
    const client = createSocket('udp4');
    try {
      const port = bindInet4(fd, '127.0.0.1', 0);
      const send = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) await new Promise<void>((res, rej) => client.send('x', port, '127.0.0.1', (e) => (e ? rej(e) : res())));
      };
      let received = 0;
      const drain = (): number => {
        const buf = new Uint8Array(64);
        let n = 0;
        while (recvNonBlocking(fd, buf) >= 0) n++;
        received += n;
        return received;
      };
      using map = counter();
      using prog = Program.load({ type: 'SOCKET_FILTER', instructions: countAll(map.fd, 0), name: 'drop_all' });
      // Loopback delivery finishes in softirq: wait for the datagrams (or the filter's runs), not for a time.
      await send(2);
      await waitFor(() => drain() >= 2, 'the 2 datagrams sent before the filter');
      expect(received).to.equal(2, 'delivered before the filter');
      const link = attachSocketFilter(prog, fd);
      await send(5);
      await waitFor(() => readCount(map) >= 5, 'the filter to see the 5 datagrams');
      expect(drain()).to.equal(2, 'dropped by the filter');
      expect(readCount(map)).to.equal(5);
      expect(() => link.pin('/sys/fs/bpf/x')).to.throw(LinkError).with.property('code', 'ENOTSUP');
      link.close();
      await send(3);
      await waitFor(() => drain() >= 5, 'the 3 datagrams sent after close');
      expect(received).to.equal(5, 'delivered again after close');
      expect(readCount(map)).to.equal(5);
    } finally {
      client.close();
      closeFd(fd);
    }
  });

  it('attaching a socket filter to something that is not a socket is a typed error', function () {
    using map = counter();
    using prog = Program.load({ type: 'SOCKET_FILTER', instructions: countAll(map.fd, 0) });
    expect(() => attachSocketFilter(prog, map.fd)).to.throw(SyscallError);
  });

  describe('cgroup', function () {
    let root: string | undefined;
    let cgroup = '';
    before(function () {
      root = cgroup2Path();
      needKernel(this, root ? null : 'no cgroup v2 hierarchy');
      cgroup = `${root}/${uniqueName('tsbcg')}`;
      mkdirSync(cgroup);
    });
    after(function () {
      if (cgroup && existsSync(cgroup)) rmdirSync(cgroup);
    });

    it('a cgroup_skb egress program counts the datagrams a process in the cgroup sends', function () {
      using map = counter();
      using prog = Program.load({ type: 'CGROUP_SKB', instructions: countAll(map.fd, 1), expectedAttachType: 'CGROUP_INET_EGRESS', name: 'cg_egress' });
      using link = attachCgroup(prog, cgroup, 'egress');
      runInCgroup(cgroup, `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>{if(n===6)return s.close();s.send('x',9,'127.0.0.1',()=>{n++;go();});};go();`);
      expect(readCount(map)).to.equal(6);
      const info = link.info();
      expect(info.type).to.equal(LinkType.CGROUP);
      expect(info.cgroupId! > 0n).to.equal(true);
    });

    it('a cgroup_skb ingress program counts the datagrams delivered to a socket of a process in the cgroup', async function () {
      using map = counter();
      using prog = Program.load({ type: 'CGROUP_SKB', instructions: countAll(map.fd, 1), expectedAttachType: 'CGROUP_INET_INGRESS', name: 'cg_ingress' });
      using link = attachCgroup(prog, cgroup, 'ingress');
      const script = `const s=require('dgram').createSocket('udp4');let n=0;s.on('message',()=>{if(++n===4){s.close();}});s.bind(0,'127.0.0.1',()=>console.log(s.address().port));`;
      const child = spawn('sh', ['-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$0" -e "$1"`, process.execPath, script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const client = createSocket('udp4');
      for (let i = 0; i < 4; i++) await new Promise<void>((res, rej) => client.send('x', port, '127.0.0.1', (e) => (e ? rej(e) : res())));
      client.close();
      expect(await exited).to.equal(0);
      expect(readCount(map)).to.equal(4);
      void link;
    });

    it('a cgroup connect4 program that denies makes connect() fail with EPERM in the cgroup', function () {
      using prog = Program.load({ type: 'CGROUP_SOCK_ADDR', instructions: deny, expectedAttachType: 'CGROUP_INET4_CONNECT', name: 'deny_connect' });
      const link = attachCgroup(prog, cgroup, 'connect4');
      const script = `require('net').connect(9,'127.0.0.1').on('error',(e)=>{console.log(e.code);process.exit(0)}).on('connect',()=>{console.log('connected');process.exit(0)})`;
      expect(runInCgroup(cgroup, script).trim()).to.equal('EPERM');
      link.close();
      expect(runInCgroup(cgroup, script).trim()).to.equal('ECONNREFUSED');
    });

    it('a cgroup sysctl program that denies makes reading /proc/sys fail in the cgroup', function () {
      using prog = Program.load({ type: 'CGROUP_SYSCTL', instructions: deny, expectedAttachType: 'CGROUP_SYSCTL', name: 'deny_sysctl' });
      using link = attachCgroup(prog, cgroup, 'sysctl');
      const script = `try{require('fs').readFileSync('/proc/sys/kernel/ostype','utf8');console.log('read')}catch(e){console.log(e.code)}`;
      expect(runInCgroup(cgroup, script).trim()).to.equal('EPERM');
      expect(execFileSync('cat', ['/proc/sys/kernel/ostype'], { encoding: 'utf8' }).trim()).to.equal('Linux'); // outside the cgroup: unaffected
      expect(link.info().type).to.equal(LinkType.CGROUP);
    });

    it('a cgroup sock_create program that denies makes socket() fail in the cgroup', function () {
      using prog = Program.load({ type: 'CGROUP_SOCK', instructions: deny, expectedAttachType: 'CGROUP_INET_SOCK_CREATE', name: 'deny_socket' });
      using link = attachCgroup(prog, cgroup, 'sock_create');
      const script = `const s=require('dgram').createSocket('udp4');s.on('error',(e)=>{console.log(e.code);process.exit(0)});s.bind(0,()=>{console.log('bound');process.exit(0)})`;
      expect(runInCgroup(cgroup, script).trim()).to.equal('EPERM');
      void link;
    });

    it('a missing cgroup is a typed error', function () {
      using prog = Program.load({ type: 'CGROUP_SKB', instructions: deny, expectedAttachType: 'CGROUP_INET_EGRESS' });
      expect(() => attachCgroup(prog, `${cgroup}-missing`, 'egress')).to.throw(LinkError).with.property('code', 'ENOCGROUP');
    });
  });
});
