// Run by memory-safety.test.ts in a child process: one scenario that used to
// end the process with SIGSEGV. Prints 'survived' and a JSON result when the
// process lives through it.
import { BpfMap } from '../../src/kernel/map.js';
import { PerfBufferReader } from '../../src/kernel/perf-reader.js';
import { possibleCpuCount } from '../../src/kernel/cpus.js';
import { Program } from '../../src/kernel/program.js';
import { RingBufReader } from '../../src/kernel/ringbuf-reader.js';
import { MapFlags } from '../../src/syscall/flags.js';
import { emitSequencedEvents } from './link-programs.js';

const packet = new Uint8Array(64);
const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer);

function ringWithEvents(count: number): { ring: BpfMap; close(): void } {
  const seq = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
  const ring = BpfMap.create({ type: 'RINGBUF', maxEntries: 64 * 1024 });
  const prog = Program.load({ type: 'XDP', instructions: emitSequencedEvents(seq.fd, ring.fd, 'ringbuf', 64), name: 'ms_emit' });
  prog.testRun({ data: packet, repeat: count });
  return { ring, close: () => { prog.close(); ring.close(); seq.close(); } };
}

const scenarios: Record<string, () => unknown> = {
  'ringbuf consume: write to the view'() {
    const s = ringWithEvents(10);
    using reader = new RingBufReader(s.ring);
    let seen = 0;
    reader.consume((view) => {
      view.fill(0x55);
      seen++;
    });
    s.close();
    return { seen };
  },
  'ringbuf consumeRaw: write to the bytes'() {
    const s = ringWithEvents(10);
    using reader = new RingBufReader(s.ring);
    const seen = reader.consumeRaw((bytes, offset, length) => bytes.fill(0x55, offset, offset + length));
    s.close();
    return { seen };
  },
  'ringbuf: a view kept past close() is written'() {
    const s = ringWithEvents(4);
    const reader = new RingBufReader(s.ring);
    const kept: Uint8Array[] = [];
    reader.unsafeConsume((view) => kept.push(view));
    reader.close();
    for (const v of kept) v.fill(1);
    s.close();
    return { kept: kept.length };
  },
  'ringbuf: the callback closes the reader'() {
    const s = ringWithEvents(10);
    const reader = new RingBufReader(s.ring);
    const seen = reader.consume(() => reader.close());
    s.close();
    return { seen };
  },
  'perf buffer: a sample view kept past close() is written'() {
    using seq = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
    using events = BpfMap.create({ type: 'PERF_EVENT_ARRAY', keySize: 4, valueSize: 4, maxEntries: possibleCpuCount() });
    using prog = Program.load({ type: 'XDP', instructions: emitSequencedEvents(seq.fd, events.fd, 'perf', 64), name: 'ms_perf' });
    const reader = new PerfBufferReader(events, { pagesPerCpu: 2 });
    prog.testRun({ data: packet, repeat: 5 });
    const kept: Uint8Array[] = [];
    reader.consume((data) => kept.push(data));
    reader.close();
    for (const v of kept) v.fill(1);
    return { kept: kept.length };
  },
  'map memory(): written after close()'() {
    const m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 16, flags: MapFlags.MMAPABLE });
    const mem = new Uint8Array(m.memory());
    mem[0] = 1;
    m.close();
    mem.fill(7);
    return { after: mem[0] };
  },
  'map memory({ writable: false }): written'() {
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 16, flags: MapFlags.MMAPABLE });
    m.update(u32(3), new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0]));
    const mem = new Uint8Array(m.memory({ writable: false }));
    const before = mem[24];
    mem.fill(7);
    return { before, mapValue: m.lookup(u32(3))![0] };
  },
  'map memory() of a frozen map'() {
    using m = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 16, flags: MapFlags.MMAPABLE });
    m.update(u32(0), new Uint8Array([5, 0, 0, 0, 0, 0, 0, 0]));
    m.freeze();
    let error = '';
    try {
      new Uint8Array(m.memory()).fill(1);
    } catch (e) {
      error = (e as { name?: string }).name === 'MapMemoryError' ? (e as { code: string }).code : String(e);
    }
    const copy = new Uint8Array(m.memory({ writable: false }));
    copy.fill(1);
    return { error, value: m.lookup(u32(0))![0] };
  },
};

const name = process.argv[2]!;
const scenario = scenarios[name];
if (!scenario) {
  process.stderr.write(`unknown scenario '${name}'; have: ${Object.keys(scenarios).join(' | ')}\n`);
  process.exit(2);
}
const result = scenario();
process.stdout.write(`survived ${JSON.stringify(result)}\n`);
