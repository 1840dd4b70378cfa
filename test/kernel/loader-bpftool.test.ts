/**
 * Differential test against bpftool/libbpf: the same object loaded by
 * `bpftool prog loadall` and by tsbpf gives the same maps (names, types,
 * sizes, flags) and the same programs (the kernel's translated instruction
 * count and tag: the same instructions after relocation, and the same maps
 * bound to each program, .rodata included as libbpf binds it).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { run as load } from '../../src/cli/commands/load.js';
import { bpfTestObjects, bpfTestsDir } from '../elf/objects.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { quietly } from './loader-helpers.js';
import { haveBpftool } from '../support/tools.js';

interface Loaded {
  /** Per program: type, the kernel's tag and translated length (same instructions), and the names of the maps it holds (bound .rodata included). */
  programs: Record<string, { tag: string; xlated: number; type: number; maps: string[] }>;
  maps: Record<string, { name: string; type: number; keySize: number; valueSize: number; maxEntries: number; flags: number }>;
}

/** Reads what is pinned under DIR (programs) and DIR/maps (maps). */
function readPinned(dir: string): Loaded {
  const out: Loaded = { programs: {}, maps: {} };
  for (const f of readdirSync(dir)) {
    if (f === 'maps') continue;
    using p = Program.openPinned(join(dir, f));
    const info = p.info();
    const maps = info.mapIds.map((id) => {
      using m = BpfMap.fromId(id);
      return m.name;
    }).sort();
    out.programs[f] = { tag: info.tag, xlated: info.xlatedProgLen / 8, type: info.type, maps };
  }
  for (const f of readdirSync(join(dir, 'maps'))) {
    using m = BpfMap.openPinned(join(dir, 'maps', f));
    out.maps[f] = { name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: m.flags };
  }
  return out;
}

describe('kernel: loader vs bpftool prog loadall', function () {
  before(function () {
    needKernel(this);
    if (!haveBpftool()) this.skip(); // the oracle is missing, not the kernel
  });

  // pinning.bpf.o pins by name under /sys/fs/bpf, shared by every loader: its own test covers it.
  // optional.bpf.o: bpftool 7.1 fails to pin the program libbpf did not load (SEC("?xdp")).
  for (const file of bpfTestObjects().filter((f) => f !== 'pinning.bpf.o' && f !== 'optional.bpf.o')) {
    it(`${file}: tsbpf load --pin gives the same maps and program tags`, async () => {
      const root = `/sys/fs/bpf/${uniqueName('tsbpf_diff')}`;
      const theirs = join(root, 'bpftool');
      const ours = join(root, 'tsbpf');
      mkdirSync(theirs, { recursive: true });
      try {
        let bpftoolError: unknown;
        try {
          execFileSync('bpftool', ['prog', 'loadall', join(bpfTestsDir, file), theirs, 'pinmaps', join(theirs, 'maps')], { stdio: 'pipe' });
        } catch (e) {
          bpftoolError = e;
        }
        if (bpftoolError) {
          // An object this kernel cannot take (e.g. kfuncs it lacks): tsbpf must refuse it too.
          let ok = false;
          try {
            await quietly(() => load(['--pin', ours, join(bpfTestsDir, file)]));
            ok = true;
          } catch {
            // expected
          }
          expect(ok, `bpftool failed on ${file} but tsbpf loaded it`).to.equal(false);
          return;
        }
        // `tsbpf load OBJ --pin DIR`, run in this process.
        await quietly(() => load(['--pin', ours, join(bpfTestsDir, file)]));
        const a = readPinned(theirs);
        const b = readPinned(ours);
        expect(Object.keys(b.programs).sort()).to.deep.equal(Object.keys(a.programs).sort());
        for (const name of Object.keys(a.programs)) expect(b.programs[name], `program ${name}`).to.deep.equal(a.programs[name]);
        expect(b.maps).to.deep.equal(a.maps);
        expect(Object.keys(a.programs).length).to.be.greaterThan(0);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }

  it('tsbpf load --pin (the CLI) pins what bpftool pins', () => {
    const root = `/sys/fs/bpf/${uniqueName('tsbpf_cli')}`;
    try {
      const out = execFileSync('npx', ['tsx', 'src/cli/bin.ts', 'load', join(bpfTestsDir, 'net.bpf.o'), '--pin', root, '--json'], {
        cwd: join(bpfTestsDir, '..'), encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' },
      });
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
