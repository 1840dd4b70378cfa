/**
 * Differential test against bpftool/libbpf: every clang object the project
 * builds (bpf-tests, its DSL twins, and bpf-tests/corpus: programs written
 * the way libbpf-tools writes them), loaded by `bpftool prog loadall` and by
 * `tsbpf load --pin`, gives the same maps (names, types, sizes, flags) and
 * the same programs (names, types, the maps each holds, .rodata included as
 * libbpf binds it, and the kernel's translated instructions line by line as
 * `bpftool prog dump xlated` prints them). scripts/loader-parity.ts runs the
 * same comparison over a corpus of real-world objects (fuzz/RESULTS.md).
 */
import { expect } from 'chai';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bpfTestObjects, bpfTestsDir } from '../elf/objects.js';
import { needObject } from './loader-helpers.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { compareLoaders, readPinned } from './loader-parity.js';
import { haveBpftool } from '../support/tools.js';
import { tsbpf } from '../support/cli.js';

describe('kernel: loader vs bpftool prog loadall', function () {
  before(function () {
    needKernel(this);
    if (!haveBpftool()) this.skip(); // the oracle is missing, not the kernel
  });

  // pinning.bpf.o pins by name under /sys/fs/bpf, shared by every loader: its own test covers it.
  // optional.bpf.o: bpftool 7.1 fails to pin the program libbpf did not load (SEC("?xdp")).
  const objects = [
    ...bpfTestObjects().filter((f) => f !== 'pinning.bpf.o' && f !== 'optional.bpf.o'),
    ...['dsl-twins', 'corpus'].flatMap((dir) => readdirSync(join(bpfTestsDir, dir)).filter((f) => f.endsWith('.bpf.o')).sort().map((f) => `${dir}/${f}`)),
  ];
  // SEC("tcx/ingress") is newer than libbpf 1.1, which refuses the section; tsbpf loads it.
  const newerThanLibbpf11 = new Set(['dsl-twins/udp_drop.bpf.o']);
  for (const file of objects) {
    it(`${file}: tsbpf load --pin gives the same programs, maps and translated instructions`, async () => {
      const verdict = await compareLoaders(join(bpfTestsDir, file), `/sys/fs/bpf/${uniqueName('tsbpf_diff')}`);
      if (newerThanLibbpf11.has(file)) {
        expect(verdict.kind).to.equal('differ');
        expect((verdict as { details: string[] }).details.join()).to.match(/^bpftool refused .*failed to guess program type|supported section\(type\) names/);
        return;
      }
      // An object this kernel cannot take (e.g. kfuncs it lacks) must be refused by both.
      expect(verdict.kind === 'differ' ? verdict.details : [], file).to.deep.equal([]);
      if (verdict.kind === 'same') expect(verdict.programs).to.be.greaterThan(0);
    });
  }

  it('tsbpf load --pin (the CLI) pins what bpftool pins', function () {
    needObject(this, 'net.bpf.o');
    const root = `/sys/fs/bpf/${uniqueName('tsbpf_cli')}`;
    try {
      // The CLI from its sources, as the other CLI tests run it: not through npx, which a dev VM image does not carry.
      const r = tsbpf('load', join(bpfTestsDir, 'net.bpf.o'), '--pin', root, '--json');
      expect(r.status, r.stderr).to.equal(0);
      const out = r.stdout;
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; name: string; tag?: string; pinned: string });
      expect(lines.filter((l) => l.kind === 'program').map((l) => l.name).sort()).to.deep.equal(['cls_mark', 'sock_len', 'tc_drop_udp', 'xdp_count', 'xdp_frags_pass']);
      const pinned = readPinned(root);
      expect(Object.keys(pinned.maps)).to.deep.equal(['by_proto']);
      for (const l of lines.filter((x) => x.kind === 'program')) expect(pinned.programs[l.name]!.tag).to.equal(l.tag);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
