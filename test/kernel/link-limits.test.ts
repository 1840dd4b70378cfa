import { expect } from 'chai';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { attachTracepoint } from '../../src/kernel/link-tracepoint.js';
import { LinkError } from '../../src/kernel/link-error.js';
import { needKernel } from '../support/kernel.js';
import { countAll } from './link-programs.js';

describe('kernel: the per-tracepoint program limit', function () {
  before(function () {
    needKernel(this);
  });

  it('the link past the kernel limit (64 per tracepoint) is a typed ETOOMANY with a hint, not "too large"', function () {
    using map = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
    // One program attaches to a tracepoint once (EEXIST): each link gets its own.
    const load = (): Program => {
      const p = Program.load({ type: 'TRACEPOINT', instructions: countAll(map.fd) });
      links.push(p);
      return p;
    };
    const links: Array<{ close(): void }> = [];
    let attached = 0;
    try {
      let error: unknown;
      // Others may hold programs on it too: attach until the kernel says no.
      for (let i = 0; i < 70 && error === undefined; i++) {
        try {
          links.push(attachTracepoint(load(), 'syscalls/sys_enter_sethostname'));
          attached++;
        } catch (e) {
          error = e;
        }
      }
      expect(attached).to.be.within(1, 64);
      expect(error).to.be.instanceOf(LinkError);
      expect((error as LinkError).code).to.equal('ETOOMANY');
      expect((error as Error).message).to.match(/already runs 64 BPF programs, the kernel's limit per tracepoint or probe \(close links/);
      expect(() => attachTracepoint(load(), 'syscalls/sys_enter_sethostname', { legacy: true })).to.throw(LinkError, /already runs 64/);
    } finally {
      for (const l of links.reverse()) l.close();
    }
  });
});
