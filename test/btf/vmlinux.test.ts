import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { BtfBuilder, encodeBtf, parseBtf, sizeOf, toRaw, type Btf, type StructType } from '../../src/btf/index.js';
import { haveBpftool } from '../support/tools.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const haveVmlinux = existsSync(VMLINUX);
const bpftool = haveBpftool();

describe('btf: /sys/kernel/btf/vmlinux', function () {
  let bytes: Uint8Array;
  let btf: Btf;
  before(function () {
    if (!haveVmlinux) this.skip();
    bytes = readFileSync(VMLINUX);
    btf = parseBtf(bytes);
  });

  it('indexes every type and finds task_struct by name and kind', function () {
    expect(btf.typeCount).to.be.greaterThan(10000);
    const id = btf.findByName('task_struct', 'struct');
    expect(id).to.be.a('number');
    const t = btf.type(id!) as StructType;
    expect(t.kind).to.equal('struct');
    const pid = t.members.find((m) => m.name === 'pid')!;
    expect(pid).to.exist;
    expect(btf.type(pid.type).name).to.equal('pid_t');
    expect(sizeOf(btf, pid.type)).to.equal(4);
    expect(btf.findByName('task_struct', 'typedef')).to.equal(undefined);
    expect(btf.findByName('no_such_type_anywhere')).to.equal(undefined);
  });

  it('agrees with bpftool format raw, line for line, for every type', function () {
    if (!bpftool) this.skip();
    const raw = execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX, 'format', 'raw'], { maxBuffer: 1 << 28 }).toString();
    // The whole dump, line for line.
    expect(toRaw(btf)).to.equal(raw);
  });

  it('re-encodes to identical bytes', function () {
    const again = encodeBtf(btf);
    expect(again.length).to.equal(bytes.length);
    expect(Buffer.compare(Buffer.from(again), Buffer.from(bytes))).to.equal(0);
  });

  it('builds and parses split BTF on top of vmlinux (as module BTF is)', function () {
    const taskId = btf.findByName('task_struct', 'struct')!;
    const u32 = btf.findByName('u32', 'typedef')!;
    const b = new BtfBuilder({ base: btf });
    const ptr = b.ptr(taskId);
    const mod = b.struct('my_module_state', 16, [
      { name: 'owner', type: ptr, bitOffset: 0, bitfieldSize: 0 },
      { name: 'count', type: u32, bitOffset: 64, bitfieldSize: 0 },
      { name: 'flag', type: u32, bitOffset: 96, bitfieldSize: 1 },
    ]);
    const split = b.encode();
    const parsed = parseBtf(split, { base: btf });
    expect(parsed.firstId).to.equal(btf.typeCount);
    expect(parsed.findByName('my_module_state', 'struct')).to.equal(mod);
    expect(parsed.findByName('task_struct', 'struct')).to.equal(taskId);
    const t = parsed.type(mod) as StructType;
    expect(t.members.map((m) => m.name)).to.deep.equal(['owner', 'count', 'flag']);
    expect(t.members[2]!.bitfieldSize).to.equal(1);
    expect(parsed.type(t.members[0]!.type)).to.deep.equal({ kind: 'ptr', name: '', type: taskId });
    if (bpftool) {
      const dir = execFileSync('mktemp', ['-d']).toString().trim();
      const file = `${dir}/split.btf`;
      execFileSync('sh', ['-c', `cat > ${file}`], { input: split });
      const raw = execFileSync('bpftool', ['btf', 'dump', 'file', file, '-B', VMLINUX, 'format', 'raw']).toString();
      execFileSync('rm', ['-rf', dir]);
      expect(toRaw(parsed)).to.equal(raw);
    }
  });
});
