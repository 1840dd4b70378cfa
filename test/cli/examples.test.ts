/**
 * The network examples run as the README says (`tsbpf run examples/X.bpf.ts`),
 * in a private network namespace whose veth peer (in a second namespace)
 * sends UDP datagrams; the maps they print must count exactly those.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_BIN } from '../support/cli.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { untilOutput } from '../support/wait.js';

const ROOT = new URL('../../', import.meta.url).pathname;

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

describe('cli: the network examples count real traffic', function () {
  const sender = uniqueName('exs');
  const receiver = uniqueName('exr');
  const senderIf = uniqueName('exa');
  const receiverIf = uniqueName('exb');
  let cache = '';

  before(function () {
    needKernel(this);
    cache = mkdtempSync(join(tmpdir(), 'tsbpf-examples-'));
    ip('netns', 'add', sender);
    ip('netns', 'add', receiver);
    ip('link', 'add', senderIf, 'netns', sender, 'type', 'veth', 'peer', 'name', receiverIf, 'netns', receiver);
    ip('-n', sender, 'addr', 'add', '10.213.0.1/24', 'dev', senderIf);
    ip('-n', receiver, 'addr', 'add', '10.213.0.2/24', 'dev', receiverIf);
    ip('-n', sender, 'link', 'set', senderIf, 'up');
    ip('-n', receiver, 'link', 'set', receiverIf, 'up');
  });
  after(() => {
    spawnSync('ip', ['netns', 'del', sender]);
    spawnSync('ip', ['netns', 'del', receiver]);
    if (cache) rmSync(cache, { recursive: true, force: true });
  });

  /**
   * Runs the example in the receiver namespace; once attached, sends `send`
   * from the sender, then stops it with Ctrl-C (SIGINT) and returns the map
   * lines it printed. Every datagram has been through the receiver's stack
   * when the sender's write returns (veth delivers in the sender's softirq), so
   * the maps count all of them, however slowly this machine runs.
   */
  async function runExample(args: string[], send: () => void): Promise<Record<string, unknown>[]> {
    // ip netns exec execs node: the signal reaches tsbpf itself.
    const child = spawn('ip', ['netns', 'exec', receiver, process.execPath, '--import', 'tsx', CLI_BIN, 'run', ...args, '--json'], {
      cwd: ROOT, env: { ...process.env, NO_COLOR: '1', TSBPF_CACHE_DIR: cache },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    await untilOutput(child, () => stdout + stderr, '"attached"');
    send();
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).to.equal(0);
    return stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => 'map' in l);
  }

  /** Sends `count` UDP datagrams of `size` bytes of payload from the sender namespace. */
  function sendUdp(port: number, count: number, size = 8): void {
    const script = `for i in $(seq ${count}); do head -c ${size} /dev/zero > /dev/udp/10.213.0.2/${port}; done`;
    const r = spawnSync('ip', ['netns', 'exec', sender, 'bash', '-c', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
  }

  it('xdp-proto-count counts UDP packets by protocol', async () => {
    const maps = await runExample(['examples/xdp-proto-count.bpf.ts', '--iface', receiverIf], () => sendUdp(9999, 7));
    expect(maps.find((m) => m.map === 'packetsByProtocol' && m.key === 17)?.value).to.equal(7);
  });

  it('tc-drop-udp-port counts the datagrams to the port it drops and no others', async () => {
    const maps = await runExample(['examples/tc-drop-udp-port.bpf.ts', '--iface', receiverIf, '--set', 'port=5353'], () => {
      sendUdp(5353, 4);
      sendUdp(9999, 3);
    });
    expect(maps.find((m) => m.map === 'dropped' && m.key === 0)?.value).to.equal(4);
  });

  it('socket-filter counts IPv4 packets by size class (the frame starts at the Ethernet header)', async () => {
    const maps = await runExample(['examples/socket-filter.bpf.ts'], () => {
      sendUdp(9999, 5, 8);
      sendUdp(9999, 2, 600);
    });
    const bucket = (k: number) => Number(maps.find((m) => m.map === 'sizes' && m.key === k)?.value ?? 0);
    // The receiver answers each datagram with an ICMP port unreachable, which the socket sees too (rate-limited).
    expect(bucket(0)).to.be.at.least(5);
    expect(bucket(2)).to.be.at.least(2);
    expect(bucket(1) + bucket(3)).to.equal(0);
  });
});
