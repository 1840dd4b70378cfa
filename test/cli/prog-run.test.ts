/**
 * `tsbpf prog run` test-runs a loaded program on a packet file as bpftool
 * prog run does: the same return value, the same data_out hex dump, the
 * same -j keys; and the run has its real effect (the program's map counts it).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsbpf } from '../support/cli.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { haveBpftool } from '../support/tools.js';

const OBJECT = fileURLToPath(new URL('../../bpf-tests/net.bpf.o', import.meta.url));
/** Ethernet + IPv4 header with protocol 17 (UDP), then bytes that show in the dump. */
const udp = Buffer.from('000000000000 000000000000 0800 45000000 00000000 0011 0000 00000000 00000000 68656c6c6f2c20776f726c64'.replace(/ /g, ''), 'hex');

describe('tsbpf prog run against bpftool prog run', function () {
  const pin = `/sys/fs/bpf/${uniqueName('usrprun')}`;
  let dir: string;
  const bpftool = (...args: string[]) => spawnSync('bpftool', args, { encoding: 'utf8' });
  const withoutDuration = (s: string) => s.replace(/duration( \(average\))?: \d+ns/, 'duration$1: Nns');

  before(function () {
    needKernel(this);
    if (!haveBpftool()) this.skip();
    const r = bpftool('prog', 'loadall', OBJECT, pin, 'pinmaps', `${pin}/maps`);
    expect(r.status, r.stderr).to.equal(0);
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-prog-run-user-'));
    writeFileSync(join(dir, 'udp.bin'), udp);
  });
  after(() => {
    rmSync(pin, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the same return value and data_out dump; the program counted the packet', () => {
    const args = ['pinned', `${pin}/xdp_count`, 'data_in', join(dir, 'udp.bin'), 'data_out', '-', 'repeat', '3'];
    const ours = tsbpf('prog', 'run', ...args);
    expect(ours.status, ours.stderr).to.equal(0);
    const theirs = bpftool('prog', 'run', ...args);
    // The dump, then the result (XDP_DROP for UDP), as bpftool prints them.
    expect(withoutDuration(ours.stdout)).to.equal(withoutDuration(theirs.stdout)).and.match(/^0000000\t0000 0000 0000 0000 0000 0000 0800 4500 \| /).and.match(/\nReturn value: 1, duration \(average\): Nns\n$/);
    // 3 runs each (ours and bpftool's) counted in by_proto[17].
    const count = bpftool('-j', 'map', 'lookup', 'pinned', `${pin}/maps/by_proto`, 'key', '17', '0', '0', '0');
    expect(Buffer.from((JSON.parse(count.stdout) as { value: string[] }).value.map((b) => Number(b))).readBigUInt64LE()).to.equal(6n);
  });

  it('data_out FILE gets the packet; -j has bpftool\'s keys; tc drops the UDP packet', () => {
    const out = join(dir, 'out.bin');
    const r = tsbpf('prog', 'run', 'pinned', `${pin}/tc_drop_udp`, 'data_in', join(dir, 'udp.bin'), 'data_out', out, '--json');
    expect(r.status, r.stderr).to.equal(0);
    const ours = JSON.parse(r.stdout) as Record<string, unknown>;
    const theirs = JSON.parse(bpftool('-j', 'prog', 'run', 'pinned', `${pin}/tc_drop_udp`, 'data_in', join(dir, 'udp.bin')).stdout) as Record<string, unknown>;
    expect(Object.keys(ours).sort()).to.deep.equal(Object.keys(theirs).sort());
    expect(ours.retval).to.equal(theirs.retval).and.equal(2); // TC_ACT_SHOT
    expect(readFileSync(out)).to.deep.equal(udp);
  });

  it('bad arguments are one line', () => {
    expect(tsbpf('prog', 'run', 'pinned', `${pin}/xdp_count`)).to.deep.include({ status: 2, stderr: 'error: give the input: data_in FILE (or ctx_in FILE)\n' });
    expect(tsbpf('prog', 'run', 'pinned', `${pin}/xdp_count`, 'data_in', join(dir, 'udp.bin'), 'repeat', '0')).to.deep.include({ status: 2, stderr: "error: repeat must be a positive integer, not '0'\n" });
  });
});
