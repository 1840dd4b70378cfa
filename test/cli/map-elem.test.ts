/**
 * `tsbpf map lookup|update|delete` against bpftool on the same maps (a
 * clang object loaded by bpftool loadall): typed keys and values written
 * through BTF land as the bytes bpftool reads back, and lookup prints what
 * bpftool prints, as text and as -j, to the byte.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tsbpf } from '../support/cli.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { haveBpftool } from '../support/tools.js';

const OBJECT = fileURLToPath(new URL('../../bpf-tests/run_object.bpf.o', import.meta.url));

describe('tsbpf map lookup|update|delete against bpftool', function () {
  const pin = `/sys/fs/bpf/${uniqueName('usrelem')}`;
  const map = (name: string) => `${pin}/maps/${name}`;
  const bpftool = (...args: string[]) => spawnSync('bpftool', args, { encoding: 'utf8' });
  const key7 = ['7', '0', '0', '0', '0x61', '0x62', '0x63', '0', '0', '0', '0', '0'];

  before(function () {
    needKernel(this);
    if (!haveBpftool()) this.skip();
    const r = bpftool('prog', 'loadall', OBJECT, pin, 'pinmaps', `${pin}/maps`);
    expect(r.status, r.stderr).to.equal(0);
  });
  after(() => rmSync(pin, { recursive: true, force: true }));

  it('update with a typed key and value; lookup prints what bpftool prints (text and -j)', () => {
    const u = tsbpf('map', 'update', 'pinned', map('by_thread'), 'key', '{"tid": 7, "tag": "abc"}', 'value', '42');
    expect(u.status, u.stderr).to.equal(0);
    const theirs = bpftool('map', 'lookup', 'pinned', map('by_thread'), 'key', ...key7);
    expect(theirs.status, theirs.stderr).to.equal(0);
    expect(tsbpf('map', 'lookup', 'pinned', map('by_thread'), 'key', '{"tid": 7, "tag": "abc"}').stdout).to.equal(theirs.stdout);
    // bpftool's bytes form reaches the same entry.
    expect(tsbpf('map', 'lookup', 'pinned', map('by_thread'), 'key', ...key7).stdout).to.equal(theirs.stdout);
    const theirsJson = bpftool('-j', 'map', 'lookup', 'pinned', map('by_thread'), 'key', ...key7).stdout;
    expect(tsbpf('map', 'lookup', 'pinned', map('by_thread'), 'key', 'hex', '07000000', '61626300', '00000000', '--json').stdout.trim()).to.equal(theirsJson.trim());
  });

  it('per-CPU maps: one value for every CPU, printed per CPU as bpftool does', () => {
    expect(tsbpf('map', 'update', 'pinned', map('per_cpu'), 'key', '0', 'value', '5').status).to.equal(0);
    expect(tsbpf('map', 'lookup', 'pinned', map('per_cpu'), 'key', '0').stdout).to.equal(bpftool('map', 'lookup', 'pinned', map('per_cpu'), 'key', '0', '0', '0', '0').stdout);
    expect(tsbpf('map', 'lookup', 'pinned', map('per_cpu'), 'key', '0', '--json').stdout.trim()).to.equal(bpftool('-j', 'map', 'lookup', 'pinned', map('per_cpu'), 'key', '0', '0', '0', '0').stdout.trim());
  });

  it('noexist on an existing key fails; delete removes it (bpftool no longer finds it); a second delete is not found', () => {
    const again = tsbpf('map', 'update', 'pinned', map('by_thread'), 'key', '{"tid": 7, "tag": "abc"}', 'value', '1', 'noexist');
    expect(again.status).to.equal(1);
    expect(again.stderr).to.match(/EEXIST/);
    expect(tsbpf('map', 'delete', 'pinned', map('by_thread'), 'key', '{"tid": 7, "tag": "abc"}').status).to.equal(0);
    expect(bpftool('map', 'lookup', 'pinned', map('by_thread'), 'key', ...key7).status).to.not.equal(0);
    expect(tsbpf('map', 'delete', 'pinned', map('by_thread'), 'key', '{"tid": 7, "tag": "abc"}')).to.deep.include({ status: 1, stderr: 'error: key 07 00 00 00 61 62 63 00 00 00 00 00: not found\n' });
  });

  it('a value that does not fit its type names the member; bytes of the wrong size say both sizes', () => {
    expect(tsbpf('map', 'lookup', 'pinned', map('by_thread'), 'key', '{"tid": 7, "tog": 1}')).to.deep.include({ status: 2, stderr: "error: key: no member 'tog' (members: tid, tag)\n" });
    expect(tsbpf('map', 'update', 'pinned', map('by_thread'), 'key', '{"tid": -1}', 'value', '1')).to.deep.include({ status: 2, stderr: 'error: key.tid: -1 does not fit an unsigned 32-bit integer\n' });
    expect(tsbpf('map', 'lookup', 'pinned', map('by_thread'), 'key', '1', '2')).to.deep.include({ status: 2, stderr: "error: key is 2 bytes, the map's key is 12\n" });
  });
});
