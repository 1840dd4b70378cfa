/**
 * examples/tools/execguard (a BPF LSM program on bprm_check_security)
 * against its C twin built with clang (bpf-tests/dsl-twins/execguard.bpf.c),
 * on the same workload: two scripts of the test's own, one denied, run as
 * root, as an allowed uid and as another uid. Each policy must refuse
 * exactly the execs of the denied script by uids outside the allow-list
 * (EPERM), and report each refusal with the uid and path.
 * This host has no BPF trampolines: the test skips here, saying why, and
 * runs in the dev VMs (`make vm-test KERNELS=6.12 VM_TESTS=test/tools/execguard.test.ts`).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseObject } from '../../src/elf/parse-object.js';
import { loadCollection, type Collection } from '../../src/kernel/collection.js';
import { attachTracing } from '../../src/kernel/link-tracing.js';
import { howItEnded, spawnRun, until } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';
import { patience } from '../support/wait.js';
import { stopTool } from './support.js';

const TWIN = new URL('../../bpf-tests/dsl-twins/execguard.bpf.o', import.meta.url).pathname;
const ALLOWED_UID = 4242;
const OTHER_UID = 4243;

function skipBecause(ctx: Mocha.Context, reason: string): never {
  if (ctx.test) ctx.test.title += ` (skipped: ${reason})`;
  ctx.skip();
}

/** Runs `path` (as `uid` when given): 'ran', or the errno the exec failed with. */
function tryExec(path: string, uid?: number): string {
  const r = spawnSync(path, [], { stdio: 'ignore', timeout: patience(20000), ...(uid === undefined ? {} : { uid, gid: uid }) });
  if (r.error) return (r.error as NodeJS.ErrnoException).code ?? String(r.error);
  return r.status === 0 ? 'ran' : `exit ${r.status}`;
}

describe('tools: execguard (BPF LSM, compared with its C twin)', function () {
  this.timeout(patience(300000));
  let dir: string;
  let denied: string;
  let other: string;
  /** The workload: each exec and what it gave. */
  const workload = () => [
    `${denied} root ${tryExec(denied)}`,
    `${other} root ${tryExec(other)}`,
    `${denied} ${ALLOWED_UID} ${tryExec(denied, ALLOWED_UID)}`,
    `${denied} ${OTHER_UID} ${tryExec(denied, OTHER_UID)}`,
  ];
  const expected = () => [`${denied} root EPERM`, `${other} root ran`, `${denied} ${ALLOWED_UID} ran`, `${denied} ${OTHER_UID} EPERM`];

  /** Why the policy cannot run here (said in each test's title), or undefined. */
  let unable: string | undefined;
  const lsmOrSkip = (ctx: Mocha.Context) => {
    if (unable !== undefined) skipBecause(ctx, unable);
  };

  before(function () {
    needKernel(this);
    // securityfs says which LSMs are active; the dev VMs' initramfs does not mount it.
    if (!existsSync('/sys/kernel/security/lsm') && process.env.TSBPF_VM === '1') spawnSync('mount', ['-t', 'securityfs', 'securityfs', '/sys/kernel/security'], { stdio: 'ignore' });
    if (!existsSync('/sys/kernel/security/lsm') || !readFileSync('/sys/kernel/security/lsm', 'utf8').split(',').includes('bpf')) {
      unable = `the BPF LSM is not active (lsm=…,bpf on the kernel command line; active: ${existsSync('/sys/kernel/security/lsm') ? readFileSync('/sys/kernel/security/lsm', 'utf8') : 'securityfs not mounted'})`;
      return;
    }
    try {
      const probe = loadCollection(parseObject(new Uint8Array(readFileSync(TWIN))));
      for (const p of probe.programs.values()) p.close();
      for (const m of probe.maps.values()) m.close();
    } catch (e) {
      if (!/EPERM|ENOTSUP|trampoline/.test((e as Error).message)) throw e;
      unable = `this kernel has no BPF trampolines (${(e as Error).message}); make vm-test runs this on Debian 6.12`;
      return;
    }
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-toolsb-execguard-'));
    chmodSync(dir, 0o755);
    denied = join(dir, 'denied.sh');
    other = join(dir, 'other.sh');
    for (const f of [denied, other]) {
      writeFileSync(f, '#!/bin/sh\nexit 0\n');
      chmodSync(f, 0o755);
    }
    expect(workload(), 'the workload before any policy').to.deep.equal([`${denied} root ran`, `${other} root ran`, `${denied} ${ALLOWED_UID} ran`, `${denied} ${OTHER_UID} ran`]);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the C twin (clang) refuses the denied script outside the allow-list', function () {
    lsmOrSkip(this);
    const coll: Collection = loadCollection(parseObject(new Uint8Array(readFileSync(TWIN))));
    try {
      const key = new Uint8Array(128);
      key.set(Buffer.from(denied));
      coll.maps.get('denied')!.update(key, new Uint8Array([1]));
      coll.maps.get('allowedUids')!.update(new Uint8Array(new Uint32Array([ALLOWED_UID]).buffer), new Uint8Array([1]));
      coll.maps.get('enforce')!.update(new Uint8Array(4), new Uint8Array(new Uint32Array([1]).buffer));
      const link = attachTracing(coll.programs.get('checkExec')!, 'lsm/bprm_check_security');
      try {
        expect(workload()).to.deep.equal(expected());
      } finally {
        link.close();
      }
      expect(tryExec(denied)).to.equal('ran');
    } finally {
      for (const p of coll.programs.values()) p.close();
      for (const m of coll.maps.values()) m.close();
    }
  });

  it('tsbpf run examples/tools/execguard.bpf.ts refuses the same execs and prints each refusal', async function () {
    lsmOrSkip(this);
    const run = spawnRun(['examples/tools/execguard.bpf.ts', '--', '--deny', denied, '--allow-uid', String(ALLOWED_UID)], join(dir, 'cache'));
    let results: string[] = [];
    let out = '';
    let started = false;
    try {
      started = await until(run, Math.round(patience(240)) * 4, (r) => /ACTION\s+PATH\n/.test(r.stdout));
      expect(started, `the tool did not start (it ${howItEnded(run)}): ${run.stderr}`).to.equal(true);
      expect(run.stderr).to.include('denying 1 program, 1 uid allowed');
      results = workload();
      await until(run, Math.round(patience(30)) * 4, (r) => r.stdout.trim().split('\n').length === 3);
    } finally {
      // A tool still compiling has no SIGTERM handler yet: stopping it would hide why the test failed.
      if (started) out = await stopTool(run);
      else run.child.kill('SIGKILL');
    }
    expect(results).to.deep.equal(expected());
    expect(tryExec(denied), 'once the tool has stopped').to.equal('ran');
    const [header, ...rows] = out.trim().split('\n');
    expect(header).to.match(/^PID\s+UID\s+COMM\s+ACTION\s+PATH$/);
    expect(rows.map((r) => { const f = r.trim().split(/\s+/); return `${f[1]} ${f[3]} ${f[4]}`; })).to.deep.equal([`0 DENIED ${denied}`, `${OTHER_UID} DENIED ${denied}`]);
  });
});
