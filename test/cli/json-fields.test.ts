import { expect } from 'chai';
import { BpfMap } from '../../src/kernel/index.js';
import { needKernel } from '../support/kernel.js';
import { tsbpf } from '../support/cli.js';

describe('cli: --json numbers as bpftool -j prints them', function () {
  before(function () {
    needKernel(this);
  });

  it('map list --json gives map_extra as a number, and only when set', () => {
    using bloom = BpfMap.create({ type: 'BLOOM_FILTER', keySize: 0, valueSize: 4, maxEntries: 16, mapExtra: 5n, name: 'cli_bloom' });
    using plain = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1, name: 'cli_plain' });
    const rows = tsbpf('map', 'list', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.find((r) => r.id === bloom.id)?.map_extra).to.equal(5);
    expect(rows.find((r) => r.id === plain.id)).to.not.have.property('map_extra');
    for (const row of rows) for (const [k, v] of Object.entries(row)) if (k !== 'type' && k !== 'name') expect(typeof v, k).to.equal('number');
  });
});
