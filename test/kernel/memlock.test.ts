/**
 * Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK: tsbpf raises it
 * there (as libbpf does) and leaves it alone where the memory cgroup pays.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RLIM_INFINITY } from '../../src/syscall/rlimit.js';
import { needKernel } from '../support/kernel.js';
import { kernelAtLeast } from './helpers.js';

const child = fileURLToPath(new URL('./memlock-child.ts', import.meta.url));

describe('kernel: RLIMIT_MEMLOCK', function () {
  before(function () {
    needKernel(this);
  });

  it('an 8 MiB map is created under a 64 KiB memlock limit; the limit is lifted only where the kernel charges it (before 5.11)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', child], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { created: string; soft: string };
    expect(out.created).to.equal('yes');
    expect(BigInt(out.soft)).to.equal(kernelAtLeast(5, 11) ? 65536n : RLIM_INFINITY);
  });
});
