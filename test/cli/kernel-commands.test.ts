import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { BpfMap, Program } from '../../src/kernel/index.js';
import { tsbpf } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';
import { returnConst } from '../kernel/helpers.js';
import { haveBpftool } from '../support/tools.js';
import { featuresOff } from '../support/features.js';
import { haveFeature } from '../../src/kernel/feature-names.js';


describe('cli: prog list, map list, feature', function () {
  before(function () {
    needKernel(this);
  });

  it('prog list shows a program this test loaded (text and --json)', () => {
    using p = Program.load({ type: 'XDP', instructions: returnConst(2), name: 'cli_prog' });
    const id = p.id;
    const text = tsbpf('prog', 'list');
    expect(text.status, text.stderr).to.equal(0);
    expect(text.stdout).to.match(new RegExp(`^${id}: xdp  name cli_prog  tag [0-9a-f]{16}  gpl$`, 'm'));
    const json = tsbpf('prog', 'list', '--json');
    const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; name: string; type: string; verified_insns: number });
    expect(rows.find((r) => r.id === id)).to.include({ name: 'cli_prog', type: 'xdp', verified_insns: 2 });
  });

  it('map list shows a map this test created (text and --json)', () => {
    using m = BpfMap.create({ type: 'LRU_HASH', keySize: 8, valueSize: 16, maxEntries: 33, name: 'cli_map' });
    const text = tsbpf('map', 'list');
    expect(text.status, text.stderr).to.equal(0);
    expect(text.stdout).to.include(`${m.id}: lru_hash  name cli_map  flags 0x0\n\tkey 8B  value 16B  max_entries 33`);
    const rows = tsbpf('map', 'list', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number });
    expect(rows.find((r) => r.id === m.id)).to.deep.include({ name: 'cli_map', type: 'lru_hash', bytes_key: 8, bytes_value: 16, max_entries: 33 });
    const bad = tsbpf('map', 'nope');
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/unknown 'map' subcommand 'nope'/);
  });

  it('feature prints the probe results (text and --json)', () => {
    const text = tsbpf('feature');
    expect(text.status, text.stderr).to.equal(0);
    expect(text.stdout).to.match(/^  xdp +yes$/m);
    expect(text.stdout).to.match(/^  ringbuf +yes$/m);
    const json = JSON.parse(tsbpf('feature', '--json').stdout) as { programTypes: Record<string, boolean>; isa: { v3: boolean } };
    expect(json.programTypes.XDP).to.equal(true);
    expect(json.isa.v3).to.equal(true);
  });

  it('feature lists the named features with the release of each; TSBPF_FEATURES_OFF reads as missing', () => {
    const text = tsbpf('feature');
    expect(text.stdout).to.match(/^features by name$/m);
    expect(text.stdout).to.match(new RegExp(`^  tcx +${haveFeature('tcx') ? 'yes' : 'no'}  \\(tcx \\(tc BPF links\\), Linux 6\\.6\\)$`, 'm'));
    using _off = featuresOff('tcx', 'perf_link');
    const json = JSON.parse(tsbpf('feature', '--json').stdout) as { features: Record<string, { present: boolean; since: string }> };
    expect(json.features.tcx).to.deep.include({ present: false, since: '6.6' });
    expect(json.features.perf_link!.present).to.equal(false);
    expect(json.features.bpf_link).to.deep.include({ present: true, since: '5.7' });
  });
});

describe('cli: prog show', function () {
  before(function () {
    needKernel(this);
  });

  it('shows one program by id, and names a missing id', () => {
    using p = Program.load({ type: 'SOCKET_FILTER', instructions: returnConst(0), name: 'cli_show' });
    const r = tsbpf('prog', 'show', String(p.id), '--json');
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.include({ id: p.id, name: 'cli_show', type: 'socket_filter' });
    const missing = tsbpf('prog', 'show', '2147483647');
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.match(/no program with id 2147483647/);
  });
});

describe('cli: prog/map list agree with bpftool', function () {
  before(function () {
    needKernel(this);
    if (!haveBpftool()) this.skip();
  });

  it('same tag, type, name, sizes and map ids as bpftool prog show; same map shape as bpftool map show', async () => {
    const { ldMapFd, call, movImm, movReg, exit } = await import('../kernel/helpers.js');
    const { instruction } = await import('../../src/asm/instruction.js');
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 3, name: 'cli_bt_map' });
    using p = Program.load({
      type: 'XDP', name: 'cli_bt_prog',
      instructions: [instruction(0x62, 10, 0, -4, 0), movReg(2, 10), instruction(0x07, 2, 0, 0, -4), ldMapFd(1, m.fd), call(1), movImm(0, 2), exit()],
    });
    const ours = tsbpf('prog', 'show', String(p.id), '--json');
    expect(ours.status, ours.stderr).to.equal(0);
    const a = JSON.parse(ours.stdout) as Record<string, unknown>;
    const b = JSON.parse(spawnSync('bpftool', ['prog', 'show', 'id', String(p.id), '-j'], { encoding: 'utf8' }).stdout) as Record<string, unknown>;
    for (const k of ['id', 'type', 'name', 'tag', 'gpl_compatible', 'bytes_xlated', 'bytes_jited', 'map_ids', 'uid']) expect(a[k], k).to.deep.equal(b[k]);
    expect(Math.abs((a.loaded_at as number) - (b.loaded_at as number))).to.be.at.most(1);
    const mine = tsbpf('map', 'list', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.id === m.id)!;
    const theirs = JSON.parse(spawnSync('bpftool', ['map', 'show', 'id', String(m.id), '-j'], { encoding: 'utf8' }).stdout) as Record<string, unknown>;
    for (const k of ['id', 'type', 'name', 'flags', 'bytes_key', 'bytes_value', 'max_entries']) expect(mine[k], k).to.deep.equal(theirs[k]);
  });
});
