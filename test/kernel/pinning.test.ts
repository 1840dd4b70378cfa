import { expect } from 'chai';
import { mkdtempSync, rmdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { umount, MNT_DETACH } from '../../src/syscall/mount.js';
import { BpfMap, Program, bpffsContaining, ensureBpffs, ensureTracefs, isMounted, unpin } from '../../src/kernel/index.js';
import { needKernel } from '../support/kernel.js';
import { readU32, returnConst, u32le } from './helpers.js';

describe('kernel: bpffs and tracefs mounts, pinning', function () {
  before(function () {
    needKernel(this);
  });

  it('ensureBpffs mounts a bpffs where none is, and pins work in it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-bpffs-'));
    try {
      expect(isMounted(dir, 'bpf')).to.equal(false);
      expect(ensureBpffs(dir)).to.equal(dir);
      expect(isMounted(dir, 'bpf')).to.equal(true);
      expect(ensureBpffs(dir)).to.equal(dir); // idempotent
      expect(bpffsContaining(`${dir}/x`)).to.equal(dir);
      using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
      m.update(u32le(0), u32le(99));
      m.pin(`${dir}/m`);
      using p = Program.load({ type: 'XDP', instructions: returnConst(2) });
      p.pin(`${dir}/p`);
      using m2 = BpfMap.openPinned(`${dir}/m`);
      expect(readU32(m2.lookup(u32le(0))!)).to.equal(99);
      using p2 = Program.openPinned(`${dir}/p`);
      expect(p2.testRun({ data: new Uint8Array(64) }).retval).to.equal(2);
      unpin(`${dir}/m`);
      unpin(`${dir}/p`);
      expect(existsSync(`${dir}/m`)).to.equal(false);
    } finally {
      if (isMounted(dir, 'bpf')) umount(dir, MNT_DETACH);
      rmdirSync(dir);
    }
  });

  it('pinning outside bpffs is a typed error', () => {
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 });
    expect(() => m.pin(join(tmpdir(), 'not-bpffs-pin'))).to.throw(/BPF_OBJ_PIN.*not inside a mounted bpffs/);
  });

  it('ensureTracefs finds or mounts tracefs with the tracepoint events', () => {
    const path = ensureTracefs();
    expect(existsSync(`${path}/events/syscalls`)).to.equal(true);
    expect(bpffsContaining(path)).to.equal(undefined);
  });
});
