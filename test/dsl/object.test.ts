/**
 * Objects written by `tsbpf build`: bpftool loads them and dumps their BTF
 * (structs and maps); tsbpf's own ELF loader loads them and the program
 * runs with the same result as the directly loaded module.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { writeObject } from '../../src/dsl/compiler/object.js';
import { parseObject } from '../../src/elf/parse-object.js';
import { loadCollection } from '../../src/kernel/collection.js';
import { needKernel, uniqueName } from '../support/kernel.js';
import { haveBpftool } from '../support/tools.js';
import { compileSource, kernelSequence, objectFileOf, packet } from './support/harness.js';

const source = `
import { xdp, hashMap, perCpuArray, ringBuf, rodata, global, XdpAction, type u8, type u32, type u64, type CStr } from 'tsbpf/dsl';
import { EthHdr, IpHdr } from 'tsbpf/dsl/net';
export interface FlowKey { saddr: u32; daddr: u32; proto: u8 }
export interface Event { flow: FlowKey; len: u32; comm: CStr<16> }
export const flows = hashMap<FlowKey, u64>({ maxEntries: 128 });
export const protos = perCpuArray<u64>({ maxEntries: 256 });
export const events = ringBuf<Event>({ size: 4096 });
export const verdict = rodata<u32>(2);
export const total = global<u64>(0);
export const count = xdp((ctx) => {
  const ip = ctx.packet.at(IpHdr, EthHdr.size);
  if (ip === null) return XdpAction.PASS;
  const key: FlowKey = { saddr: ip.saddr, daddr: ip.daddr, proto: ip.protocol };
  flows.increment(key);
  protos.increment(ip.protocol);
  total.set(total.get() + 1);
  return verdict.get();
});
`;

describe('dsl objects (tsbpf build output)', function () {
  const object = objectFileOf(source);

  it('bpftool btf dump shows the structs, maps and globals', function () {
    if (!haveBpftool()) this.skip();
    const dump = execFileSync('bpftool', ['btf', 'dump', 'file', object.path, 'format', 'c'], { encoding: 'utf8' });
    expect(dump).to.match(/struct FlowKey \{\s+u32 saddr;\s+u32 daddr;\s+u8 proto;\s+\};/);
    expect(dump).to.match(/struct Event \{\s+struct FlowKey flow;\s+u32 len;\s+char comm\[16\];\s+\};/);
    const raw = execFileSync('bpftool', ['btf', 'dump', 'file', object.path], { encoding: 'utf8' });
    for (const name of ['flows', 'protos', 'events', 'verdict', 'total']) expect(raw).to.include(`VAR '${name}'`);
    expect(raw).to.include("DATASEC '.maps'");
    expect(raw).to.include("FUNC 'count'");
  });

  it('bpftool prog loadall loads it, with TypeScript line info', function () {
    needKernel(this);
    if (!haveBpftool()) this.skip();
    const pin = `/sys/fs/bpf/${uniqueName('tsdsl')}`;
    try {
      execFileSync('bpftool', ['prog', 'loadall', object.path, pin], { stdio: 'pipe' });
      const xlated = execFileSync('bpftool', ['prog', 'dump', 'xlated', 'pinned', `${pin}/count`, 'linum'], { encoding: 'utf8' });
      expect(xlated).to.include('flows.increment(key);');
      expect(xlated).to.match(/line_num:\d+/);
    } finally {
      rmSync(pin, { recursive: true, force: true });
    }
  });

  it("tsbpf's ELF loader loads it and the program behaves as the directly loaded module", function () {
    needKernel(this);
    const mod = compileSource(source);
    const bytes = writeObject(mod);
    const coll = loadCollection(parseObject(bytes));
    try {
      const prog = coll.programs.get('count')!;
      const pkts = [packet({ proto: 'udp' }), packet({ proto: 'udp' }), packet({ proto: 'tcp' })];
      const retvals = pkts.map((p) => prog.testRun({ data: p }).retval);
      const direct = kernelSequence(mod, 'count', pkts);
      expect(retvals).to.deep.equal(direct.retvals);
      const flows = coll.maps.get('flows')!;
      const entries = [...flows].map(([k, v]) => [Buffer.from(k).toString('hex'), Buffer.from(v).toString('hex')]);
      expect(Object.fromEntries(entries)).to.deep.equal(direct.maps.flows);
    } finally {
      for (const p of coll.programs.values()) p.close();
      for (const m of coll.maps.values()) m.close();
    }
  });
});

describe('dsl objects: a prog array carries its programs', function () {
  const tail = `
import { progArray, xdp, XdpAction, type XdpContext } from 'tsbpf/dsl';
export const drop = xdp(() => XdpAction.DROP);
export const tx = xdp(() => XdpAction.TX);
export const stages = progArray<XdpContext>({ programs: [tx, drop] });
export const entry = xdp((ctx) => {
  stages.tailCall(ctx, ctx.packet.length > 60 ? 1 : 0);
  return XdpAction.PASS;
});
`;
  const object = objectFileOf(tail);

  it("as libbpf's __array(values, …) initialiser: bpftool 7.1 fills the slots", function () {
    needKernel(this);
    if (!haveBpftool()) this.skip();
    const pin = `/sys/fs/bpf/${uniqueName('tsdslpa')}`;
    try {
      execFileSync('bpftool', ['prog', 'loadall', object.path, pin, 'pinmaps', `${pin}/maps`], { stdio: 'pipe' });
      const slots = JSON.parse(execFileSync('bpftool', ['map', 'dump', 'pinned', `${pin}/maps/stages`, '-j'], { encoding: 'utf8' })) as unknown[];
      expect(slots).to.have.length(2);
      const ids = (name: string) => (JSON.parse(execFileSync('bpftool', ['prog', 'show', 'pinned', `${pin}/${name}`, '-j'], { encoding: 'utf8' })) as { id: number }).id;
      const values = slots.map((s) => Buffer.from(((s as { value: string[] }).value).map((b) => parseInt(b, 16))).readUInt32LE(0));
      expect(values).to.deep.equal([ids('tx'), ids('drop')]);
    } finally {
      rmSync(pin, { recursive: true, force: true });
    }
  });

  it("and tsbpf's ELF loader fills them: the entry program's tail calls reach both", function () {
    needKernel(this);
    const coll = loadCollection(parseObject(writeObject(compileSource(tail))));
    try {
      const entry = coll.program('entry');
      expect(entry.testRun({ data: packet({ payload: [1] }) }).retval).to.equal(3);
      expect(entry.testRun({ data: packet({ payload: Array(40).fill(0) }) }).retval).to.equal(1);
    } finally {
      coll.close();
    }
  });
});
