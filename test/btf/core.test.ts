import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { decode } from '../../src/asm/codec.js';
import type { Instruction } from '../../src/asm/instruction.js';
import { readElf } from '../../src/elf/reader.js';
import {
  BtfBuilder,
  BtfError,
  CoreTarget,
  POISON_HELPER_ID,
  applyCoreRelocation,
  describeSpec,
  essentialName,
  fieldAccess,
  parseSpec,
  parseBtf,
  parseBtfExt,
  resolveCoreRelo,
  resolveCoreReloStrict,
  sizeOf,
  type Btf,
  type CoreRelo,
  type StructType,
} from '../../src/btf/index.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

function loadObject(path: string) {
  const elf = readElf(readFileSync(path));
  const btf = parseBtf(elf.section('.BTF')!.data);
  const ext = parseBtfExt(elf.section('.BTF.ext')!.data, btf);
  return { elf, btf, ext };
}

/** Index of the instruction at byte offset `off` (lddw takes two slots). */
function insnAt(insns: Instruction[], off: number): number {
  let slot = 0;
  let i = 0;
  while (slot < off / 8) slot += insns[i++]!.opcode === 0x18 ? 2 : 1;
  return i;
}

function member(btf: Btf, structName: string, field: string) {
  const t = btf.type(btf.findByName(structName, 'struct')!) as StructType;
  return t.members.find((m) => m.name === field)!;
}

describe('btf: CO-RE', function () {
  let vmlinux: Btf;
  let target: CoreTarget;
  before(function () {
    if (!existsSync(VMLINUX)) this.skip();
    vmlinux = parseBtf(readFileSync(VMLINUX));
    target = new CoreTarget(vmlinux);
  });

  it('applies the ___flavor rule', function () {
    expect(essentialName('task_struct___x')).to.equal('task_struct');
    expect(essentialName('task_struct___v2___x')).to.equal('task_struct___v2');
    expect(essentialName('__x___')).to.equal('__x___');
    expect(essentialName('a____b')).to.equal('a____b');
    expect(essentialName('plain')).to.equal('plain');
  });

  it('finds the same candidates by scanning names (the first searches) as through the essential-name index (later ones)', function () {
    const bytes = readFileSync(VMLINUX);
    const local = (kind: 'struct' | 'union' | 'enum' | 'typedef', name: string) => ({ kind, name }) as Parameters<CoreTarget['candidates']>[0];
    const wanted = [
      local('struct', 'task_struct'), local('struct', 'task_struct___x'), local('struct', 'task_struct___v2___y'), local('struct', 'list_head'),
      local('struct', 'trace_event_raw_sys_enter'), local('enum', 'bpf_map_type'), local('enum', 'bpf_map_type___old'), local('union', 'bpf_attr'),
      local('typedef', 'u32'), local('struct', 'sk_buff'), local('struct', 'no_such_type_anywhere'), local('struct', 'mm_struct'),
    ];
    const scanned = new CoreTarget(parseBtf(bytes));
    const indexed = new CoreTarget(parseBtf(bytes));
    for (let i = 0; i < 20; i++) indexed.candidates(local('struct', `warm_up_${i}`)); // past the scans: the index is built
    for (const l of wanted) {
      const ids = (t: CoreTarget) => t.candidates(l).map((c) => c.id);
      expect(ids(scanned), `${l.kind} ${l.name}`).to.deep.equal(ids(indexed));
    }
    expect(scanned.candidates(local('struct', 'task_struct'))).to.have.length.greaterThan(0);
    expect(scanned.candidates(local('struct', 'no_such_type_anywhere'))).to.deep.equal([]);
  });

  it('relocates every kind in a clang-built object against vmlinux', function () {
    const { elf, btf, ext } = loadObject(new URL('./fixtures/core_kinds.bpf.o', import.meta.url).pathname);
    const tgid = member(vmlinux, 'task_struct', 'tgid');
    const comm = member(vmlinux, 'task_struct', 'comm');
    const children = member(vmlinux, 'task_struct', 'children');
    const prev = member(vmlinux, 'list_head', 'prev');
    const bit = member(vmlinux, 'task_struct', 'sched_contributes_to_load');
    const bitByteOff = Math.floor(bit.bitOffset / 32) * 4;
    const taskId = vmlinux.findByName('task_struct', 'struct')!;
    const ringbuf = (() => {
      for (const id of vmlinux.findAllByName('bpf_map_type', 'enum')) {
        const t = vmlinux.type(id);
        if (t.kind === 'enum') return t.values.find((v) => v.name === 'BPF_MAP_TYPE_RINGBUF')!.value;
      }
      throw new Error('no bpf_map_type');
    })();
    const expected: Record<string, bigint | 'poison'> = {
      'fieldByteOffset struct task_struct___x.tgid': BigInt(tgid.bitOffset / 8),
      'fieldByteSize struct task_struct___x.comm': 16n,
      'fieldExists struct task_struct___x.not_in_the_kernel': 0n,
      'fieldExists struct task_struct___x.real_parent': 1n,
      'fieldByteOffset struct task_struct___x.sched_contributes_to_load': BigInt(bitByteOff),
      'fieldByteSize struct task_struct___x.sched_contributes_to_load': 4n,
      'fieldLshiftU64 struct task_struct___x.sched_contributes_to_load': BigInt(64 - (bit.bitOffset + 1 - bitByteOff * 8)),
      'fieldRshiftU64 struct task_struct___x.sched_contributes_to_load': 63n,
      'fieldSigned struct task_struct___x.sched_contributes_to_load': 0n,
      'fieldByteOffset struct task_struct___x.comm[3]': BigInt(comm.bitOffset / 8 + 3),
      'fieldByteOffset struct task_struct___x.children.prev': BigInt((children.bitOffset + prev.bitOffset) / 8),
      'typeExists struct task_struct___x': 1n,
      'typeSize struct task_struct___x': BigInt(sizeOf(vmlinux, taskId)),
      'typeIdTarget struct task_struct___x': BigInt(taskId),
      'enumvalExists enum bpf_map_type___x::BPF_MAP_TYPE_RINGBUF___x': 1n,
      'enumvalExists enum bpf_map_type___x::NOT_A_MAP_TYPE___x': 0n,
      'enumvalValue enum bpf_map_type___x::BPF_MAP_TYPE_RINGBUF___x': BigInt(ringbuf),
      'typeSize u32___x': 4n,
      'fieldByteOffset struct task_struct___x.not_in_the_kernel': 'poison',
    };
    const seen = new Set<string>();
    for (const sec of ext.coreRelos) {
      const insns = decode(elf.section(sec.section)!.data);
      for (const relo of sec.records) {
        const res = resolveCoreRelo(relo, btf, target);
        const key = `${relo.kind} ${res.path}`;
        seen.add(key);
        const i = insnAt(insns, relo.insnOff);
        const [patched] = applyCoreRelocation(insns[i]!, res, i);
        if (relo.kind === 'typeIdLocal') {
          expect(res.targetValue, key).to.equal(BigInt(relo.typeId));
          continue;
        }
        expect(expected, key).to.have.property(key);
        if (expected[key] === 'poison') {
          expect(res.poison, key).to.equal(true);
          expect(res.reason).to.equal(`${res.path}: no candidate`);
          expect(patched).to.include({ opcode: 0x85, imm: POISON_HELPER_ID, src: 0, dst: 0, off: 0 });
          continue;
        }
        expect(res.poison, key).to.equal(false);
        expect(res.targetValue, key).to.equal(expected[key]);
        // The patched instruction carries the new value where the old one was.
        const cls = insns[i]!.opcode & 7;
        if (cls === 1) expect(BigInt(patched!.off), key).to.equal(res.targetValue);
        else if (insns[i]!.opcode === 0x18) expect(patched!.imm64, key).to.equal(res.targetValue);
        else expect(BigInt(patched!.imm), key).to.equal(res.targetValue);
      }
    }
    for (const k of Object.keys(expected)) expect(seen.has(k), `relocation '${k}' present in the object`).to.equal(true);
  });

  it('builds the same access strings as clang from member names and indexes (fieldAccess)', function () {
    let checked = 0;
    for (const f of ['core_kinds.bpf.o', 'core_nested.bpf.o']) {
      const { btf, ext } = loadObject(new URL(`./fixtures/${f}`, import.meta.url).pathname);
      for (const sec of ext.coreRelos)
        for (const relo of sec.records) {
          if (!relo.kind.startsWith('field')) continue;
          const spec = parseSpec(btf, relo);
          const path = spec.accessors.slice(1).map((a) => a.name ?? a.idx);
          const access = fieldAccess(btf, relo.typeId, path);
          expect(access.accessString, `${f} ${describeSpec(spec)}`).to.equal(relo.accessString);
          expect(access.bitOffset).to.equal(spec.bitOffset);
          checked++;
        }
    }
    expect(checked).to.be.greaterThan(15);
    const task = vmlinux.findByName('task_struct', 'struct')!;
    const a = fieldAccess(vmlinux, task, ['comm', 3]);
    expect(a.bitOffset).to.equal(member(vmlinux, 'task_struct', 'comm').bitOffset + 24);
    expect(() => fieldAccess(vmlinux, task, ['no_such_field'])).to.throw(BtfError, "task_struct.no_such_field: no member 'no_such_field'");
    expect(() => fieldAccess(vmlinux, task, ['comm', 16])).to.throw(BtfError, /out of bounds/);
  });

  it('relocates the bpf-tests objects: task_struct.pid lands where BTF says', function () {
    const dir = new URL('../../bpf-tests/', import.meta.url).pathname;
    if (!existsSync(dir)) this.skip();
    const pid = member(vmlinux, 'task_struct', 'pid');
    let checked = 0;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.bpf.o'))) {
      const { btf, ext } = loadObject(dir + f);
      for (const sec of ext.coreRelos)
        for (const relo of sec.records) {
          const res = resolveCoreRelo(relo, btf, target);
          if (res.path === 'struct task_struct.pid' && relo.kind === 'fieldByteOffset') {
            expect(res.targetValue).to.equal(BigInt(pid.bitOffset / 8));
            checked++;
          }
          if (res.path === 'struct task_struct___local.made_up_field') expect(res.targetValue).to.equal(0n);
        }
    }
    expect(checked).to.be.greaterThan(0);
  });

  describe('with hand-built local BTF', function () {
    function local(build: (b: BtfBuilder, int: number, uint: number) => void) {
      const b = new BtfBuilder();
      const int = b.int('int', 4, true);
      const uint = b.int('unsigned int', 4);
      build(b, int, uint);
      return parseBtf(b.encode());
    }
    const relo = (typeId: number, accessString: string, kind: CoreRelo['kind']): CoreRelo => ({ insnOff: 0, typeId, accessString, kind });

    it('names the type and field path when nothing matches', function () {
      const btf = local((b, int) => {
        const pid = b.struct('pid_link', 8, [{ name: 'pid', type: int, bitOffset: 0, bitfieldSize: 0 }]);
        const arr = b.array(pid, 3, int);
        b.struct('task_struct', 24, [{ name: 'pids', type: arr, bitOffset: 0, bitfieldSize: 0 }]);
      });
      const id = btf.findByName('task_struct', 'struct')!;
      const res = resolveCoreRelo(relo(id, '0:0:0:0', 'fieldByteOffset'), btf, target);
      expect(res.poison).to.equal(true);
      expect(res.reason).to.equal('struct task_struct.pids[0].pid: no candidate');
      expect(() => resolveCoreReloStrict(relo(id, '0:0:0:0', 'fieldByteOffset'), btf, target))
        .to.throw(BtfError, 'struct task_struct.pids[0].pid: no candidate')
        .with.property('code', 'CORE_RELO');
      // A relocation on a type the kernel lacks entirely.
      const none = local((b, int) => void b.struct('no_such_kernel_struct', 4, [{ name: 'x', type: int, bitOffset: 0, bitfieldSize: 0 }]));
      const nid = none.findByName('no_such_kernel_struct')!;
      expect(resolveCoreRelo(relo(nid, '0:0', 'fieldByteOffset'), none, target).reason).to.equal('struct no_such_kernel_struct.x: no candidate');
      expect(resolveCoreRelo(relo(nid, '0', 'typeExists'), none, target)).to.include({ poison: false, targetValue: 0n });
    });

    it('finds candidates in module BTF only when vmlinux has none', function () {
      const mb = new BtfBuilder({ base: vmlinux });
      const u32 = vmlinux.findByName('u32', 'typedef')!;
      const modType = mb.struct('tsbpf_test_module_state', 16, [
        { name: 'pad', type: u32, bitOffset: 0, bitfieldSize: 0 },
        { name: 'count', type: u32, bitOffset: 96, bitfieldSize: 0 },
      ]);
      // A module's own task_struct must not be used: vmlinux has one.
      mb.struct('task_struct', 8, [{ name: 'pid', type: u32, bitOffset: 32, bitfieldSize: 0 }]);
      const moduleBtf = parseBtf(mb.encode(), { base: vmlinux });
      const withModule = new CoreTarget(vmlinux, [moduleBtf]);
      const btf = local((b, int) => {
        b.struct('tsbpf_test_module_state', 4, [{ name: 'count', type: int, bitOffset: 0, bitfieldSize: 0 }]);
        b.struct('task_struct', 4, [{ name: 'pid', type: int, bitOffset: 0, bitfieldSize: 0 }]);
      });
      const m = resolveCoreRelo(relo(btf.findByName('tsbpf_test_module_state')!, '0:0', 'fieldByteOffset'), btf, withModule);
      expect(m).to.include({ poison: false, targetValue: 12n });
      expect(m.target).to.deep.equal({ btf: moduleBtf, typeId: modType });
      const t = resolveCoreRelo(relo(btf.findByName('task_struct')!, '0:0', 'fieldByteOffset'), btf, withModule);
      expect(t.targetValue).to.equal(BigInt(member(vmlinux, 'task_struct', 'pid').bitOffset / 8));
      expect(t.target!.btf).to.equal(vmlinux);
    });

    it('indexes flexible arrays and reads 64-bit enum values', function () {
      const btf = local((b, int) => {
        const self = b.reserve();
        const p = b.ptr(self);
        const flex = b.array(p, 0, int);
        b.set(self, { kind: 'struct', name: 'cgroup___x', size: 8, members: [
          { name: 'level', type: int, bitOffset: 0, bitfieldSize: 0 },
          { name: 'ancestors', type: flex, bitOffset: 64, bitfieldSize: 0 },
        ] });
        b.add({ kind: 'enum', name: 'perf_callchain_context___x', size: 4, signed: false, values: [{ name: 'PERF_CONTEXT_KERNEL___x', value: 1 }] });
      });
      const anc = member(vmlinux, 'cgroup', 'ancestors');
      const flexRes = resolveCoreRelo(relo(btf.findByName('cgroup___x')!, '0:1:3', 'fieldByteOffset'), btf, target);
      expect(flexRes.path).to.equal('struct cgroup___x.ancestors[3]');
      expect(flexRes.targetValue).to.equal(BigInt(anc.bitOffset / 8 + 3 * 8));
      const e = resolveCoreRelo(relo(btf.findByName('perf_callchain_context___x')!, '0', 'enumvalValue'), btf, target);
      const kernelValue = (vmlinux.type(vmlinux.findByName('perf_callchain_context')!) as { values: Array<{ name: string; value: bigint }> }).values.find(
        (v) => v.name === 'PERF_CONTEXT_KERNEL',
      )!.value;
      expect(e.targetValue).to.equal(kernelValue);
      expect(e.targetValue > 0xffffffffn).to.equal(true);
      const [ld] = applyCoreRelocation({ opcode: 0x18, dst: 1, src: 0, off: 0, imm: 1, imm64: 1n }, e);
      expect(ld!.imm64).to.equal(kernelValue);
    });

    it('rejects malformed access strings with a typed error', function () {
      const btf = local((b, int) => void b.struct('task_struct', 4, [{ name: 'pid', type: int, bitOffset: 0, bitfieldSize: 0 }]));
      const id = btf.findByName('task_struct')!;
      for (const s of ['0:5', 'x', '0:0:0', '', '0::1'])
        expect(() => resolveCoreRelo(relo(id, s, 'fieldByteOffset'), btf, target), s).to.throw(BtfError);
      expect(() => resolveCoreRelo(relo(id, '1', 'typeSize'), btf, target)).to.throw(BtfError);
      expect(() => resolveCoreRelo(relo(9999, '0', 'typeSize'), btf, target)).to.throw(BtfError);
    });

    it('reports ambiguous candidates', function () {
      const tb = new BtfBuilder();
      const int = tb.int('int', 4, true);
      tb.struct('thing', 8, [{ name: 'a', type: int, bitOffset: 0, bitfieldSize: 0 }]);
      tb.struct('thing___v2', 8, [{ name: 'a', type: int, bitOffset: 32, bitfieldSize: 0 }]);
      const fake = new CoreTarget(parseBtf(tb.encode()));
      const btf = local((b, i) => void b.struct('thing', 4, [{ name: 'a', type: i, bitOffset: 0, bitfieldSize: 0 }]));
      expect(() => resolveCoreRelo(relo(btf.findByName('thing')!, '0:0', 'fieldByteOffset'), btf, fake)).to.throw(BtfError, /ambiguity/);
    });

    it('decides type matches like bpf_core_type_matches', function () {
      const btf = local((b, int, uint) => {
        b.struct('list_head', 16, [
          { name: 'next', type: b.ptr(0), bitOffset: 0, bitfieldSize: 0 },
          { name: 'prev', type: b.ptr(0), bitOffset: 64, bitfieldSize: 0 },
        ]);
        b.struct('list_head___bad', 8, [{ name: 'next', type: uint, bitOffset: 0, bitfieldSize: 0 }]);
        void int;
      });
      // next/prev are pointers to struct list_head in the kernel; here void * does not match.
      const good = resolveCoreRelo(relo(btf.findByName('list_head')!, '0', 'typeMatches'), btf, target);
      const bad = resolveCoreRelo(relo(btf.findByName('list_head___bad')!, '0', 'typeMatches'), btf, target);
      expect(good.targetValue).to.equal(0n);
      expect(bad.targetValue).to.equal(0n);
      const ok = local((b) => {
        const fwd = b.add({ kind: 'fwd', name: 'list_head', union: false });
        const p = b.ptr(fwd);
        b.struct('list_head___ok', 16, [
          { name: 'next', type: p, bitOffset: 0, bitfieldSize: 0 },
          { name: 'prev', type: p, bitOffset: 64, bitfieldSize: 0 },
        ]);
      });
      expect(resolveCoreRelo(relo(ok.findByName('list_head___ok')!, '0', 'typeMatches'), ok, target).targetValue).to.equal(1n);
      // A recursive local type (pointers to itself) is decided quickly and matches.
      const rec = local((b) => {
        const self = b.reserve();
        const p = b.ptr(self);
        b.set(self, { kind: 'struct', name: 'list_head___rec', size: 16, members: [
          { name: 'next', type: p, bitOffset: 0, bitfieldSize: 0 },
          { name: 'prev', type: p, bitOffset: 64, bitfieldSize: 0 },
        ] });
      });
      const started = performance.now();
      expect(resolveCoreRelo(relo(rec.findByName('list_head___rec')!, '0', 'typeMatches'), rec, target).targetValue).to.equal(1n);
      // Milliseconds when the walk stops at the cycle; the bound only has to catch a walk that never ends, on a loaded machine too.
      expect(performance.now() - started).to.be.lessThan(10_000);
      // Signedness and size of ints must agree.
      const signs = local((b, int) => void b.struct('list_head___int', 4, [{ name: 'next', type: int, bitOffset: 0, bitfieldSize: 0 }]));
      expect(resolveCoreRelo(relo(signs.findByName('list_head___int')!, '0', 'typeMatches'), signs, target).targetValue).to.equal(0n);
    });

    it('adjusts load sizes for unsigned fields and poisons signed ones', function () {
      const btf = local((b, int) => {
        const u64 = b.int('long long unsigned int', 8);
        const s64 = b.int('long long int', 8, true);
        b.struct('task_struct___y', 16, [
          { name: 'flags', type: u64, bitOffset: 0, bitfieldSize: 0 },
          { name: 'pid', type: s64, bitOffset: 64, bitfieldSize: 0 },
        ]);
        void int;
      });
      const id = btf.findByName('task_struct___y')!;
      const ldxdw = { opcode: 0x79, dst: 1, src: 2, off: 0, imm: 0 };
      const flags = resolveCoreRelo(relo(id, '0:0', 'fieldByteOffset'), btf, target);
      const [patched] = applyCoreRelocation(ldxdw, flags);
      expect(patched!.off).to.equal(member(vmlinux, 'task_struct', 'flags').bitOffset / 8);
      expect(patched!.opcode).to.equal(0x61); // ldxw: the kernel's flags is 4 bytes
      const pid = resolveCoreRelo(relo(id, '0:1', 'fieldByteOffset'), btf, target);
      expect(pid.failMemSizeAdjust).to.equal(true);
      expect(applyCoreRelocation({ ...ldxdw, off: 8 }, pid)[0]).to.include({ opcode: 0x85, imm: POISON_HELPER_ID });
      // A poisoned lddw keeps its two slots.
      const gone = local((b, int) => void b.struct('no_such_kernel_struct', 4, [{ name: 'x', type: int, bitOffset: 0, bitfieldSize: 0 }]));
      const r = resolveCoreRelo(relo(gone.findByName('no_such_kernel_struct')!, '0:0', 'fieldByteOffset'), gone, target);
      const out = applyCoreRelocation({ opcode: 0x18, dst: 1, src: 0, off: 0, imm: 0, imm64: 0n }, r);
      expect(out).to.have.length(2);
      expect(out.every((x) => x.opcode === 0x85 && x.imm === POISON_HELPER_ID)).to.equal(true);
      // An instruction that does not carry the compiled value is refused.
      expect(() => applyCoreRelocation({ ...ldxdw, off: 3 }, flags)).to.throw(BtfError, /unexpected memory offset/);
    });
  });
});

describe('btf: CO-RE over malformed BTF', function () {
  it('an array element at a bit offset that is not a byte ends in a byte offset, as libbpf divides (found by npm run fuzz -- btf)', function () {
    const b = new BtfBuilder();
    const int = b.int('int', 4, true);
    const arr = b.array(int, 4, int);
    const s = b.struct('odd', 24, [{ name: 'arr', type: arr, bitOffset: 4, bitfieldSize: 0 }]);
    const btf = parseBtf(b.encode());
    // 'odd.arr[2]': 4 + 2 * 32 bits = 8.5 bytes, which BigInt() refused with a RangeError.
    const r = resolveCoreRelo({ insnOff: 0, typeId: s, accessString: '0:0:2', kind: 'fieldByteOffset' }, btf, new CoreTarget(btf));
    expect([r.localValue, r.targetValue]).to.deep.equal([8n, 8n]);
  });
});
