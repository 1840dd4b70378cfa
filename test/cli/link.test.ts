import { expect } from 'chai';
import { mkdirSync, rmdirSync } from 'node:fs';
import { attachCgroup, attachRawTracepoint, BpfMap, cgroup2Path, LinkType, Program } from '../../src/kernel/index.js';
import { tsbpf } from '../support/cli.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { countAll } from '../kernel/link-programs.js';

describe('cli: link list, show, detach', function () {
  // Each CLI run starts node + tsx (~1-2 s): keep their number small.
  before(function () {
    needKernel(this);
  });

  it('list and show describe a raw tracepoint link this test made (text and --json)', function () {
    using map = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
    using prog = Program.load({ type: 'RAW_TRACEPOINT', instructions: countAll(map.fd), name: 'cli_link' });
    using link = attachRawTracepoint(prog, 'sys_enter');
    const { id, progId } = link.info();
    const text = tsbpf('link', 'list');
    expect(text.status, text.stderr).to.equal(0);
    expect(text.stdout).to.include(`${id}: raw_tracepoint  prog ${progId}\n\tname sys_enter`);
    const rows = tsbpf('link', 'list', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number });
    expect(rows.find((r) => r.id === id)).to.deep.equal({ id, type: 'raw_tracepoint', prog_id: progId, name: 'sys_enter' });
  });

  it('detach unhooks a cgroup link by id; errors are clear', function () {
    const root = cgroup2Path();
    needKernel(this, root ? null : 'no cgroup v2');
    const cg = `${root}/${uniqueName('tsbcli')}`;
    mkdirSync(cg);
    try {
      using map = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
      using prog = Program.load({ type: 'CGROUP_SKB', instructions: countAll(map.fd, 1), expectedAttachType: 'CGROUP_INET_EGRESS' });
      using link = attachCgroup(prog, cg, 'egress');
      const { id } = link.info();
      const shown = JSON.parse(tsbpf('link', 'show', String(id), '--json').stdout) as { type: string; attach_type: string };
      expect(shown).to.include({ type: 'cgroup', attach_type: 'cgroup_inet_egress' });
      const r = tsbpf('link', 'detach', String(id));
      expect(r.status, r.stderr).to.equal(0);
      expect(link.info().type).to.equal(LinkType.CGROUP);
      expect(link.info().cgroupId).to.equal(0n, 'a detached cgroup link has no cgroup');
      const missing = tsbpf('link', 'show', '999999999');
      expect(missing.status).to.equal(1);
      expect(missing.stderr).to.match(/no link with id 999999999/);
    } finally {
      rmdirSync(cg);
    }
  });
});
