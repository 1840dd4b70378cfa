/**
 * biolatency: block device I/O latency as a log2 histogram, like bcc's
 * biolatency: from issue to completion (with -Q from insertion into the
 * queue), in microseconds (-m: milliseconds), for every disk or per disk
 * (-D), or for one disk (-d NAME). BTF tracepoints (tp_btf) give the
 * request as a typed pointer; its disk is read through CO-RE.
 *   sudo npx tsbpf run examples/tools/biolatency.bpf.ts -- [-Q] [-m] [-D] [-d DISK] [-T] [INTERVAL [COUNT]]
 */
import { bpf, global, hashMap, log2Hist, tpBtf, type KernelType, type Ptr, type u32, type u64, type u8 } from 'tsbpf/dsl';
import type { gendisk } from 'tsbpf/dsl/kernel';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import { readdirSync, readFileSync } from 'node:fs';
import type * as biolatency from './biolatency.bpf.js';

/** 1: from insertion into the queue (-Q); main sets these once attached, as bcc sets its rodata. */
export const fromQueue = global<u32>(0);
/** 1: milliseconds (-m). */
export const inMilliseconds = global<u32>(0);
/** 1: a histogram per disk (-D). */
export const perDisk = global<u32>(0);
/** Only this disk, as major << 20 | minor (0: every disk; -d). */
export const targetDev = global<u32>(0);

/** The members read here (tsbpf/dsl/kernel leaves request_queue opaque). */
interface request_queue extends KernelType<'struct request_queue'> {
  disk: Ptr<gendisk>;
}
interface request extends KernelType<'struct request'> {
  q: Ptr<request_queue>;
}

/** When each request (by address) started. */
const started = hashMap<Ptr<request>, u64>({ maxEntries: 10240 });
/** Latencies by disk (major << 20 | minor; 0 without -D). */
export const latency = log2Hist<u32>();

/** The request's disk as the block tracepoints give it (dev_t: major << 20 | minor; rq->part is only set for accounted I/O). */
function diskOf(rq: Ptr<request>): u32 {
  const disk = rq.q.disk;
  if (disk === null) return 0;
  return (disk.major << 20) | disk.first_minor;
}

function start(rq: Ptr<request>): void {
  if (targetDev.get() !== 0 && diskOf(rq) !== targetDev.get()) return;
  started.update(rq, bpf.ktimeNs());
}

export const onInsert = tpBtf('block_rq_insert', (rq: Ptr<request>) => {
  if (fromQueue.get() !== 0) start(rq);
  return 0;
});

export const onIssue = tpBtf('block_rq_issue', (rq: Ptr<request>) => {
  // With -Q the insertion started the clock; a request issued without being queued starts here.
  if (fromQueue.get() === 0 || started.lookup(rq) === null) start(rq);
  return 0;
});

export const onComplete = tpBtf('block_rq_complete', (rq: Ptr<request>, error: u8, bytes: u32) => {
  const since = started.lookup(rq);
  if (since === null) return 0;
  const delta = bpf.ktimeNs() - since;
  started.delete(rq);
  latency.record(perDisk.get() !== 0 ? diskOf(rq) : 0, inMilliseconds.get() !== 0 ? delta / 1000000 : delta / 1000);
  return 0;
});

export const options = {
  queued: { type: 'boolean', short: 'Q' },
  milliseconds: { type: 'boolean', short: 'm' },
  disks: { type: 'boolean', short: 'D' },
  disk: { type: 'string', short: 'd' },
  timestamp: { type: 'boolean', short: 'T' },
} as const;

/** Block devices by dev_t (major << 20 | minor), from /sys/class/block. */
export function blockDevices(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/sys/class/block')) {
    try {
      const [major, minor] = readFileSync(`/sys/class/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
      out.set(((major! << 20) | minor!) >>> 0, name);
    } catch {
      // A device that went away while listing.
    }
  }
  return out;
}

/** bcc's biolatency: the histogram(s) at Ctrl-C, or every INTERVAL seconds (COUNT times). */
export async function main(live: LiveModule<typeof biolatency>, args: ModuleArgs): Promise<void> {
  const v = args.values;
  const devices = blockDevices();
  if (typeof v.disk === 'string') {
    const dev = [...devices].find(([, name]) => name === v.disk)?.[0];
    if (dev === undefined) throw new Error(`-d: no block device named ${v.disk}`);
    live.globals.targetDev = dev;
  }
  if (v.queued === true) live.globals.fromQueue = 1;
  if (v.milliseconds === true) live.globals.inMilliseconds = 1;
  if (v.disks === true) live.globals.perDisk = 1;
  // What completed before the settings took effect.
  live.histograms.latency.clear();
  const interval = args.positionals[0] !== undefined ? Number(args.positionals[0]) : undefined;
  const count = args.positionals[1] !== undefined ? Number(args.positionals[1]) : Infinity;
  const unit = v.milliseconds === true ? 'msecs' : 'usecs';
  process.stdout.write('Tracing block device I/O... Hit Ctrl-C to end.\n');
  const print = () => {
    process.stdout.write('\n');
    if (v.timestamp === true) process.stdout.write(`${new Date().toTimeString().slice(0, 8)}\n`);
    const label = (dev: number) => `disk = ${devices.get(dev) ?? `${dev >>> 20}:${dev & 0xfffff}`}`;
    process.stdout.write(live.histograms.latency.format({ style: 'bcc', unit, ...(v.disks === true ? { label } : {}) }));
  };
  for await (const _ of args.reports(interval, count)) {
    print();
    live.histograms.latency.clear();
  }
}
