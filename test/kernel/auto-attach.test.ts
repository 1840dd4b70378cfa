import { expect } from 'chai';
import { mkdirSync, rmdirSync } from 'node:fs';
import type { Instruction } from '../../src/asm/instruction.js';
import { sectionProgramType } from '../../src/elf/section-types.js';
import { autoAttach } from '../../src/kernel/auto-attach.js';
import { cgroup2Path } from '../../src/kernel/fs-mounts.js';
import { kernelBtf } from '../../src/kernel/kernel-symbols.js';
import { kernelHasKprobes } from '../../src/kernel/link-kprobe.js';
import { LinkError } from '../../src/kernel/link-error.js';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { LinkType } from '../../src/syscall/layouts.generated.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { countAll, op } from './link-programs.js';
import { countMarked, libcGetpgid, MARK, markedGetpgid } from './marked-calls.js';
const readCount = (map: BpfMap): number => Number(new DataView(map.lookup(new Uint8Array(4))!.buffer).getBigUint64(0, true));

/** Loads `insns` as the loader would for a program in `section`, and returns it with its attach spec. */
function loadFor(section: string, insns: Instruction[]): { prog: Program; spec: { section: string; type: string; attachType?: string; attachTo?: string } } {
  const t = sectionProgramType(section)!;
  const attachBtfId = t.btfName ? kernelBtf().findByName(t.btfName, t.btfKind ?? 'func') : undefined;
  const prog = Program.load({
    type: t.programType as 'XDP',
    instructions: insns,
    ...(t.attachType ? { expectedAttachType: t.attachType as 'XDP' } : {}),
    ...(attachBtfId !== undefined ? { attachBtfId } : {}),
  });
  return { prog, spec: { section, type: t.programType, ...(t.attachType ? { attachType: t.attachType } : {}), ...(t.attachTo ? { attachTo: t.attachTo } : {}) } };
}

describe('kernel: auto-attach by section name', function () {
  let map: BpfMap;
  beforeEach(function () {
    needKernel(this);
    map = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
  });
  afterEach(function () {
    map?.close();
  });

  for (const section of ['tracepoint/syscalls/sys_enter_getpgid', 'tp/syscalls/sys_enter_getpgid', 'raw_tp/sys_enter', 'raw_tracepoint/sys_enter', 'tp_btf/sys_enter']) {
    it(`${section}: counts exactly the marked getpgid calls this thread makes`, function () {
      const { prog, spec } = loadFor(section, countMarked(section.includes('getpgid') ? 'tracepoint' : 'sys_enter', map.fd));
      using p = prog;
      const link = autoAttach(p, spec);
      for (let i = 0; i < 6; i++) markedGetpgid();
      link.close();
      markedGetpgid();
      expect(readCount(map)).to.equal(6);
    });
  }

  it('uprobe/libc.so.6:getpgid fires on each marked call this thread makes', function () {
    const { prog, spec } = loadFor('uprobe/libc.so.6:getpgid', countMarked('uprobe', map.fd));
    using p = prog;
    using link = autoAttach(p, spec);
    for (let i = 0; i < 4; i++) libcGetpgid(MARK);
    libcGetpgid(0); // unmarked
    expect(readCount(map)).to.equal(4);
    expect(link.kind).to.equal('uprobe');
  });

  it('iter/task links an iterator', function () {
    const { prog, spec } = loadFor('iter/task', [op.mov(0, 0), op.exit()]);
    using p = prog;
    using link = autoAttach(p, spec);
    expect(link.info().type).to.equal(LinkType.ITER);
  });

  it('cgroup_skb/egress attaches to the given cgroup', function () {
    const root = cgroup2Path();
    needKernel(this, root ? null : 'no cgroup v2');
    const cg = `${root}/${uniqueName('tsbaa')}`;
    mkdirSync(cg);
    try {
      const { prog, spec } = loadFor('cgroup_skb/egress', countAll(map.fd, 1));
      using p = prog;
      using link = autoAttach(p, spec, { cgroup: cg });
      expect(link.info().type).to.equal(LinkType.CGROUP);
    } finally {
      rmdirSync(cg);
    }
  });

  it('kinds that need something from the caller, or kprobes here, are clear typed errors', function () {
    {
      const { prog, spec } = loadFor('xdp', countAll(map.fd, 2));
      using p = prog;
      expect(() => autoAttach(p, spec)).to.throw(LinkError, /needs a network interface/).with.property('code', 'EBADARG');
    }
    {
      const { prog, spec } = loadFor('socket', countAll(map.fd, 0));
      using p = prog;
      expect(() => autoAttach(p, spec)).to.throw(LinkError, /needs a socket/).with.property('code', 'EBADARG');
    }
    if (!kernelHasKprobes()) {
      const { prog, spec } = loadFor('kprobe/do_sys_openat2', countAll(map.fd));
      using p = prog;
      expect(() => autoAttach(p, spec)).to.throw(LinkError, /no kprobes/).with.property('code', 'ENOKPROBES');
      expect(() => autoAttach(p, { ...spec, section: 'ksyscall/openat', attachTo: 'openat' })).to.throw(LinkError).with.property('code', 'ENOKPROBES');
    }
  });
});
