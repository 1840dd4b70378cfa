import { expect } from 'chai';
import {
  MissingFeatureError, Program, clearFeatureCache, featureReport, haveBpfLinks, haveHelper, haveIsa, haveMapType, haveProgType,
  requireHelper, requireMapType, requireProgType,
} from '../../src/kernel/index.js';
import { BpfMap } from '../../src/kernel/map.js';
import { attachTracepoint } from '../../src/kernel/link-tracepoint.js';
import { needKernel } from '../support/kernel.js';
import { featuresOff } from '../support/features.js';
import { featuresTurnedOff, haveFeature, kernelFeatures, missingFeatureReason, requireFeature, type KernelFeature } from '../../src/kernel/feature-names.js';
import { call, exit, kernelAtLeast, movImm, readU64 } from './helpers.js';
import { countForPid } from './link-programs.js';

describe('kernel: feature probes', function () {
  before(function () {
    needKernel(this);
    clearFeatureCache();
  });

  it('program types: what loads is reported, unknown numbers are not', () => {
    expect(haveProgType('XDP')).to.equal(true);
    expect(haveProgType('SOCKET_FILTER')).to.equal(true);
    expect(haveProgType(9999)).to.equal(false);
    expect(() => requireProgType(9999)).to.throw(MissingFeatureError, /program type type 9999/);
  });

  it('map types, including ones that need BTF or special flags', () => {
    for (const t of ['HASH', 'RINGBUF', 'HASH_OF_MAPS'] as const) expect(haveMapType(t), t).to.equal(true);
    expect(haveMapType('TASK_STORAGE')).to.equal(kernelAtLeast(5, 11));
    expect(haveMapType('BLOOM_FILTER')).to.equal(kernelAtLeast(5, 16));
    // Arena maps arrived in Linux 6.9: the probe must agree with the kernel version.
    expect(haveMapType('ARENA')).to.equal(kernelAtLeast(6, 9));
    expect(haveMapType(9999)).to.equal(false);
    expect(haveMapType('STRUCT_OPS')).to.equal(undefined);
    expect(() => requireMapType(9999)).to.throw(MissingFeatureError);
  });

  it('helpers per program type agree with what the verifier accepts', () => {
    expect(haveHelper('XDP', 'xdp_adjust_head')).to.equal(true);
    expect(haveHelper('SOCKET_FILTER', 'xdp_adjust_head')).to.equal(false);
    expect(haveHelper('XDP', 'map_lookup_elem')).to.equal(true);
    expect(() => requireHelper('SOCKET_FILTER', 'xdp_adjust_head')).to.throw(MissingFeatureError, /bpf_xdp_adjust_head in SOCKET_FILTER/);
    // The probe's verdict is the verifier's: a program using a reported-missing helper is rejected for that reason.
    expect(() => Program.load({ type: 'SOCKET_FILTER', instructions: [call(44), movImm(0, 0), exit()] })).to.throw(/cannot use helper|unknown func/);
  });

  it('ISA levels and commands', () => {
    expect(haveIsa(2)).to.equal(true);
    expect(haveIsa(3)).to.equal(true);
    expect(haveIsa(4)).to.equal(kernelAtLeast(6, 6)); // sign extension, bswap, sdiv, gotol: Linux 6.6
    expect(haveBpfLinks()).to.equal(true);
  });

  it('named features agree with the release that brought each, and a missing one is named with it', () => {
    for (const [name, f] of Object.entries(kernelFeatures)) {
      const [major, minor] = f.since.split('.').map(Number) as [number, number];
      // kprobe_multi also needs kprobes and CONFIG_FPROBE (Debian's 6.1 cloud kernel has no fprobe, this host no kprobes);
      // inode_storage needs "bpf" among the active LSMs.
      if (name === 'kprobe_multi' || name === 'inode_storage') {
        if (!kernelAtLeast(major, minor)) expect(haveFeature(name), name).to.equal(false);
        continue;
      }
      expect(haveFeature(name as KernelFeature), `${name} (Linux ${f.since})`).to.equal(kernelAtLeast(major, minor));
    }
    for (const name of Object.keys(kernelFeatures) as KernelFeature[]) {
      if (haveFeature(name)) continue;
      expect(() => requireFeature(name)).to.throw(MissingFeatureError, new RegExp(`${name} .*Linux ${kernelFeatures[name].since} or later`));
      expect(missingFeatureReason(name)).to.match(new RegExp(`^this kernel lacks ${name} \\(.*Linux ${kernelFeatures[name].since}\\)$`));
    }
  });

  it('TSBPF_FEATURES_OFF turns a feature off by name (and says so), without forgetting the probe', () => {
    expect(haveFeature('bpf_link')).to.equal(true);
    {
      using _off = featuresOff('bpf_link', 'ringbuf');
      expect(haveFeature('bpf_link')).to.equal(false);
      expect(haveFeature('ringbuf')).to.equal(false);
      expect(missingFeatureReason('bpf_link')).to.match(/^TSBPF_FEATURES_OFF turns off bpf_link \(BPF links/);
      expect(() => requireFeature('ringbuf')).to.throw(MissingFeatureError, /ringbuf .*turned off by TSBPF_FEATURES_OFF/);
    }
    expect(haveFeature('bpf_link')).to.equal(true);
    expect(featuresTurnedOff(' tcx, perf_link  xdp_link')).to.deep.equal(new Set(['tcx', 'perf_link', 'xdp_link']));
  });

  it('results are cached in-process: a second report makes no bpf() call', () => {
    // Count this thread's bpf() calls with a tracepoint program, not the time
    // they take (which a loaded machine stretches). Reading the count is one call itself.
    using calls = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
    using prog = Program.load({ type: 'TRACEPOINT', instructions: countForPid(calls.fd, process.pid) });
    using link = attachTracepoint(prog, 'syscalls/sys_enter_bpf');
    const read = (): number => Number(readU64(calls.lookup(new Uint8Array(4))!));
    clearFeatureCache();
    const before = read();
    featureReport();
    const first = read() - before - 1;
    const r = featureReport();
    const second = read() - before - first - 2;
    expect(first).to.be.greaterThan(10, 'the first report probes the kernel');
    expect(second).to.equal(0, 'the second report comes from the cache');
    void link;
    expect(r.programTypes.XDP).to.equal(true);
    expect(r.mapTypes.RINGBUF).to.equal(true);
    expect(r.isa.v3).to.equal(true);
  });
});
