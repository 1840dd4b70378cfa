/**
 * The control socket under bad input (malformed JSON, unknown verbs, a huge
 * message, an old protocol version, a non-root client, a module that does
 * not compile or does not verify): each gets a clear, typed error and the
 * running module keeps running. Also the CLI verbs as a person runs them,
 * and the metrics endpoint checked by promtool.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VethNetns } from '../kernel/netns-fixture.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { runAsNobody } from '../support/unprivileged.js';
import { EngineClientError } from '../../src/engine/client.js';
import type { ListResult } from '../../src/engine/protocol.js';
import { buildModule, CLI_BIN, counterModule, EngineProcess, stageModule, waitFor } from './fixture.js';

/** Sends raw bytes on a fresh connection (then shuts down its side) and collects what comes back: the first line, or everything until the engine closes. */
function raw(socket: string, data: Buffer | string, untilClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let out = '';
    s.on('connect', () => s.end(data));
    s.on('data', (b) => {
      out += b.toString();
      if (!untilClose && out.includes('\n')) s.destroy();
    });
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? resolve(out) : reject(e)));
    s.on('close', () => resolve(out));
  });
}

const errorOf = (line: string): { code: string; message: string } => (JSON.parse(line.split('\n')[0]!) as { error: { code: string; message: string } }).error;

describe('engine: control socket, CLI and metrics (kernel)', function () {
  this.timeout(180_000);
  let net: VethNetns;
  let engine: EngineProcess;
  let metrics: string;
  const port = 45000 + Math.floor(Math.random() * 10000);

  before(async function () {
    needKernel(this);
    net = VethNetns.orSkip(this);
    engine = new EngineProcess();
    const ready = await engine.start({ metrics: '127.0.0.1:0' });
    metrics = ready.metrics as string;
    const o = buildModule(engine.dir, 'steady', counterModule('xdp', uniqueName('cs').slice(0, 14), 'A')).object;
    await engine.call('load', { name: 'steady', file: o, iface: net.host, set: { port } });
  });

  after(async () => {
    await engine?.destroy();
    net?.destroy();
  });

  async function steadyStillRuns(): Promise<void> {
    const list = await engine.call<ListResult>('list');
    expect(list.modules.map((m) => m.name)).to.include('steady');
    const read = async () => Number((await engine.call<{ contents: Array<{ name: string; entries: Array<{ value: number }> }> }>('show', { name: 'steady' })).contents[0]!.entries[0]!.value);
    const before = await read();
    net.sendUdpFromNs(10, net.hostIp, port);
    await waitFor(async () => (await read()) >= before + 10, 20_000, 'the steady module to count');
  }

  it('malformed JSON, unknown verbs, bad arguments and old versions get typed errors', async () => {
    expect(errorOf(await raw(engine.socket, '{"v":1,"id":1,"verb":\n'))).to.include({ code: 'E_BAD_JSON' });
    expect(errorOf(await raw(engine.socket, '[1,2]\n'))).to.include({ code: 'E_BAD_REQUEST' });
    const unknown = errorOf(await raw(engine.socket, '{"v":1,"id":2,"verb":"explode"}\n'));
    expect(unknown.code).to.equal('E_UNKNOWN_VERB');
    expect(unknown.message).to.include('load, replace');
    expect(errorOf(await raw(engine.socket, '{"v":99,"id":3,"verb":"list"}\n'))).to.include({ code: 'E_VERSION' });
    expect(errorOf(await raw(engine.socket, '{"v":1,"id":4,"verb":"unload","args":{"name":"../../etc"}}\n'))).to.include({ code: 'E_BAD_REQUEST' });
    expect(errorOf(await raw(engine.socket, '{"v":1,"id":5,"verb":"load","args":{"file":"relative.o"}}\n'))).to.include({ code: 'E_BAD_REQUEST' });
    expect(errorOf(await raw(engine.socket, '{"v":1,"id":6,"verb":"unload","args":{"name":"nosuch"}}\n'))).to.include({ code: 'E_NO_MODULE' });
    // Several requests on one connection are answered in order, a bad one in the middle included.
    const three = await raw(engine.socket, '{"v":1,"id":"a","verb":"ping"}\nnot json\n{"v":1,"id":"c","verb":"list"}\n', true);
    const replies = three.trim().split('\n').map((l) => JSON.parse(l) as { id: string | null; ok: boolean });
    expect(replies.map((r) => [r.id, r.ok])).to.deep.equal([['a', true], [null, false], ['c', true]]);
    await steadyStillRuns();
  });

  it('a huge message is refused and its connection closed', async () => {
    const reply = await raw(engine.socket, Buffer.alloc(17 * 1024 * 1024, 0x61), true);
    expect(errorOf(reply)).to.include({ code: 'E_TOO_LARGE' });
    await steadyStillRuns();
  });

  it('a client that is not root is refused', async () => {
    const cli = runAsNobody(fileURLToPath(new URL('./nobody-cli-child.ts', import.meta.url)), { args: ['list', '--state-dir', engine.stateDir] });
    expect(cli.status).to.equal(1);
    expect(cli.stderr).to.match(/permission denied .*root-only/);
    // Even with the socket opened up, the engine checks the peer's credentials.
    chmodSync(engine.dir, 0o755);
    chmodSync(engine.stateDir, 0o755);
    chmodSync(engine.socket, 0o666);
    try {
      const script = `const s=require('net').connect(${JSON.stringify(engine.socket)});let o='';s.on('data',b=>o+=b);s.on('close',()=>process.stdout.write(o));s.on('connect',()=>s.write('{"v":1,"id":1,"verb":"list"}\\n'));`;
      const out = execFileSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
      expect(errorOf(out)).to.include({ code: 'E_PERM' });
    } finally {
      chmodSync(engine.socket, 0o600);
      chmodSync(engine.stateDir, 0o700);
      chmodSync(engine.dir, 0o700);
    }
    await steadyStillRuns();
  });

  it('a module that does not compile or does not verify is refused with where and why', async () => {
    const bad = join(engine.dir, 'broken.bpf.ts');
    writeFileSync(bad, "import { xdp } from 'tsbpf/dsl';\nexport const p = xdp((ctx) => {\n  return undefinedThing;\n});\n");
    const err = await engine.call('load', { file: bad, iface: net.host }).then(() => undefined, (e: EngineClientError) => e);
    expect(err?.code).to.equal('E_COMPILE');
    expect(err?.details?.join('\n')).to.match(/broken\.bpf\.ts:3:\d+: TS2304/);
    // Verifies badly: reads past the packet end check.
    const unsafe = join(engine.dir, 'unsafe.bpf.ts');
    writeFileSync(unsafe, "import { xdp, bpf, u32 } from 'tsbpf/dsl';\nexport const p = xdp((ctx) => {\n  if (ctx.packet.length < 10) return 1;\n  const word = bpf.unsafeLoad(0x1000, 8);\n  return u32(word);\n});\n");
    const verr = await engine.call('load', { file: unsafe, iface: net.host }).then(() => undefined, (e: EngineClientError) => e);
    expect(verr?.code).to.equal('E_VERIFIER');
    expect(verr?.message).to.include('invalid mem access');
    const nosuch = await engine.call('load', { file: join(engine.dir, 'missing.o'), iface: net.host }).then(() => undefined, (e: EngineClientError) => e);
    expect(nosuch?.code).to.equal('E_SOURCE');
    const noIface = await engine.call('load', { name: 'x', file: join(engine.dir, 'steady.o'), iface: 'nosuchif0' }).then(() => undefined, (e: EngineClientError) => e);
    expect(noIface?.code).to.equal('E_ATTACH');
    expect((await engine.call<ListResult>('list')).modules.map((m) => m.name)).to.deep.equal(['steady']);
    await steadyStillRuns();
  });

  it('the CLI verbs: load a .bpf.ts (warm), list, show, replace, unload', async () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', CLI_BIN, 'module', ...args, '--state-dir', engine.stateDir], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const src = buildModule(engine.dir, 'stage', stageModule('tc', uniqueName('cl').slice(0, 14))).ts;
    const load = cli('load', src, '--iface', net.host, '--name', 'cli-stage');
    expect(load.status, load.stderr).to.equal(0);
    expect(load.stdout).to.match(/^loaded cli-stage v1 /);
    expect(load.stdout).to.include(`tcx-ingress:${net.host}`);
    const list = cli('list');
    expect(list.stdout).to.match(/^NAME\s+VERSION\s+PROGRAMS\s+HOOKS\s+MAPS\s+RUNS\s+RUN TIME\s+LOADED/);
    expect(list.stdout).to.include('cli-stage');
    const json = cli('list', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; programs: Array<{ runCount: string | null }> });
    expect(json.map((m) => m.name).sort()).to.deep.equal(['cli-stage', 'steady']);
    expect(json.find((m) => m.name === 'cli-stage')!.programs[0]!.runCount).to.be.a('string');
    net.sendUdpFromNs(5, net.hostIp, port);
    let show = cli('show', 'cli-stage');
    await waitFor(() => (show = cli('show', 'cli-stage')).stdout.includes(`${port} → 5`), 20_000, `show to list 5 packets: ${show.stdout}${show.stderr}`);
    expect(show.stdout, show.stdout).to.match(new RegExp(`seen .*\\n.*${port} → 5`));
    const replace = cli('replace', 'cli-stage', src, '--set', 'verdict=0');
    expect(replace.status, replace.stderr).to.equal(0);
    expect(replace.stdout).to.match(/map seen\s+carried over/);
    expect(replace.stdout).to.match(/map \.rodata\s+created new/);
    const unload = cli('unload', 'cli-stage');
    expect(unload.stdout).to.match(/^unloaded cli-stage/);
    const missing = cli('show', 'cli-stage');
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.include('E_NO_MODULE: no module cli-stage');
  });

  it('serves Prometheus metrics that promtool accepts: declared map metrics and program statistics', async () => {
    const src = buildModule(engine.dir, 'metered', stageModule('tc', uniqueName('me').slice(0, 14))).object;
    await engine.call('load', { name: 'metered', file: src, iface: net.host });
    try {
      net.sendUdpFromNs(7, net.hostIp, port);
      let body = '';
      await waitFor(async () => {
        body = await (await fetch(`http://${metrics}/metrics`)).text();
        return body.includes(`tsbpf_stage_packets_total{module="metered",port="${port}"} 7`);
      }, 20_000, 'the metric to show 7 packets');
      expect(body).to.include('# TYPE tsbpf_stage_packets_total counter');
      expect(body).to.include('# HELP tsbpf_stage_packets_total UDP packets seen by a chain stage');
      expect(body).to.match(/tsbpf_module_info\{module="steady",version="1",hash="[0-9a-f]{16}"\} 1/);
      expect(body).to.match(/tsbpf_program_runs_total\{module="steady",program="[^"]+",hook="xdp:[^"]+"\} \d+/);
      const check = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
      expect(check.status, `promtool: ${check.stdout}${check.stderr}\n${body}`).to.equal(0);
      expect((await fetch(`http://${metrics}/other`)).status).to.equal(404);
    } finally {
      await engine.call('unload', { name: 'metered' });
    }
  });
});
