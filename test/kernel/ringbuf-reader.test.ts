import { expect } from 'chai';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { RingBufReader } from '../../src/kernel/ringbuf-reader.js';
import { ObjectClosedError } from '../../src/kernel/owned-fd.js';
import { needKernel } from '../support/kernel.js';
import { patience } from '../support/wait.js';
import { emitSequencedEvents, reserveSubmitEvenDiscardOdd } from './link-programs.js';

const packet = new Uint8Array(64);

function setup(ringSize: number, eventSize = 64): { seq: BpfMap; ring: BpfMap; prog: Program; [Symbol.dispose](): void } {
  const seq = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
  const ring = BpfMap.create({ type: 'RINGBUF', maxEntries: ringSize });
  const prog = Program.load({ type: 'XDP', instructions: emitSequencedEvents(seq.fd, ring.fd, 'ringbuf', eventSize), name: 'rb_emit' });
  return { seq, ring, prog, [Symbol.dispose]: () => { prog.close(); ring.close(); seq.close(); } };
}

const seqOf = (v: Uint8Array): number => Number(new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true));

describe('kernel: ring buffer reader', function () {
  before(function () {
    needKernel(this);
  });

  it('delivers every event the program emitted, in order, through consume()', function () {
    using s = setup(64 * 1024);
    using reader = new RingBufReader(s.ring);
    const got: number[] = [];
    // 3 rounds of 500 events: 500 * 72 bytes = 36000 per round, so the ring (64 KiB) wraps around.
    for (let round = 0; round < 3; round++) {
      const r = s.prog.testRun({ data: packet, repeat: 500 });
      expect(r.retval).to.equal(2);
      const n = reader.consume((view) => {
        expect(view.byteLength).to.equal(64);
        expect(view[8]).to.equal(0xab);
        expect(view[63]).to.equal(0xff);
        got.push(seqOf(view));
      });
      expect(n).to.equal(500);
    }
    expect(got).to.deep.equal(Array.from({ length: 1500 }, (_, i) => i));
    expect(reader.available).to.equal(0);
  });

  it('consumeRaw hands out (bytes, offset, length) without allocating views, and limit stops early', function () {
    using s = setup(16 * 1024);
    using reader = new RingBufReader(s.ring);
    s.prog.testRun({ data: packet, repeat: 100 });
    const seqs: number[] = [];
    const first = reader.consumeRaw((bytes, off, len) => {
      expect(len).to.equal(64);
      seqs.push(bytes[off]! | (bytes[off + 1]! << 8));
    }, 10);
    expect(first).to.equal(10);
    const rest = reader.consumeRaw((bytes, off) => seqs.push(bytes[off]! | (bytes[off + 1]! << 8)));
    expect(rest).to.equal(90);
    expect(seqs).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
  });

  it('a backlog of many copy chunks (64 KiB each): every record in order, of its own length, and limit exact across chunks', function () {
    // Records of 64 and 200 bytes on one ring, 2000 + 1000 + 2000 of them (~500 KiB): chunks and offsets in the copy shift.
    using seq = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
    using ring = BpfMap.create({ type: 'RINGBUF', maxEntries: 1024 * 1024 });
    using small = Program.load({ type: 'XDP', instructions: emitSequencedEvents(seq.fd, ring.fd, 'ringbuf', 64), name: 'rb_small' });
    using big = Program.load({ type: 'XDP', instructions: emitSequencedEvents(seq.fd, ring.fd, 'ringbuf', 200), name: 'rb_big' });
    using reader = new RingBufReader(ring);
    const lengthOf = (i: number): number => (i >= 2000 && i < 3000 ? 200 : 64);
    const fill = (): void => {
      small.testRun({ data: packet, repeat: 2000 });
      big.testRun({ data: packet, repeat: 1000 });
      small.testRun({ data: packet, repeat: 2000 });
    };
    fill();
    const got: number[] = [];
    const lengths: number[] = [];
    expect(reader.consume((view) => {
      got.push(seqOf(view));
      lengths.push(view.length);
      expect(view[view.length - 1]).to.equal(0xff);
    }, 2500)).to.equal(2500);
    expect(reader.consume((view) => {
      got.push(seqOf(view));
      lengths.push(view.length);
    })).to.equal(2500);
    expect(got).to.deep.equal(Array.from({ length: 5000 }, (_, i) => i));
    expect(lengths).to.deep.equal(got.map(lengthOf));
    // The same backlog through consumeRaw, stopped by limit in the middle of a chunk.
    fill();
    const raw: number[] = [];
    const rawLengths: number[] = [];
    const onRaw = (bytes: Uint8Array, off: number, len: number): void => {
      raw.push(Number(new DataView(bytes.buffer, bytes.byteOffset + off, 8).getBigUint64(0, true)));
      rawLengths.push(len);
    };
    expect(reader.consumeRaw(onRaw, 1234)).to.equal(1234);
    // A callback that scribbles over its record and the headers around it in the copy changes nothing.
    expect(reader.consumeRaw((bytes, off, len) => {
      onRaw(bytes, off, len);
      bytes.fill(0x7f, Math.max(0, off - 8), Math.min(bytes.length, off + len + 8));
    })).to.equal(3766);
    expect(raw).to.deep.equal(Array.from({ length: 5000 }, (_, i) => 5000 + i));
    expect(rawLengths).to.deep.equal(raw.map((x) => lengthOf(x - 5000)));
    expect(reader.available).to.equal(0);
  });

  it('consume reuses its view objects: a view is good only during its callback, view.slice() keeps the record', function () {
    using s = setup(1024 * 1024);
    using reader = new RingBufReader(s.ring);
    s.prog.testRun({ data: packet, repeat: 5000 }); // 5000 * 72 bytes: several copy chunks
    const objects = new Set<Uint8Array>();
    const kept: Uint8Array[] = [];
    reader.consume((view) => {
      objects.add(view);
      kept.push(view.slice());
      view.fill(0); // the copy is ours: writing to it is harmless
    });
    expect(kept.map(seqOf)).to.deep.equal(Array.from({ length: 5000 }, (_, i) => i));
    expect(kept.every((k) => k.length === 64 && k[8] === 0xab)).to.equal(true);
    // One object per offset in a 64 KiB chunk (65536 / 72 = 910), not one per record.
    expect(objects.size).to.be.at.most(Math.ceil(65536 / 72) + 1);
    // Later calls reuse them too.
    s.prog.testRun({ data: packet, repeat: 100 });
    let fresh = 0;
    reader.consume((view) => {
      if (!objects.has(view)) fresh++;
    });
    expect(fresh).to.equal(0);
  });

  it('a callback that throws consumes its record and leaves the rest for the next call', function () {
    using s = setup(16 * 1024);
    using reader = new RingBufReader(s.ring);
    s.prog.testRun({ data: packet, repeat: 10 });
    const got: number[] = [];
    expect(() => reader.consume((v) => {
      got.push(seqOf(v));
      if (seqOf(v) === 3) throw new Error('boom');
    })).to.throw('boom');
    reader.consume((v) => got.push(seqOf(v)));
    expect(got).to.deep.equal(Array.from({ length: 10 }, (_, i) => i));
  });

  it('skips records the program discarded', function () {
    using seq = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
    using ring = BpfMap.create({ type: 'RINGBUF', maxEntries: 4096 });
    using prog = Program.load({ type: 'XDP', instructions: reserveSubmitEvenDiscardOdd(seq.fd, ring.fd) });
    using reader = new RingBufReader(ring);
    const got: number[] = [];
    for (let round = 0; round < 4; round++) {
      prog.testRun({ data: packet, repeat: 50 }); // 50 * 72 bytes: the 4 KiB ring wraps every round
      reader.consume((v) => got.push(seqOf(v)));
    }
    expect(got).to.deep.equal(Array.from({ length: 100 }, (_, i) => 2 * i));
    expect(reader.available).to.equal(0);
  });

  it('a full ring drops new events in the kernel; the reader sees exactly what fit, in order', function () {
    using s = setup(4096);
    using reader = new RingBufReader(s.ring);
    s.prog.testRun({ data: packet, repeat: 100 }); // 100 * 72 bytes > 4096
    const got: number[] = [];
    reader.consume((v) => got.push(seqOf(v)));
    expect(got.length).to.equal(Math.floor(4096 / 72));
    expect(got).to.deep.equal(Array.from({ length: got.length }, (_, i) => i));
  });

  it('for await yields events as they arrive, woken through epoll', async function () {
    using s = setup(64 * 1024);
    const reader = new RingBufReader(s.ring);
    const got: number[] = [];
    const timer = setTimeout(() => s.prog.testRun({ data: packet, repeat: 20 }), 30);
    const t0 = Date.now();
    for await (const ev of reader) {
      got.push(seqOf(ev));
      if (got.length === 20) break;
    }
    clearTimeout(timer);
    expect(got).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
    expect(Date.now() - t0).to.be.lessThan(patience(5000), 'woken by the events, not by a slow poll');
    reader.close();
    expect(() => reader.consume(() => {})).to.throw(ObjectClosedError);
  });

  it('for await reads in bounded batches (a flood never makes one unbounded drain)', async function () {
    using s = setup(512 * 1024);
    using reader = new RingBufReader(s.ring);
    s.prog.testRun({ data: packet, repeat: 5000 });
    for await (const ev of reader) {
      expect(seqOf(ev)).to.equal(0);
      break;
    }
    // One batch (1024 records) was taken; the rest is still in the ring.
    expect(reader.available).to.equal((5000 - 1024) * 72);
  });

  it('six readers waiting at once: each wakes on its own events alone (one shared epoll wait)', async function () {
    const rings = Array.from({ length: 6 }, () => setup(4096));
    const readers = rings.map((r) => new RingBufReader(r.ring));
    try {
      // Waits without a timeout: a reader resolves only when its ring has data, or on close().
      const woke: Array<boolean | undefined> = [];
      const order: number[] = [];
      const waits = readers.map((r, i) => r.wait().then((ready) => {
        woke[i] = ready;
        order.push(i);
      }));
      rings[5]!.prog.testRun({ data: packet, repeat: 1 });
      await waits[5];
      expect(woke[5]).to.equal(true);
      rings[2]!.prog.testRun({ data: packet, repeat: 1 });
      await waits[2];
      expect(woke[2]).to.equal(true);
      expect(order).to.deep.equal([5, 2], 'each reader woke for its own ring only, the others still waiting');
      expect(Array.from({ length: 6 }, (_, i) => i).filter((i) => woke[i] === undefined)).to.deep.equal([0, 1, 3, 4]);
      // The others wake only when closed, with nothing ready.
      for (const i of [0, 1, 3, 4]) readers[i]!.close();
      await Promise.all(waits);
      expect([woke[0], woke[1], woke[3], woke[4]]).to.deep.equal([false, false, false, false]);
    } finally {
      for (const r of readers) r.close();
      for (const r of rings) r[Symbol.dispose]();
    }
  });

  it('close() wakes a pending wait and releases it', async function () {
    using s = setup(4096);
    const reader = new RingBufReader(s.ring);
    const waiting = reader.wait();
    setTimeout(() => reader.close(), 10);
    expect(await waiting).to.equal(false);
  });

  it('rejects a map that is not a ring buffer, a bad size, and a closed map', function () {
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
    expect(() => new RingBufReader(m)).to.throw(TypeError);
    expect(() => new RingBufReader({ fd: m.fd, maxEntries: 5000 })).to.throw(RangeError);
    const ring = BpfMap.create({ type: 'RINGBUF', maxEntries: 4096 });
    ring.close();
    expect(() => new RingBufReader(ring)).to.throw(ObjectClosedError);
  });
});
