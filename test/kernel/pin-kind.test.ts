import { expect } from 'chai';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfMap, Program } from '../../src/kernel/index.js';
import { openPinnedLink } from '../../src/kernel/link-open.js';
import { PinnedKindError } from '../../src/kernel/pin.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { returnConst } from './helpers.js';

describe('kernel: opening a pin of the wrong kind', function () {
  let dir = '';
  before(function () {
    needKernel(this);
    dir = join('/sys/fs/bpf', uniqueName('pinkind'));
    mkdirSync(dir);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a program pin as a map, a map pin as a program or link, and opens the right kinds', () => {
    using prog = Program.load({ type: 'SOCKET_FILTER', instructions: returnConst(0), name: 'pin_kind' });
    using map = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1, name: 'pin_kind' });
    prog.pin(join(dir, 'prog'));
    map.pin(join(dir, 'map'));
    expect(() => BpfMap.openPinned(join(dir, 'prog'))).to.throw(PinnedKindError, `${join(dir, 'prog')} is a pinned program, not a map`);
    expect(() => Program.openPinned(join(dir, 'map'))).to.throw(PinnedKindError, 'is a pinned map, not a program');
    expect(() => openPinnedLink(join(dir, 'map'))).to.throw(PinnedKindError, 'is a pinned map, not a link');
    using again = BpfMap.openPinned(join(dir, 'map'));
    expect(again.valueSize).to.equal(8);
    using p2 = Program.openPinned(join(dir, 'prog'));
    expect(p2.info().id).to.equal(prog.info().id);
  });
});
