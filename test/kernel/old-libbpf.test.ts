/**
 * Objects `tsbpf build` writes load with the libbpf and bpftool Debian 12
 * ships (libbpf 1.1, bpftool 7.1) as well as with tsbpf (issue 13 item 11):
 * tc programs are SEC("tc") (libbpf 1.1 knows no `tcx/ingress`), a map
 * pinned by name survives `bpftool prog loadall … pinmaps DIR`, and the
 * exact attach point and pinning are in the object's .tsbpf section, where
 * tsbpf's loader reads them.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseObject } from '../../src/elf/parse-object.js';
import { readElf } from '../../src/elf/reader.js';
import { loadCollection } from '../../src/kernel/collection.js';
import { Program } from '../../src/kernel/program.js';
import { BpfMap } from '../../src/kernel/map.js';
import { compileSource, objectFileOf } from '../dsl/support/harness.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { haveBpftool } from '../support/tools.js';
import { patience } from '../support/wait.js';

const MODULE = `import { arrayMap, tc, xdp, TcAction, XdpAction, type u64 } from 'tsbpf/dsl';
export const seen = arrayMap<u64>({ maxEntries: 2, pinning: 'byName' });
export const plain = arrayMap<u64>({ maxEntries: 1 });
export const onIngress = tc('ingress', () => { seen.increment(0); return TcAction.OK; });
export const onEgress = tc('egress', () => { seen.increment(1); return TcAction.OK; });
export const onXdp = xdp(() => { plain.increment(0); return XdpAction.PASS; });
`;

/** The bpftool of Debian 12 (bookworm): bpftool 7.1 built with libbpf 1.1. */
function bookwormBpftool(): { path: string } | { missing: string } {
  for (const path of [process.env.TSBPF_BPFTOOL_7_1, 'bpftool'].filter((p): p is string => !!p)) {
    const r = spawnSync(path, ['version'], { encoding: 'utf8' });
    if (r.status === 0 && /bpftool v7\.1\./.test(r.stdout) && /libbpf v1\.1/.test(r.stdout)) return { path };
  }
  return { missing: 'no bpftool 7.1 with libbpf 1.1 (Debian 12\'s bpftool package; or set TSBPF_BPFTOOL_7_1)' };
}

describe('kernel: objects tsbpf writes load with old and new libbpf', function () {
  this.timeout(patience(60_000));
  const object = objectFileOf(MODULE, 'mod.o');

  it('writes SEC("tc") for tcx programs, no libbpf pinning member, and records both in .tsbpf', () => {
    const elf = readElf(new Uint8Array(readFileSync(object.path)));
    const sections = elf.sections.map((s) => s.name);
    expect(sections).to.include('tc');
    expect(sections.filter((s) => s.startsWith('tcx/'))).to.deep.equal([]);
    expect(sections.filter((s) => s === 'tc')).to.have.length(1); // both tc programs share it, as clang writes them
    expect(new TextDecoder().decode(elf.section('.tsbpf')!.data)).to.equal(
      'program onIngress section tcx/ingress\nprogram onEgress section tcx/egress\nmap seen pinning byName\n',
    );
    // tsbpf's own reading of the object: the exact attach types and the pinning.
    const spec = parseObject(new Uint8Array(readFileSync(object.path)));
    expect(spec.programs.map((p) => [p.name, p.type, p.attachType])).to.deep.equal([
      ['onIngress', 'SCHED_CLS', 'TCX_INGRESS'], ['onEgress', 'SCHED_CLS', 'TCX_EGRESS'], ['onXdp', 'XDP', 'XDP'],
    ]);
    expect(spec.maps.filter((m) => m.kind === 'user').map((m) => [m.name, m.pinning])).to.deep.equal([['seen', 'byName'], ['plain', 'none']]);
  });

  it('tsbpf loads it, pinning the map by name', function () {
    needKernel(this);
    const pinPath = `/sys/fs/bpf/${uniqueName('tsbpf_old')}`;
    mkdirSync(pinPath, { recursive: true });
    try {
      using c = loadCollection(parseObject(new Uint8Array(readFileSync(object.path))), { pinPath });
      expect([...c.programs.keys()].sort()).to.deep.equal(['onEgress', 'onIngress', 'onXdp']);
      expect(readdirSync(pinPath)).to.deep.equal(['seen']);
    } finally {
      rmSync(pinPath, { recursive: true, force: true });
    }
  });

  for (const which of ['this machine\'s bpftool', 'bpftool 7.1 / libbpf 1.1'] as const) {
    it(`${which}: prog loadall … pinmaps loads and pins every program and map`, function () {
      needKernel(this);
      let bpftool: string;
      if (which === 'this machine\'s bpftool') {
        if (!haveBpftool()) this.skip(); // the oracle is missing
        bpftool = 'bpftool';
      } else {
        const found = bookwormBpftool();
        if ('missing' in found) {
          this.test!.title += ` (skipped: ${found.missing})`;
          this.skip();
        }
        bpftool = (found as { path: string }).path;
      }
      const root = `/sys/fs/bpf/${uniqueName('tsbpf_ldall')}`;
      mkdirSync(root, { recursive: true });
      try {
        execFileSync(bpftool, ['prog', 'loadall', object.path, root, 'pinmaps', join(root, 'maps')], { stdio: 'pipe' });
        expect(readdirSync(root).filter((f) => f !== 'maps').sort()).to.deep.equal(['onEgress', 'onIngress', 'onXdp']);
        expect(readdirSync(join(root, 'maps')).sort()).to.deep.equal(['plain', 'seen']);
        using p = Program.openPinned(join(root, 'onEgress'));
        expect(p.info().type).to.equal(3); // SCHED_CLS
        using m = BpfMap.openPinned(join(root, 'maps', 'seen'));
        expect(m.maxEntries).to.equal(2);
        expect(existsSync('/sys/fs/bpf/seen')).to.equal(false); // nothing pinned outside DIR
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});
