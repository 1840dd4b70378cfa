/** The object spec of every bpf-tests object, the section table, and specs of objects built with ElfWriter. */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { encode } from '../../src/asm/codec.js';
import { instruction, wideLoad } from '../../src/asm/instruction.js';
import { CALL, EXIT } from '../../src/asm/opcodes.js';
import {
  R_BPF_64_32, SHF_ALLOC, SHF_EXECINSTR, SHT_PROGBITS, STB_GLOBAL, STB_LOCAL, STT_FUNC,
} from '../../src/elf/constants.js';
import { ElfError } from '../../src/elf/errors.js';
import { internalMapName, objectNameFromPath } from '../../src/elf/map-types.js';
import { parseObject } from '../../src/elf/parse-object.js';
import { sectionProgramType } from '../../src/elf/section-types.js';
import { getVariable, setVariable } from '../../src/elf/variables.js';
import { ElfWriter } from '../../src/elf/writer.js';
import { bpfTestObjects, legacyMapsObject, readBpfTestObject } from './objects.js';
import { thrownBy } from '../support/thrown.js';

const spec = (file: string) => parseObject(readBpfTestObject(file), { name: objectNameFromPath(file) });

describe('elf: object spec of the bpf-tests objects', () => {
  it('parses every object deterministically', () => {
    for (const f of bpfTestObjects()) {
      const a = spec(f);
      const b = spec(f);
      const strip = (s: ReturnType<typeof spec>) => ({ ...s, btf: undefined });
      expect(strip(a)).to.deep.equal(strip(b));
      expect(a.license).to.equal('GPL');
      expect(a.programs.length).to.be.greaterThan(0);
    }
  });

  it('maps.bpf.o: map kinds, sizes, flags and extra from BTF definitions', () => {
    const s = spec('maps.bpf.o');
    const m = (n: string) => s.maps.find((x) => x.name === n)!;
    // In the order of the .maps DATASEC, as libbpf creates them.
    expect(s.maps.filter((x) => x.kind === 'user').map((x) => x.name).sort()).to.deep.equal([
      'array_map', 'bloom', 'events', 'flagged_hash', 'hash_map', 'lpm', 'lru_hash', 'percpu_array', 'percpu_hash', 'perf_events', 'queue', 'stack',
    ]);
    expect([m('hash_map').type, m('hash_map').keySize, m('hash_map').valueSize, m('hash_map').maxEntries]).to.deep.equal([1, 4, 16, 64]);
    expect([m('percpu_hash').keySize, m('percpu_hash').valueSize, m('percpu_hash').btfKeyTypeId]).to.deep.equal([4, 8, 0]);
    expect(m('lpm').flags).to.equal(1);
    expect([m('perf_events').keySize, m('perf_events').valueSize, m('perf_events').maxEntries]).to.deep.equal([4, 4, 0]);
    expect(m('bloom').mapExtra).to.equal(3n);
    expect([m('queue').keySize, m('queue').valueSize]).to.deep.equal([0, 4]);
    expect(s.programs.map((p) => [p.name, p.type, p.attachType])).to.deep.equal([['fill_maps', 'SCHED_CLS', undefined], ['count_packets', 'XDP', 'XDP']]);
  });

  it('global_data.bpf.o: data maps named like libbpf, variables settable', () => {
    const s = spec('global_data.bpf.o');
    expect(s.maps.map((m) => [m.name, m.kernelName, m.kind, m.freeze])).to.deep.equal([
      ['.rodata', 'global_d.rodata', 'rodata', true], ['.data', 'global_d.data', 'data', false], ['.data.custom', '.data.custom', 'data', false],
      ['.rodata.custom', '.rodata.custom', 'rodata', true], ['.bss', 'global_d.bss', 'bss', false],
    ]);
    expect(getVariable(s, 'multiplier')).to.deep.equal(new Uint8Array([3, 0, 0, 0]));
    setVariable(s, 'multiplier', 7);
    setVariable(s, 'greeting', 'hey');
    expect(getVariable(s, 'multiplier')).to.deep.equal(new Uint8Array([7, 0, 0, 0]));
    expect(new TextDecoder().decode(getVariable(s, 'greeting'))).to.equal('hey\0\0\0\0\0');
    expect(() => setVariable(s, 'multiplier', 1n << 40n)).to.throw(ElfError);
    expect(() => setVariable(s, 'nothing', 1)).to.throw(/no global variable/);
  });

  it('subprogs.bpf.o: subprograms appended to each caller in libbpf order', () => {
    const s = spec('subprogs.bpf.o');
    const first = s.programs.find((p) => p.name === 'first')!;
    // first -> sum_of_squares -> square, then global_add: four functions, four func_info records.
    expect(first.funcInfo.map((f) => f.insnOff)).to.have.length(4);
    const calls = first.instructions.filter((i) => i.opcode === CALL && i.src === 1);
    expect(calls.length).to.be.greaterThan(2);
    expect(s.programs.map((p) => p.section)).to.deep.equal(['syscall', 'syscall', 'syscall', 'syscall', 'xdp']);
    const loops = s.programs.find((p) => p.name === 'loops')!;
    expect(loops.instructions.filter((i) => i.opcode === 0x18 && i.src === 4)).to.have.length(1); // BPF_PSEUDO_FUNC
  });

  it('kconfig.bpf.o: externs laid out like libbpf', () => {
    const s = spec('kconfig.bpf.o');
    expect(s.externs.map((e) => [e.name, e.kind, e.kconfig?.offset])).to.deep.equal([
      ['CONFIG_BPF_JIT', 'kconfig', 0], ['CONFIG_HZ', 'kconfig', 4], ['CONFIG_TSBPF_DOES_NOT_EXIST', 'kconfig', 8], ['LINUX_KERNEL_VERSION', 'kconfig', 12],
      ['CONFIG_BPF_SYSCALL', 'kconfig', 16], ['LINUX_HAS_SYSCALL_WRAPPER', 'kconfig', 17], ['schedule', 'ksym', undefined],
    ]);
    expect(spec('kfunc.bpf.o').externs.map((e) => [e.name, e.kind])).to.deep.equal([['bpf_task_from_pid', 'kfunc'], ['bpf_task_release', 'kfunc']]);
    expect(s.externs.find((e) => e.name === 'schedule')!.typed).to.equal(false);
    expect(s.maps.find((m) => m.kind === 'kconfig')!.kernelName).to.equal('kconfig.kconfig');
  });

  it('map_in_map.bpf.o and tailcall.bpf.o: inner maps and initial values', () => {
    const mm = spec('map_in_map.bpf.o');
    const outer = mm.maps.find((m) => m.name === 'outer_array')!;
    expect(outer.inner).to.include({ type: 2, keySize: 4, valueSize: 4, maxEntries: 4 });
    expect(outer.initialValues).to.deep.equal([{ index: 0, map: 'inner_a' }, { index: 2, map: 'inner_b' }]);
    expect(mm.maps.find((m) => m.name === 'outer_hash')!.inner!.name).to.equal('outer_hash.inner');
    const tc = spec('tailcall.bpf.o');
    expect(tc.maps.find((m) => m.name === 'jumps')!.initialValues).to.deep.equal([{ index: 1, program: 'step_one' }, { index: 2, program: 'step_two' }]);
  });

  it('core.bpf.o: CO-RE relocations and attach targets', () => {
    const s = spec('core.bpf.o');
    const tp = s.programs.find((p) => p.name === 'on_getppid')!;
    expect([tp.type, tp.attachTo]).to.deep.equal(['TRACEPOINT', 'syscalls/sys_enter_getppid']);
    expect(tp.relocations.filter((r) => r.kind === 'core').length).to.be.greaterThan(5);
    const btf = s.programs.find((p) => p.name === 'on_sys_enter_btf')!;
    expect([btf.type, btf.attachType, btf.attachBtf]).to.deep.equal(['TRACING', 'TRACE_RAW_TP', { name: 'btf_trace_sys_enter', kind: 'typedef' }]);
  });
});

describe('elf: libbpf section table', () => {
  const cases: [string, string, string | undefined, string | undefined][] = [
    ['socket', 'SOCKET_FILTER', undefined, undefined],
    ['xdp', 'XDP', 'XDP', undefined],
    ['xdp.frags', 'XDP', 'XDP', undefined],
    ['xdp/devmap', 'XDP', 'XDP_DEVMAP', undefined],
    ['tc', 'SCHED_CLS', undefined, undefined],
    ['tcx/ingress', 'SCHED_CLS', 'TCX_INGRESS', undefined],
    ['classifier', 'SCHED_CLS', undefined, undefined],
    ['tracepoint/syscalls/sys_enter_openat', 'TRACEPOINT', undefined, 'syscalls/sys_enter_openat'],
    ['tp/sched/sched_switch', 'TRACEPOINT', undefined, 'sched/sched_switch'],
    ['raw_tp/sys_enter', 'RAW_TRACEPOINT', undefined, 'sys_enter'],
    ['raw_tracepoint.w/foo', 'RAW_TRACEPOINT_WRITABLE', undefined, 'foo'],
    ['tp_btf/sched_switch', 'TRACING', 'TRACE_RAW_TP', 'sched_switch'],
    ['kprobe/do_sys_open', 'KPROBE', undefined, 'do_sys_open'],
    ['kretprobe/do_sys_open', 'KPROBE', undefined, 'do_sys_open'],
    ['ksyscall/openat', 'KPROBE', undefined, 'openat'],
    ['uprobe/bin:func', 'KPROBE', undefined, 'bin:func'],
    ['uretprobe.s/bin:func', 'KPROBE', undefined, 'bin:func'],
    ['usdt/bin:prov:name', 'KPROBE', undefined, 'bin:prov:name'],
    ['perf_event', 'PERF_EVENT', undefined, undefined],
    ['cgroup_skb/ingress', 'CGROUP_SKB', 'CGROUP_INET_INGRESS', undefined],
    ['cgroup/sock_create', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE', undefined],
    ['cgroup/connect4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_CONNECT', undefined],
    ['cgroup/sendmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_SENDMSG', undefined],
    ['cgroup/sysctl', 'CGROUP_SYSCTL', 'CGROUP_SYSCTL', undefined],
    ['cgroup/getsockopt', 'CGROUP_SOCKOPT', 'CGROUP_GETSOCKOPT', undefined],
    ['cgroup/dev', 'CGROUP_DEVICE', 'CGROUP_DEVICE', undefined],
    ['sk_lookup', 'SK_LOOKUP', 'SK_LOOKUP', undefined],
    ['sk_skb/stream_verdict', 'SK_SKB', 'SK_SKB_STREAM_VERDICT', undefined],
    ['sk_msg', 'SK_MSG', 'SK_MSG_VERDICT', undefined],
    ['lwt_xmit', 'LWT_XMIT', undefined, undefined],
    ['flow_dissector', 'FLOW_DISSECTOR', 'FLOW_DISSECTOR', undefined],
    ['iter/task', 'TRACING', 'TRACE_ITER', 'task'],
    ['fentry/do_unlinkat', 'TRACING', 'TRACE_FENTRY', 'do_unlinkat'],
    ['fexit.s/do_unlinkat', 'TRACING', 'TRACE_FEXIT', 'do_unlinkat'],
    ['fmod_ret/foo', 'TRACING', 'MODIFY_RETURN', 'foo'],
    ['lsm/file_open', 'LSM', 'LSM_MAC', 'file_open'],
    ['lsm.s/file_open', 'LSM', 'LSM_MAC', 'file_open'],
    ['struct_ops/init', 'STRUCT_OPS', undefined, undefined],
    ['syscall', 'SYSCALL', undefined, undefined],
    ['netfilter', 'NETFILTER', 'NETFILTER', undefined],
  ];
  for (const [name, type, attach, target] of cases) {
    it(`SEC("${name}")`, () => {
      const r = sectionProgramType(name)!;
      expect([r.programType, r.attachType, r.attachTo]).to.deep.equal([type, attach, target]);
    });
  }

  it('matching rules: exact, "sec+" and "sec/"', () => {
    expect(sectionProgramType('xdpfoo')).to.equal(undefined);
    expect(sectionProgramType('kprobe')!.programType).to.equal('KPROBE');
    expect(sectionProgramType('kprobefoo')).to.equal(undefined);
    expect(sectionProgramType('socket/extra')).to.equal(undefined);
    expect(sectionProgramType('.text')).to.equal(undefined);
    expect(sectionProgramType('lsm/file_open')!.btfName).to.equal('bpf_lsm_file_open');
    expect(sectionProgramType('iter/task')!.btfName).to.equal('bpf_iter_task');
    expect(sectionProgramType('fentry.s/x')!.sleepable).to.equal(true);
    expect(sectionProgramType('xdp.frags')!.xdpFrags).to.equal(true);
  });

  it('internal map names follow libbpf', () => {
    expect(internalMapName('global_data', '.rodata')).to.equal('global_d.rodata');
    expect(internalMapName('x', '.bss')).to.equal('x.bss');
    expect(internalMapName('kconfig', '.kconfig')).to.equal('kconfig.kconfig');
    expect(internalMapName('obj', '.rodata.str1.1')).to.equal('.rodata.str1.1');
    expect(internalMapName('obj', '.data.a-very-long-custom-name')).to.equal('.data.a_very_lo');
    expect(objectNameFromPath('/a/b/net.bpf.o')).to.equal('net');
  });
});

describe('elf: specs of objects written with ElfWriter', () => {
  /** Two programs in one section calling a static function in .text. */
  function writeObject(): Uint8Array {
    const w = new ElfWriter();
    const sub = encode([instruction(0xb7, 0, 0, 0, 7), instruction(EXIT)]); // r0 = 7; exit
    const progA = encode([instruction(CALL, 0, 1, 0, -1), instruction(EXIT)]);
    const progB = encode([wideLoad(1, 5), instruction(CALL, 0, 1, 0, -1), instruction(EXIT)]);
    const text = w.addSection({ name: '.text', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: sub, addralign: 8 });
    const code = new Uint8Array(progA.length + progB.length);
    code.set(progA);
    code.set(progB, progA.length);
    const sec = w.addSection({ name: 'kprobe/do_sys_open', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: code, addralign: 8 });
    w.addSection({ name: 'license', type: SHT_PROGBITS, flags: SHF_ALLOC, data: new TextEncoder().encode('GPL\0') });
    const helper = w.addSymbol({ name: 'helper', section: text, type: STT_FUNC, binding: STB_LOCAL, size: sub.length });
    w.addSymbol({ name: 'a', section: sec, type: STT_FUNC, binding: STB_GLOBAL, size: progA.length });
    w.addSymbol({ name: 'b', section: sec, type: STT_FUNC, binding: STB_GLOBAL, value: progA.length, size: progB.length });
    w.addRelocation(sec, { offset: 0, symbol: helper, type: R_BPF_64_32 });
    w.addRelocation(sec, { offset: progA.length + 16, symbol: helper, type: R_BPF_64_32 });
    return w.toBytes();
  }

  it('links the static function into both programs', () => {
    const s = parseObject(writeObject());
    expect(s.programs.map((p) => [p.name, p.type, p.attachTo, p.instructions.length])).to.deep.equal([
      ['a', 'KPROBE', 'do_sys_open', 4], ['b', 'KPROBE', 'do_sys_open', 5],
    ]);
    const a = s.programs[0]!;
    expect(a.instructions[0]!.imm).to.equal(1); // call to slot 2 from slot 0
    const b = s.programs[1]!;
    expect(b.instructions[1]!.imm).to.equal(1); // lddw takes slots 0-1, call at slot 2 -> slot 4
    expect(s.license).to.equal('GPL');
  });

  it('a call to nowhere is a typed error naming the section and offset', () => {
    const bytes = writeObject();
    const w = new ElfWriter();
    const sec = w.addSection({ name: 'xdp', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: encode([instruction(CALL, 0, 1, 0, 5), instruction(EXIT)]), addralign: 8 });
    w.addSymbol({ name: 'p', section: sec, type: STT_FUNC, binding: STB_GLOBAL, size: 16 });
    const e = thrownBy(() => parseObject(w.toBytes()), ElfError);
    expect(e.section).to.equal('xdp');
    expect(e.offset).to.equal(0);
    expect(bytes.length).to.be.greaterThan(0);
  });

  it('reads __ulong() map_extra (newer libbpf headers)', () => {
    const bytes = new Uint8Array(readFileSync(new URL('./fixtures/ulong_map_extra.bpf.o', import.meta.url)));
    const s = parseObject(bytes, { name: 'ulong' });
    expect(s.maps[0]).to.include({ name: 'bloom2', type: 30, maxEntries: 16, valueSize: 4, mapExtra: 5n });
  });

  it('reads legacy SEC("maps") definitions', () => {
    const s = parseObject(legacyMapsObject(), { name: 'legacy' });
    expect(s.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.section])).to.deep.equal([['counters', 2, 4, 4, 1, 'maps']]);
    expect(s.programs[0]!.relocations).to.deep.equal([{ kind: 'map', map: 'counters', insn: 3 }]);
  });

  it('an unknown program section is a typed error', () => {
    const w = new ElfWriter();
    const sec = w.addSection({ name: 'not_a_type', type: SHT_PROGBITS, flags: SHF_ALLOC | SHF_EXECINSTR, data: encode([instruction(EXIT)]), addralign: 8 });
    w.addSymbol({ name: 'p', section: sec, type: STT_FUNC, binding: STB_GLOBAL, size: 8 });
    expect(() => parseObject(w.toBytes())).to.throw(ElfError, /not a known program type/);
  });
});
