import { expect } from 'chai';
import { readdirSync, readlinkSync } from 'node:fs';
import { BpfMap } from '../../src/kernel/map.js';
import { Program } from '../../src/kernel/program.js';
import { attachRawTracepoint } from '../../src/kernel/link-raw-tracepoint.js';
import { attachTracepoint } from '../../src/kernel/link-tracepoint.js';
import { RingBufReader } from '../../src/kernel/ringbuf-reader.js';
import { PerfBufferReader } from '../../src/kernel/perf-reader.js';
import { possibleCpuCount } from '../../src/kernel/cpus.js';
import { needKernel } from '../support/kernel.js';
import { attachIter, iterTargetBtfId } from '../../src/kernel/link-iter.js';
import { countAll, op } from './link-programs.js';

/** Open fds by what they are (anon_inode:bpf_link, anon_inode:[perf_event], anon_inode:[eventpoll], ...). */
function openFds(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the fd of the directory listing itself
    }
    const kind = target.startsWith('anon_inode:') ? target : target.startsWith('/') ? 'file' : target.replace(/:\[\d+\]$/, '');
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

describe('kernel: links and readers do not leak file descriptors', function () {
  before(function () {
    needKernel(this);
  });

  it('10,000 links opened and closed leave the open fds unchanged', function () {
    // Iterator links: real bpf_links whose attach and detach need no RCU grace period (tracepoint ones wait ~20 ms each).
    using iterProg = Program.load({ type: 'TRACING', expectedAttachType: 'TRACE_ITER', attachBtfId: iterTargetBtfId('task'), instructions: [op.mov(0, 0), op.exit()] });
    using map = BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 });
    using raw = Program.load({ type: 'RAW_TRACEPOINT', instructions: countAll(map.fd) });
    using tp = Program.load({ type: 'TRACEPOINT', instructions: countAll(map.fd) });
    const before = openFds();
    for (let i = 0; i < 10_000; i++) attachIter(iterProg, 'task').close();
    for (let i = 0; i < 20; i++) {
      using a = attachRawTracepoint(raw, 'sys_enter');
      using b = attachTracepoint(tp, 'syscalls/sys_enter_getppid');
      void a;
      void b;
    }
    expect(openFds()).to.deep.equal(before);
  });

  it('ring and perf buffer readers opened and closed 300 times leave the fd count unchanged', function () {
    using ring = BpfMap.create({ type: 'RINGBUF', maxEntries: 16384 });
    using events = BpfMap.create({ type: 'PERF_EVENT_ARRAY', keySize: 4, valueSize: 4, maxEntries: possibleCpuCount() });
    const before = openFds();
    for (let i = 0; i < 300; i++) {
      new RingBufReader(ring).close();
      new PerfBufferReader(events, { pagesPerCpu: 1 }).close();
    }
    expect(openFds()).to.deep.equal(before);
  });
});
