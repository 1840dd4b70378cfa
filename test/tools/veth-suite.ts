/**
 * What the network tools' suites share: a veth pair whose peer sits in a
 * namespace of the suite's own, and a scratch directory (the compile cache),
 * made before the suite and removed after it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VethNetns } from '../kernel/netns-fixture.js';
import { needKernel } from '../support/kernel.js';

export interface VethSuite {
  readonly net: VethNetns;
  readonly dir: string;
}

/** Call inside `describe`: registers the hooks and gives their products once `before` ran. */
export function vethSuite(prefix: string): VethSuite {
  let net: VethNetns | undefined;
  let dir: string | undefined;
  before(function () {
    needKernel(this);
    net = VethNetns.orSkip(this);
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  after(() => {
    net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get net() {
      return net!;
    },
    get dir() {
      return dir!;
    },
  };
}
