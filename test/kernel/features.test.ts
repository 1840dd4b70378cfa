import { expect } from 'chai';
import {
  MissingFeatureError, Program, clearFeatureCache, featureReport, haveBpfLinks, haveHelper, haveIsa, haveMapType, haveProgType,
  requireHelper, requireMapType, requireProgType,
} from '../../src/kernel/index.js';
import { needKernel } from '../support/kernel.js';
import { call, exit, kernelAtLeast, movImm } from './helpers.js';

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
    for (const t of ['HASH', 'RINGBUF', 'BLOOM_FILTER', 'TASK_STORAGE', 'HASH_OF_MAPS'] as const) expect(haveMapType(t), t).to.equal(true);
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

  it('results are cached in-process', () => {
    const t0 = performance.now();
    featureReport();
    const first = performance.now() - t0;
    const t1 = performance.now();
    const r = featureReport();
    const second = performance.now() - t1;
    expect(second).to.be.lessThan(Math.max(first, 2));
    expect(r.programTypes.XDP).to.equal(true);
    expect(r.mapTypes.RINGBUF).to.equal(true);
    expect(r.isa.v3).to.equal(true);
  });
});
