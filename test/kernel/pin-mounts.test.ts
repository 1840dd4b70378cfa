/**
 * `tsbpf load --pin` where bpffs is missing (a private mount namespace, as in
 * many containers), pin roots that do not exist yet, and a pin that fails
 * half-way: all or nothing, as libbpf.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run as load } from '../../src/cli/commands/load.js';
import { BpfMap } from '../../src/kernel/map.js';
import { CLI_BIN } from '../support/cli.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { commandRuns } from '../support/tools.js';
import { CHILD_DEADLINE } from '../support/wait.js';
import { bpfTestsDir } from '../elf/objects.js';
import { quietly } from './loader-helpers.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const object = join(bpfTestsDir, 'pinning.bpf.o');

/** Runs `script` (sh) in a new private mount namespace in which /sys/fs/bpf is not mounted. */
function withoutBpffs(script: string): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `umount -l /sys/fs/bpf 2>/dev/null; ! grep -q ' /sys/fs/bpf bpf ' /proc/self/mounts || { echo 'bpffs still mounted' >&2; exit 99; }\n${script}`], {
    encoding: 'utf8', cwd: ROOT, timeout: CHILD_DEADLINE, env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const tsbpf = `'${process.execPath}' --import tsx '${CLI_BIN}'`;

describe('kernel: pinning where bpffs is missing, pin roots, rollback', function () {
  before(function () {
    // A private mount namespace is the test's only way to take bpffs away: it belongs with the kernel.
    needKernel(this, commandRuns('unshare', '--version') ? null : 'no unshare(1) for a private mount namespace');
  });

  it('load --pin under /sys/fs/bpf mounts bpffs there first (it used to spin forever in mkdir), then pins', () => {
    const dir = `/sys/fs/bpf/${uniqueName('tsbpf_ns')}`;
    const r = withoutBpffs(`${tsbpf} load ${join(bpfTestsDir, 'net.bpf.o')} --pin ${dir} --json || exit $?\ngrep ' /sys/fs/bpf bpf ' /proc/self/mounts\nls ${dir} ${dir}/maps`);
    expect(r.signal, `killed (hung?)\n${r.stderr}`).to.equal(null);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^bpf \/sys\/fs\/bpf bpf /m);
    expect(r.stdout).to.include('"pinned":');
    expect(r.stdout.split('\n')).to.include.members(['xdp_count', 'tc_drop_udp', 'by_proto']);
  });

  it('outside bpffs: an empty directory gets a bpffs mounted on it; a missing one is refused and not created', () => {
    const base = `/tmp/${uniqueName('tsbpf_pin')}`;
    const r = withoutBpffs(`mkdir -p ${base}/empty\n${tsbpf} load ${object} --pin-root ${base}/empty --pin ${base}/empty/p --json || exit $?\ngrep -c ' ${base}/empty bpf ' /proc/self/mounts\n${tsbpf} load ${object} --pin ${base}/missing/p; echo "status $?"\ntest -e ${base}/missing && echo made-missing; true`);
    rmSync(base, { recursive: true, force: true });
    expect(r.signal, r.stderr).to.equal(null);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^1$/m); // one bpffs mounted on the empty directory
    expect(r.stdout).to.include('status 1');
    expect(r.stderr).to.match(/missing\/p does not exist and is not inside a bpffs: pins live only in a bpffs/);
    expect(r.stdout).to.not.include('made-missing');
  });

  it('tracefs is mounted where missing, to find a tracepoint id', () => {
    const child = join(ROOT, 'test/kernel/tracefs-child.ts');
    const r = withoutBpffs(`umount -l /sys/kernel/debug/tracing 2>/dev/null; umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null\n'${process.execPath}' --import tsx '${child}'`);
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { before: boolean; id: number; after: boolean };
    expect(out.before).to.equal(false);
    expect(out.id).to.be.a('number').greaterThan(0);
    expect(out.after).to.equal(true);
  });

  it('--pin-root DIR that does not exist yet is made (inside bpffs)', async () => {
    const root = `/sys/fs/bpf/${uniqueName('tsbpf_root')}/nested`;
    try {
      await quietly(() => load(['--pin-root', root, object]));
      expect(existsSync(join(root, 'shared_counter'))).to.equal(true);
    } finally {
      rmSync(join(root, '..'), { recursive: true, force: true });
    }
  });

  it('a pin that fails half-way removes what this load pinned (programs, and maps pinned by name)', async () => {
    const root = `/sys/fs/bpf/${uniqueName('tsbpf_rb')}`;
    const dir = join(root, 'pins');
    mkdirSync(join(dir, 'maps'), { recursive: true });
    // Something else already holds the name the second pin wants.
    using squatter = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    squatter.pin(join(dir, 'maps', 'shared_counter'));
    try {
      let error: unknown;
      await quietly(() => load(['--pin', dir, '--pin-root', root, object])).catch((e: unknown) => (error = e));
      expect(String(error)).to.match(/EEXIST/);
      expect(existsSync(join(dir, 'bump')), 'program pin left behind').to.equal(false);
      expect(existsSync(join(root, 'shared_counter')), 'map pinned by name left behind').to.equal(false);
      expect(existsSync(join(dir, 'maps', 'shared_counter')), "someone else's pin removed").to.equal(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
