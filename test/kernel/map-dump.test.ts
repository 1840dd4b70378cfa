/** `tsbpf map dump` decodes keys and values through BTF as bpftool does. */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pinCollection } from '../../src/kernel/collection-pin.js';
import { dump } from '../../src/cli/map-dump.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { ipv4Packet, loadBpfTest, needObject } from './loader-helpers.js';
import { haveBpftool } from '../support/tools.js';

/** Numbers as strings, so that u64 values compare exactly. */
const normalize = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'number' || typeof x === 'bigint' ? String(x) : x)));

function bpftoolJson(args: string[]): unknown {
  const out = execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' });
  // bpftool prints u64 as bare numbers; keep their digits.
  return JSON.parse(out.replace(/:\s*(-?\d{16,})/g, ':"$1"'));
}

describe('kernel: tsbpf map dump', function () {
  before(function () {
    needKernel(this);
    if (!haveBpftool()) this.skip(); // the oracle is missing, not the kernel
  });

  it('prints the same decoded entries as bpftool for struct, LPM-key and data-section maps', async function () {
    needObject(this, 'maps.bpf.o');
    const dir = `/sys/fs/bpf/${uniqueName('tsbpf_dump')}`;
    try {
      {
        using c = loadBpfTest('maps.bpf.o');
        c.program('fill_maps').testRun({ data: ipv4Packet() });
        pinCollection(c, dir);
      }
      {
        using g = loadBpfTest('global_data.bpf.o', { variables: { multiplier: 9 } });
        pinCollection(g, join(dir, 'g'));
      }
      for (const path of [join(dir, 'maps/hash_map'), join(dir, 'maps/lpm'), join(dir, 'g/maps/global_d_rodata')]) {
        const theirs = (bpftoolJson(['map', 'dump', 'pinned', path]) as { formatted: unknown }[]).map((e) => e.formatted);
        const out = await captureStdout(() => dump(['pinned', path, '--json']));
        const ours = out.trim().split('\n').map((l) => JSON.parse(l));
        expect(normalize(ours), path).to.deep.equal(normalize(theirs));
        expect(ours.length).to.be.greaterThan(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function captureStdout(fn: () => Promise<number>): Promise<string> {
  const original = process.stdout.write.bind(process.stdout);
  let text = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    expect(await fn()).to.equal(0);
  } finally {
    process.stdout.write = original;
  }
  return text;
}
