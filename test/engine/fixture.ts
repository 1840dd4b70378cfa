/**
 * Engine tests: an engine as a child process (the real `tsbpf engine`, from
 * the sources through tsx) on a private state directory and bpffs
 * directory, modules written by the tests and compiled to objects in this
 * process, and UDP traffic from a network namespace over a veth pair.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from '../../src/dsl/compiler/compile.js';
import { writeObject } from '../../src/dsl/compiler/object.js';
import { nodeCompileOptions } from '../../src/cli/dsl-host.js';
import { request, socketPathOf } from '../../src/engine/client.js';
import type { Verb } from '../../src/engine/protocol.js';
import { uniqueName } from '../support/kernel.js';

export const CLI_BIN = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));

/** Polls `check` until it holds (the event happened) or `timeoutMs` passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export class EngineProcess {
  readonly dir = mkdtempSync(join(tmpdir(), 'tsbpf-engine-'));
  readonly stateDir = join(this.dir, 'state');
  readonly bpffs = `/sys/fs/bpf/${uniqueName('tsbe')}`;
  proc: ChildProcess | undefined;
  output = '';
  ready: Record<string, unknown> | undefined;

  get socket(): string {
    return socketPathOf(this.stateDir);
  }

  get pinRoot(): string {
    return join(this.bpffs, 'tsbpf');
  }

  /** Starts `tsbpf engine --json` and waits for its ready event. */
  async start(options: { env?: Record<string, string>; metrics?: string; timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    const args = ['--import', 'tsx', CLI_BIN, 'engine', '--json', '--state-dir', this.stateDir, '--bpffs', this.bpffs, ...(options.metrics ? ['--metrics', options.metrics] : [])];
    const proc = spawn(process.execPath, args, { env: { ...process.env, NO_COLOR: '1', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.ready = undefined;
    const events: Record<string, unknown>[] = [];
    proc.stdout!.on('data', (b: Buffer) => {
      this.output += b.toString();
      for (const line of b.toString().split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const e = JSON.parse(line) as Record<string, unknown>;
          events.push(e);
          if (e.event === 'ready') this.ready = e;
        } catch {
          // a partial line
        }
      }
    });
    proc.stderr!.on('data', (b: Buffer) => (this.output += b.toString()));
    await waitFor(() => this.ready !== undefined || proc.exitCode !== null || proc.signalCode !== null, options.timeoutMs ?? 60_000, 'the engine to be ready');
    if (!this.ready) throw new Error(`the engine did not start:\n${this.output}`);
    return { ...(this.ready as Record<string, unknown>), adopted: events.find((e) => e.event === 'adopted') };
  }

  call<T>(verb: Verb, args: Record<string, unknown> = {}): Promise<T> {
    return request<T>(this.socket, verb, args, { timeoutMs: 120_000 });
  }

  /** Waits for the process to exit (after a failpoint's SIGKILL, or a signal we sent). */
  async exited(timeoutMs = 30_000): Promise<void> {
    const p = this.proc;
    if (!p) return;
    await waitFor(() => p.exitCode !== null || p.signalCode !== null, timeoutMs, 'the engine to exit');
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.proc?.kill(signal);
    await this.exited();
  }

  /** Unloads everything, stops the engine and removes its directories. */
  async destroy(): Promise<void> {
    try {
      if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
        const list = await this.call<{ modules: Array<{ name: string }> }>('list');
        for (const m of list.modules.reverse()) await this.call('unload', { name: m.name });
        await this.kill('SIGTERM');
      }
    } finally {
      rmSync(this.bpffs, { recursive: true, force: true });
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Writes a module's source into `dir` and compiles it to a BPF ELF object there; returns both paths. */
export function buildModule(dir: string, name: string, source: string): { ts: string; object: string } {
  const ts = join(dir, `${name}.bpf.ts`);
  writeFileSync(ts, source);
  const object = join(dir, `${name}.o`);
  writeFileSync(object, writeObject(compile(nodeCompileOptions(ts))));
  return { ts, object };
}

const UDP_PREAMBLE = `
  const eth = ctx.packet.at(EthHdr, 0);
  if (eth === null || eth.proto !== htons(ETH_P_IP)) return PASS;
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null || ip.protocol !== IPPROTO_UDP) return PASS;
  const udp = ctx.packet.at(UdpHdr, EthHdr.size + (ip.versionIhl & 0x0f) * 4);
  if (udp === null) return PASS;`;

const IMPORTS = `import { arrayMap, hashMap, htons, ntohs, rodata, tc, xdp, type i32, type u16, type u32, type u64 } from 'tsbpf/dsl';
import { ETH_P_IP, EthHdr, IPPROTO_UDP, IpHdr, UdpHdr } from 'tsbpf/dsl/net';`;

/**
 * A counting module: counts UDP packets to `port` in packets[0] and passes
 * everything. `variant` B adds a map (so a replace creates one new map).
 */
export function counterModule(kind: 'xdp' | 'tc', program: string, variant: 'A' | 'B'): string {
  const pass = kind === 'xdp' ? 2 : -1;
  return `${IMPORTS}
export const port = rodata<u16>(0);
export const packets = arrayMap<u64>({ maxEntries: 1 });
${variant === 'B' ? 'export const spare = arrayMap<u32>({ maxEntries: 4 });' : ''}
const PASS = ${pass};
export const ${program} = ${kind === 'xdp' ? 'xdp(' : "tc('ingress', "}(ctx) => {${UDP_PREAMBLE}
  if (ntohs(udp.dest) !== port.get()) return PASS;
  packets.increment(0${variant === 'B' ? ', 1' : ''});
  return PASS;
});
`;
}

/** A chain stage: counts UDP packets by destination port in `seen`, then returns `verdict` for every UDP packet. */
export function stageModule(kind: 'xdp' | 'tc', program: string): string {
  const pass = kind === 'xdp' ? 2 : -1;
  return `${IMPORTS}
export const verdict = rodata<i32>(${pass});
export const seen = hashMap<u16, u64>({ maxEntries: 64, metric: { type: 'counter', name: 'stage_packets', help: 'UDP packets seen by a chain stage', labels: ['port'] } });
const PASS = ${pass};
export const ${program} = ${kind === 'xdp' ? 'xdp(' : "tc('ingress', "}(ctx) => {${UDP_PREAMBLE}
  seen.increment(ntohs(udp.dest));
  return verdict.get();
});
`;
}

/** Counts UDP datagrams arriving at ip:port in this process. */
export class UdpCounter {
  readonly socket: Socket = createSocket('udp4');
  received = 0;

  static async bind(ip: string, port: number): Promise<UdpCounter> {
    const c = new UdpCounter();
    c.socket.on('message', () => c.received++);
    await new Promise<void>((resolve) => c.socket.bind(port, ip, resolve));
    c.socket.setRecvBufferSize(8 * 1024 * 1024);
    return c;
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * A steady UDP stream from inside a namespace (about `pps` datagrams a
 * second) until stop(), which resolves to the number of datagrams the
 * sender handed to its kernel.
 */
export class UdpStream {
  readonly proc: ChildProcess;
  #out = '';

  constructor(ns: string, ip: string, port: number, pps = 1000) {
    const script = `const s=require('dgram').createSocket('udp4');let sent=0,pending=0,stopping=false;const msg=Buffer.from('tsbpf-engine');
const per=Math.max(1,Math.round(${pps}/1000));
const t=setInterval(()=>{for(let i=0;i<per;i++){pending++;s.send(msg,${port},'${ip}',(e)=>{pending--;if(!e)sent++;done();});}},1);
function done(){if(stopping&&pending===0){process.stdout.write(String(sent)+'\\n');s.close();}}
process.stdin.on('data',()=>{});process.stdin.on('end',()=>{stopping=true;clearInterval(t);done();});`;
    this.proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc.stdout!.on('data', (b: Buffer) => (this.#out += b.toString()));
  }

  async stop(): Promise<number> {
    this.proc.stdin!.end();
    await waitFor(() => this.#out.includes('\n') || this.proc.exitCode !== null, 20_000, 'the sender to stop');
    const n = Number(this.#out.trim());
    if (!Number.isInteger(n)) throw new Error(`the sender reported '${this.#out}'`);
    return n;
  }
}

/** bpftool's view of programs and links, for comparing with `module list`. */
export function bpftoolPrograms(): Array<{ id: number; name?: string; type: string }> {
  return JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'list'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Array<{ id: number; name?: string; type: string }>;
}

export function bpftoolLinks(): Array<{ id: number; prog_id: number; type: string; ifindex?: number }> {
  return JSON.parse(execFileSync('bpftool', ['-j', 'link', 'list'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Array<{ id: number; prog_id: number; type: string; ifindex?: number }>;
}
