import { expect } from 'chai';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { PerfBufferReader } from '../../src/kernel/perf-reader.js';
import { possibleCpuCount } from '../../src/kernel/cpus.js';
import { onOneCpu } from '../support/cpu-affinity.js';
import { needKernel } from '../support/kernel.js';
import { emitSequencedEvents } from './link-programs.js';

const packet = new Uint8Array(64);
const seqOf = (v: Uint8Array): number => Number(new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true));

function setup(): { seq: BpfMap; events: BpfMap; prog: Program; [Symbol.dispose](): void } {
  const seq = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
  const events = BpfMap.create({ type: 'PERF_EVENT_ARRAY', keySize: 4, valueSize: 4, maxEntries: possibleCpuCount() });
  const prog = Program.load({ type: 'XDP', instructions: emitSequencedEvents(seq.fd, events.fd, 'perf', 64), name: 'perf_emit' });
  return { seq, events, prog, [Symbol.dispose]: () => { prog.close(); events.close(); seq.close(); } };
}

describe('kernel: perf event array reader', function () {
  before(function () {
    needKernel(this);
  });

  it('delivers every sample in order with a lost count of zero, across ring wraparound', function () {
    using s = setup();
    using reader = new PerfBufferReader(s.events, { pagesPerCpu: 2 });
    expect(reader.cpus.length).to.be.greaterThan(0);
    const got: number[] = [];
    // 4 rounds of 60 samples (80 bytes each on the ring): 19200 bytes through an 8 KiB ring.
    for (let round = 0; round < 4; round++) {
      s.prog.testRun({ data: packet, repeat: 60 });
      const n = reader.consume((data, cpu) => {
        expect(data.byteLength).to.equal(68); // 64 written, padded so that size + 4 is a multiple of 8
        expect(reader.cpus).to.include(cpu);
        got.push(seqOf(data));
      });
      expect(n).to.equal(60);
    }
    expect(got).to.deep.equal(Array.from({ length: 240 }, (_, i) => i));
    expect(reader.lost).to.equal(0);
  });

  it('counts lost samples when a ring overflows: received + lost = emitted', function () {
    // Both test runs must land in the same CPU's ring: the LOST record is written there.
    onOneCpu(() => lostSamplesCase());
  });

  function lostSamplesCase(): void {
    using s = setup();
    const lostReports: number[] = [];
    using reader = new PerfBufferReader(s.events, { pagesPerCpu: 1, onLost: (_cpu, n) => lostReports.push(n) });
    s.prog.testRun({ data: packet, repeat: 200 }); // 200 * 80 bytes > 4 KiB
    const got: number[] = [];
    reader.consume((data) => got.push(seqOf(data)));
    const fitted = got.length;
    expect(fitted).to.be.lessThan(200);
    expect(reader.lost).to.equal(0); // the kernel writes PERF_RECORD_LOST once there is room again...
    s.prog.testRun({ data: packet, repeat: 1 });
    reader.consume((data) => got.push(seqOf(data)));
    expect(reader.lost).to.equal(200 - fitted); // ...ahead of the next sample
    expect(got.length + reader.lost).to.equal(201);
    expect(lostReports.reduce((a, b) => a + b, 0)).to.equal(reader.lost);
    expect(got).to.deep.equal([...Array.from({ length: fitted }, (_, i) => i), 200]);
  }

  it('for await yields samples as they arrive (epoll wakeup)', async function () {
    using s = setup();
    const reader = new PerfBufferReader(s.events);
    setTimeout(() => s.prog.testRun({ data: packet, repeat: 10 }), 20);
    const got: number[] = [];
    for await (const r of reader) {
      if (r.kind === 'sample') got.push(seqOf(r.data));
      if (got.length === 10) break;
    }
    reader.close();
    expect(got).to.deep.equal(Array.from({ length: 10 }, (_, i) => i));
  });
});
