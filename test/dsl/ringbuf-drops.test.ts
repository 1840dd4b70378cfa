import { expect } from 'chai';
import { loadCompiledModule } from '../../src/cli/dsl-live.js';
import { ringbufDropReader } from '../../src/cli/ringbuf-drops.js';
import { RingBufReader } from '../../src/kernel/ringbuf-reader.js';
import { needKernel } from '../support/kernel.js';
import { compileSource } from './support/harness.js';

const source = (call: 'reserve' | 'output') => `
import { xdp, ringBuf, XdpAction, type u64 } from 'tsbpf/dsl';
export interface Ev { a: u64; b: u64; c: u64; d: u64; e: u64; f: u64; g: u64; h: u64 }
export const events = ringBuf<Ev>({ size: 4096 });
export const other = ringBuf<Ev>({ size: 4096 });
export const flood = xdp((ctx) => {
  ${call === 'reserve'
    ? 'const ev = events.reserve(); if (ev === null) return XdpAction.PASS; ev.a = 1; events.submit(ev);'
    : 'const ev: Ev = { a: 1, b: 0, c: 0, d: 0, e: 0, f: 0, g: 0, h: 0 }; events.output(ev);'}
  return XdpAction.PASS;
});
`;

describe('dsl: failed ring-buffer reserves and outputs are counted (lost events)', function () {
  before(function () {
    needKernel(this);
  });

  for (const call of ['reserve', 'output'] as const) {
    it(`${call}(): events delivered + events counted lost = events emitted, per ring`, () => {
      const mod = compileSource(source(call));
      using live = loadCompiledModule(mod);
      using reader = new RingBufReader(live.maps.get('events')!);
      const drops = ringbufDropReader(mod, live.maps);
      expect(drops()).to.deep.equal(new Map([['events', 0n]])); // no program uses 'other': no counter
      const emitted = 2000;
      live.programs.get('flood')!.testRun({ data: new Uint8Array(64), repeat: emitted });
      const delivered = reader.consume(() => {});
      // A 4 KiB ring holds 56 records of 64 + 8 bytes: most of the 2000 are lost.
      expect(delivered).to.be.within(1, 64);
      expect(drops()).to.deep.equal(new Map([['events', BigInt(emitted - delivered)]]));
    });
  }
});
