/**
 * Every bpf-tests object loads with the tsbpf loader and its programs do
 * what their C source says, in the running kernel.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { attachRawTracepoint } from '../../src/kernel/link-raw-tracepoint.js';
import { attachTracepoint } from '../../src/kernel/link-tracepoint.js';
import { attachTracing } from '../../src/kernel/link-tracing.js';
import { kernelVersionCode } from '../../src/elf/kconfig.js';
import { LoadError, loadCollection } from '../../src/kernel/collection.js';
import { kernelBtf } from '../../src/kernel/kernel-symbols.js';
import { haveSyscallWrapper } from '../../src/kernel/features.js';
import { dynamicPmuType } from '../../src/kernel/tracefs.js';
import { parseObject } from '../../src/elf/parse-object.js';
import { bpfTestObjects, bpfTestsDir, legacyMapsObject } from '../elf/objects.js';
import { run as load } from '../../src/cli/commands/load.js';
import { join } from 'node:path';
import { needKernel, uniqueName } from '../support/kernel.js';
import { bpfTestSpec, ipv4Packet, loadBpfTest, missingFor, needObject, quietly, readU32, readU64, u32 } from './loader-helpers.js';
import { kernelAtLeast } from './helpers.js';
import { thrownBy } from '../support/thrown.js';

const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;

describe('kernel: loader (bpf-tests objects)', function () {
  before(function () {
    needKernel(this);
  });

  it('maps.bpf.o: creates every map kind and a program fills them', function () {
    needObject(this, 'maps.bpf.o');
    using c = loadBpfTest('maps.bpf.o');
    const run = c.program('fill_maps').testRun({ data: ipv4Packet() });
    expect(run.retval).to.equal(1); // the bloom filter saw the pushed value
    const pair = c.map('hash_map').lookup(u32(7))!;
    expect(readU32(pair, 0)).to.equal(42);
    expect(readU64(pair, 8)).to.equal(0x1122334455667788n);
    expect(readU64(c.map('array_map').lookup(u32(3))!)).to.equal(12345n);
    expect(c.map('lru_hash').lookup(new Uint8Array([99, 0, 0, 0, 0, 0, 0, 0]))).to.deep.equal(u32(7));
    expect(readU32(c.map('queue').pop()!)).to.equal(5);
    expect(readU32(c.map('stack').pop()!)).to.equal(6);
    const lpmKey = new Uint8Array([32, 0, 0, 0, 10, 0, 1, 77]);
    expect(readU32(c.map('lpm').lookup(lpmKey)!)).to.equal(24);
    expect(c.map('perf_events').maxEntries).to.be.greaterThan(0);
    expect(c.map('bloom').info().mapExtra ?? 3n).to.equal(3n);
    expect(c.map('flagged_hash').flags & 1).to.equal(1);
  });

  it('maps.bpf.o: the XDP program counts into a per-CPU array', function () {
    needObject(this, 'maps.bpf.o');
    using c = loadBpfTest('maps.bpf.o');
    const prog = c.program('count_packets');
    expect(prog.testRun({ data: ipv4Packet(), repeat: 5 }).retval).to.equal(XDP_PASS);
    const perCpu = c.map('percpu_array').lookupPerCpu(u32(0))!;
    expect(perCpu.reduce((s, v) => s + readU64(v), 0n)).to.equal(5n);
  });

  it('global_data.bpf.o: .rodata set before load, .data and .bss written by the program', function () {
    needObject(this, 'global_data.bpf.o');
    const spec = bpfTestSpec('global_data.bpf.o');
    using c = loadBpfTest('global_data.bpf.o', { variables: { multiplier: 5 } });
    const run = c.program('use_globals').testRun();
    expect(run.retval).to.equal(5);
    const v = (name: string) => spec.variables.find((x) => x.name === name)!;
    const bss = c.map('.bss').lookup(u32(0))!;
    expect(readU32(bss, v('zeroed').offset + 4)).to.equal(35); // multiplier * 7
    expect(readU32(bss, v('zeroed').offset + 8)).to.equal('h'.charCodeAt(0));
    expect(readU32(bss, v('zeroed').offset + 12)).to.equal(4 + 88); // table[2] + custom_ro
    expect(readU64(bss, v('result').offset)).to.equal(11n * 5n); // (counter + 1) * multiplier
    expect(readU64(c.map('.data').lookup(u32(0))!, v('counter').offset)).to.equal(11n);
    expect(readU32(c.map('.data.custom').lookup(u32(0))!)).to.equal(78);
    // .rodata is frozen: user space cannot write it any more.
    expect(() => c.map('.rodata').update(u32(0), new Uint8Array(c.map('.rodata').valueSize))).to.throw();
    expect(c.map('.rodata').name).to.equal('global_d.rodata');
    expect(c.program('xdp_reads_rodata').testRun({ data: ipv4Packet() }).retval).to.equal(XDP_DROP); // multiplier != 3
    // Variables by name on the live collection.
    expect(readU64(c.readVariable('counter'))).to.equal(11n);
    c.writeVariable('counter', new Uint8Array([100, 0, 0, 0, 0, 0, 0, 0]));
    c.program('use_globals').testRun();
    expect(readU64(c.readVariable('result'))).to.equal(101n * 5n);
  });

  it('subprogs.bpf.o: static, hidden and global subprograms, callbacks, several programs per section', function () {
    needObject(this, 'subprogs.bpf.o');
    using c = loadBpfTest('subprogs.bpf.o');
    expect(c.program('first').testRun().retval).to.equal(25);
    expect(c.program('second').testRun().retval).to.equal(5);
    expect(c.program('xdp_calls').testRun({ data: ipv4Packet() }).retval).to.equal(XDP_PASS);
    expect(c.program('loops').testRun().retval).to.equal(10); // bpf_loop with a static callback
    // __weak __hidden (libbpf-bootstrap's usdt.bpf.o): static to the verifier, as libbpf makes it.
    expect(c.program('weak_store').testRun().retval).to.equal(42);
    const trace = c.map('.bss').lookup(u32(0))!;
    expect(readU64(trace, 0)).to.equal(25n);
    expect(readU64(trace, 8)).to.equal(81n);
    expect(readU64(trace, 24)).to.equal(42n);
  });

  it('core.bpf.o: CO-RE reads of task_struct (tracepoint, raw_tp, tp_btf) give the pid, tgid, parent and comm the kernel reports', () => {
    using c = loadBpfTest('core.bpf.o', { variables: { target_tgid: process.pid } });
    using tp = attachTracepoint(c.program('on_getppid'), 'syscalls/sys_enter_getppid');
    using raw = attachRawTracepoint(c.program('on_sys_enter'), 'sys_enter');
    using btf = attachTracing(c.program('on_sys_enter_btf'));
    const ppid = process.ppid; // getppid(2): fires all three
    void tp;
    void raw;
    void btf;
    const comm = readFileSync('/proc/self/comm', 'utf8').trim();
    for (const slot of [0, 1, 2]) {
      const s = c.map('snapshots').lookup(u32(slot))!;
      expect(Number(readU64(s, 56)), `slot ${slot} calls`).to.be.greaterThan(0);
      expect(readU32(s, 0)).to.equal(process.pid); // main thread: pid == tgid
      expect(readU32(s, 4)).to.equal(process.pid);
      expect(readU32(s, 8)).to.equal(ppid);
      expect(readU32(s, 12)).to.equal(16);
      expect(new TextDecoder().decode(s.subarray(16, 32)).replace(/\0.*$/s, '')).to.equal(comm);
      expect(readU32(s, 32)).to.equal(1); // task_struct.pid exists
      expect(readU32(s, 36)).to.equal(0); // the made-up field does not
      expect(readU32(s, 40)).to.equal(1); // struct task_struct exists
      expect(readU32(s, 44)).to.equal(27); // BPF_MAP_TYPE_RINGBUF
      expect(Number(readU64(s, 48))).to.be.greaterThan(0); // offsetof(task_struct, pid) in this kernel
    }
    // bpf_prog_info has attach_btf_id from 6.0 (the BPF_LSM_CGROUP series); 5.10 leaves it 0.
    if (kernelAtLeast(6, 0)) expect(c.program('on_sys_enter_btf').info().attachBtfId).to.be.greaterThan(0);
  });

  it('kconfig.bpf.o: kconfig values and an untyped ksym from kallsyms', function () {
    needObject(this, 'kconfig.bpf.o');
    using c = loadBpfTest('kconfig.bpf.o');
    expect(c.program('read_config').testRun().retval).to.equal(0);
    const at = (n: string) => readU64(c.readVariable(n));
    expect(at('kernel_version')).to.equal(BigInt(kernelVersionCode(release())));
    const hz = /CONFIG_HZ=(\d+)/.exec(configText())![1]!;
    expect(at('hz')).to.equal(BigInt(hz));
    expect(at('bpf_syscall')).to.equal(1n);
    expect(at('missing')).to.equal(0n);
    const kallsyms = readFileSync('/proc/kallsyms', 'utf8');
    const addr = /^([0-9a-f]+) [Tt] schedule$/m.exec(kallsyms)![1]!;
    expect(at('schedule_addr')).to.equal(BigInt(`0x${addr}`));
    // LINUX_HAS_SYSCALL_WRAPPER is probed as libbpf probes it (a kprobe on __x64_sys_bpf), not assumed.
    expect(at('syscall_wrapper')).to.equal(haveSyscallWrapper() ? 1n : 2n);
    if (process.arch === 'x64' && dynamicPmuType('kprobe') === undefined) expect(haveSyscallWrapper()).to.equal(false);
  });

  it('kfunc.bpf.o: kfunc calls resolved by BTF id (or a typed error on kernels without them)', () => {
    if (kernelBtf().findByName('bpf_task_from_pid', 'func') === undefined) {
      // Linux < 6.2: the loader must say which kernel function is missing.
      expect(() => loadBpfTest('kfunc.bpf.o')).to.throw(LoadError, /bpf_task_from_pid/);
      return;
    }
    using c = loadBpfTest('kfunc.bpf.o');
    expect(c.program('find_self').testRun().retval).to.equal(0);
    expect(readU64(c.readVariable('found_pid'))).to.equal(BigInt(process.pid)); // bpf_task_from_pid(own tgid)->pid
  });

  it('map_in_map.bpf.o: inner maps in their slots, written through the outer maps', function () {
    needObject(this, 'map_in_map.bpf.o');
    using c = loadBpfTest('map_in_map.bpf.o');
    expect(c.program('write_inner').testRun().retval).to.equal(2); // outer_hash starts empty
    expect(readU32(c.map('inner_a').lookup(u32(1))!)).to.equal(111);
    expect(readU32(c.map('inner_b').lookup(u32(1))!)).to.equal(222);
    expect(c.map('outer_array').lookup(u32(1))).to.equal(undefined);
  });

  it('tailcall.bpf.o: a prog array filled from initial values routes the tail calls', () => {
    using c = loadBpfTest('tailcall.bpf.o');
    expect(c.program('entry').testRun({ data: ipv4Packet() }).retval).to.equal(XDP_TX);
    expect(readU64(c.map('.bss').lookup(u32(0))!)).to.equal(7n);
  });

  it('net.bpf.o: XDP, tc and socket programs over packets', function () {
    needObject(this, 'net.bpf.o');
    using c = loadBpfTest('net.bpf.o');
    expect(c.program('xdp_count').testRun({ data: ipv4Packet(17) }).retval).to.equal(XDP_DROP);
    expect(c.program('xdp_count').testRun({ data: ipv4Packet(6) }).retval).to.equal(XDP_PASS);
    expect(readU64(c.map('by_proto').lookup(u32(17))!)).to.equal(1n);
    expect(readU64(c.map('by_proto').lookup(u32(6))!)).to.equal(1n);
    expect(c.program('tc_drop_udp').testRun({ data: ipv4Packet(17) }).retval).to.equal(2);
    expect(c.program('tc_drop_udp').testRun({ data: ipv4Packet(6) }).retval).to.equal(0);
    expect(c.program('sock_len').testRun({ data: ipv4Packet() }).retval).to.equal(64 - 14); // skb->len after the Ethernet header is pulled
    expect(c.program('xdp_frags_pass').testRun({ data: ipv4Packet() }).retval).to.equal(XDP_PASS);
  });

  it('optional.bpf.o: SEC("?xdp") programs load only when asked for', () => {
    {
      using c = loadBpfTest('optional.bpf.o');
      expect([...c.programs.keys()]).to.deep.equal(['xdp_always']);
    }
    using opt = loadBpfTest('optional.bpf.o', { autoload: { xdp_optional: true } });
    expect(opt.program('xdp_optional').testRun({ data: ipv4Packet() }).retval).to.equal(XDP_TX);
  });

  it('struct_ops.bpf.o: a TCP congestion control in BPF registers with the kernel and unregisters', () => {
    const available = () => readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/);
    using c = loadBpfTest('struct_ops.bpf.o');
    expect(c.map('tsbpf_cc').type).to.equal(26); // BPF_MAP_TYPE_STRUCT_OPS
    if (kernelAtLeast(6, 0)) expect(c.program('tsbpf_ssthresh').info().attachBtfId).to.be.greaterThan(0); // bpf_prog_info field from 6.0
    expect(available()).to.not.include('tsbpf_cc');
    {
      using reg = c.attachStructOps('tsbpf_cc');
      void reg;
      expect(available()).to.include('tsbpf_cc');
    }
    expect(available()).to.not.include('tsbpf_cc');
  });

  it('pinning.bpf.o: a map pinned by name is reused by the next load', function () {
    needObject(this, 'pinning.bpf.o');
    const dir = `/sys/fs/bpf/${uniqueName('tsbpf_pin')}`;
    mkdirSync(dir);
    try {
      {
        using c = loadBpfTest('pinning.bpf.o', { pinPath: dir });
        expect(c.program('bump').testRun().retval).to.equal(1);
      }
      using again = loadBpfTest('pinning.bpf.o', { pinPath: dir });
      expect(again.program('bump').testRun().retval).to.equal(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('negative/core_missing_field.bpf.o: an unsatisfiable CO-RE relocation is an error naming the type and field path', () => {
    const e = thrownBy(() => loadBpfTest('negative/core_missing_field.bpf.o').close(), LoadError, 'the object not to load');
    expect(e.code).to.equal('E_CORE');
    expect(e.message).to.contain('reads_missing_field');
    expect(e.message).to.contain('struct task_struct___fake.no_such_field');
  });

  it('an object with a legacy SEC("maps") definition (written with ElfWriter) loads and runs', () => {
    using c = loadCollection(parseObject(legacyMapsObject(), { name: 'legacy' }));
    expect(c.map('counters').type).to.equal(2);
    expect(c.program('legacy_prog').testRun({ data: ipv4Packet() }).retval).to.equal(XDP_PASS);
  });

  it('every bpf-tests object loads with tsbpf load (objects needing kfuncs or features this kernel lacks: a typed error)', async () => {
    const pinRoot = `/sys/fs/bpf/${uniqueName('tsbpf_root')}`;
    mkdirSync(pinRoot);
    try {
      for (const file of bpfTestObjects()) {
        const missing = bpfTestSpec(file).externs.filter((e) => e.kind === 'kfunc' && !e.weak && kernelBtf().findByName(e.name, 'func') === undefined);
        const run = () => quietly(() => load(['--pin-root', pinRoot, join(bpfTestsDir, file)]));
        const lacks = missingFor(file);
        if (lacks.length > 0) {
          // A missing kfunc is found before the program is loaded: E_KFUNC then comes first.
          const codes = missing.length > 0 ? ['E_NO_FEATURE', 'E_KFUNC'] : ['E_NO_FEATURE'];
          await run().then(() => expect.fail(`${file} loaded without ${lacks.join(', ')}`), (e: unknown) => {
            expect(e, String(e)).to.be.instanceOf(LoadError);
            expect(codes, String(e)).to.include((e as LoadError).code);
          });
        } else if (missing.length === 0) await run();
        else await run().then(() => expect.fail(`${file} loaded without ${missing[0]!.name}`), (e: unknown) => expect(e).to.be.instanceOf(LoadError));
      }
    } finally {
      rmSync(pinRoot, { recursive: true, force: true });
    }
  });

  it('an unknown variable is a typed error', () => {
    expect(() => loadBpfTest('global_data.bpf.o', { variables: { nope: 1 } })).to.throw(/no global variable 'nope'/);
    expect(LoadError).to.be.a('function');
  });
});

/**
 * The kernel config read directly, where libbpf reads it: /boot/config-$(uname -r)
 * (Debian kernels: no CONFIG_IKCONFIG), else /proc/config.gz.
 */
function configText(): string {
  const boot = `/boot/config-${release()}`;
  if (existsSync(boot)) return readFileSync(boot, 'utf8');
  return new TextDecoder().decode(gunzipSync(readFileSync('/proc/config.gz')));
}
