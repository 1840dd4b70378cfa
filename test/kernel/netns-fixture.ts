/**
 * A network namespace with a veth pair for packet tests: one end ("host")
 * stays in this process's namespace, the other ("peer") lives in a new
 * namespace. Names and the /30 subnet are unique per test run; static
 * neighbour entries avoid ARP so packet counts are exact.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { uniqueName } from '../support/kernel.js';
import { CHILD_DEADLINE } from '../support/wait.js';

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

export class VethNetns {
  readonly ns: string;
  readonly host: string;
  readonly peer: string;
  readonly hostIp: string;
  readonly peerIp: string;

  /** `prefix` starts the names of the namespace and both interfaces (a test lane's name, say). */
  constructor(prefix = 'tsb') {
    this.ns = uniqueName(`${prefix}ns`);
    this.host = uniqueName(`${prefix}h`);
    this.peer = uniqueName(`${prefix}p`);
    const a = 100 + Math.floor(Math.random() * 100);
    const b = Math.floor(Math.random() * 256);
    const c = Math.floor(Math.random() * 64) * 4;
    this.hostIp = `10.${a}.${b}.${c + 1}`;
    this.peerIp = `10.${a}.${b}.${c + 2}`;
    try {
      ip('netns', 'add', this.ns);
      ip('link', 'add', this.host, 'type', 'veth', 'peer', 'name', this.peer, 'netns', this.ns);
      ip('addr', 'add', `${this.hostIp}/30`, 'dev', this.host);
      ip('link', 'set', this.host, 'up');
      ip('-n', this.ns, 'addr', 'add', `${this.peerIp}/30`, 'dev', this.peer);
      ip('-n', this.ns, 'link', 'set', this.peer, 'up');
      ip('-n', this.ns, 'link', 'set', 'lo', 'up');
      const hostMac = readFileSync(`/sys/class/net/${this.host}/address`, 'utf8').trim();
      const peerMac = ip('-n', this.ns, '-o', 'link', 'show', this.peer).match(/link\/ether ([0-9a-f:]+)/)![1]!;
      ip('-n', this.ns, 'neigh', 'replace', this.hostIp, 'lladdr', hostMac, 'dev', this.peer, 'nud', 'permanent');
      ip('neigh', 'replace', this.peerIp, 'lladdr', peerMac, 'dev', this.host, 'nud', 'permanent');
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  /** A new pair for a `before` hook; where iproute2's `ip` is missing (a minimal VM image) the suite is skipped, as the oracle, not the kernel, is absent. */
  static orSkip(ctx: Mocha.Context, prefix?: string): VethNetns {
    try {
      return new VethNetns(prefix);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      ctx.skip();
    }
  }

  get nsPath(): string {
    return `/var/run/netns/${this.ns}`;
  }

  /** Sends `count` UDP datagrams from inside the namespace to `ip:port` and waits until they are out. */
  sendUdpFromNs(count: number, ip: string, port: number): void {
    const script = `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>{if(n===${count})return s.close();s.send(Buffer.from('tsbpf'),${port},'${ip}',()=>{n++;go();});};go();`;
    execFileSync('ip', ['netns', 'exec', this.ns, process.execPath, '-e', script], { stdio: 'ignore', timeout: CHILD_DEADLINE });
  }

  destroy(): void {
    try {
      execFileSync('ip', ['link', 'del', this.host], { stdio: 'ignore' });
    } catch {
      // Already gone with the namespace.
    }
    try {
      execFileSync('ip', ['netns', 'del', this.ns], { stdio: 'ignore' });
    } catch {
      // Never created.
    }
  }
}
