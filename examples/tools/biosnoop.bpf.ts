/**
 * biosnoop: one line per block I/O request when it completes, with the
 * process that queued it, the disk, the direction, the sector, the size and
 * the latency from issue to completion (with -Q also the time queued), as
 * bcc's biosnoop prints them. BTF tracepoints (tp_btf) give the request as
 * a typed pointer: a hash keyed by the request notes when it was inserted
 * and issued and by whom; its disk, sector and size are read through CO-RE.
 *   sudo npx tsbpf run examples/tools/biosnoop.bpf.ts -- [-Q] [-d DISK]
 */
import { bpf, global, hashMap, ringBuf, tpBtf, type CStr, type i32, type KernelType, type Ptr, type u32, type u64, type u8 } from 'tsbpf/dsl';
import type { gendisk } from 'tsbpf/dsl/kernel';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as biosnoop from './biosnoop.bpf.js';
import { blockDevices } from './biolatency.bpf.js';

/** 1 once main has set the filter below: the programs run from attach on. */
export const ready = global<u32>(0);
/** Only this disk, as major << 20 | minor (0: every disk; -d). */
export const targetDev = global<u32>(0);

/** The members read here (tsbpf/dsl/kernel leaves request_queue opaque). */
interface request_queue extends KernelType<'struct request_queue'> {
  disk: Ptr<gendisk>;
}
interface request extends KernelType<'struct request'> {
  q: Ptr<request_queue>;
  cmd_flags: u32;
  __data_len: u32;
  __sector: u64;
}

/** What is known of a request before it completes. */
interface Start {
  /** bpf_ktime_get_ns() at insertion into the queue (0: issued without being queued). */
  insertNs: u64;
  /** At issue to the driver (0: not issued yet). */
  issueNs: u64;
  pid: u32;
  comm: CStr<16>;
}

export interface Io {
  /** Completion time, bpf_ktime_get_ns(). */
  ts: u64;
  /** From issue to completion, and from insertion to issue (0 when not queued), in nanoseconds. */
  latencyNs: u64;
  queuedNs: u64;
  sector: u64;
  bytes: u32;
  pid: u32;
  dev: u32;
  /** REQ_OP_*: 0 read, 1 write, 2 flush, 3 discard, … */
  op: u8;
  comm: CStr<16>;
  disk: CStr<32>;
}

const started = hashMap<Ptr<request>, Start>({ maxEntries: 10240 });
export const ios = ringBuf<Io>({ size: 256 * 1024 });

/** The request's disk as the block tracepoints give it (dev_t: major << 20 | minor). */
function devOf(rq: Ptr<request>): u32 {
  const disk = rq.q.disk;
  if (disk === null) return 0;
  return (disk.major << 20) | disk.first_minor;
}

function wanted(rq: Ptr<request>): boolean {
  if (ready.get() === 0) return false;
  return targetDev.get() === 0 || devOf(rq) === targetDev.get();
}

/** Notes the request: its process (the first seen, at insertion or issue) and the time of `issued` or insertion. */
function note(rq: Ptr<request>, issued: boolean): void {
  const s = started.lookup(rq);
  if (s !== null) {
    if (issued) s.issueNs = bpf.ktimeNs();
    else s.insertNs = bpf.ktimeNs();
    return;
  }
  let fresh!: Start;
  if (issued) fresh.issueNs = bpf.ktimeNs();
  else fresh.insertNs = bpf.ktimeNs();
  fresh.pid = bpf.tgid();
  bpf.currentComm(fresh.comm);
  started.update(rq, fresh);
}

export const onInsert = tpBtf('block_rq_insert', (rq: Ptr<request>) => {
  if (wanted(rq)) note(rq, false);
  return 0;
});

export const onIssue = tpBtf('block_rq_issue', (rq: Ptr<request>) => {
  if (wanted(rq)) note(rq, true);
  return 0;
});

export const onComplete = tpBtf('block_rq_complete', (rq: Ptr<request>, error: i32, bytes: u32) => {
  const s = started.lookup(rq);
  if (s === null) return 0;
  const now = bpf.ktimeNs();
  if (s.issueNs !== 0) {
    const e = ios.reserve();
    if (e !== null) {
      e.ts = now;
      e.latencyNs = now - s.issueNs;
      e.queuedNs = s.insertNs !== 0 ? s.issueNs - s.insertNs : 0;
      e.sector = rq.__sector;
      e.bytes = rq.__data_len;
      e.pid = s.pid;
      e.op = rq.cmd_flags & 0xff;
      bpf.probeReadKernelStr(e.comm, s.comm);
      e.dev = devOf(rq);
      const disk = rq.q.disk;
      if (disk !== null) bpf.probeReadKernelStr(e.disk, disk.disk_name);
      else e.disk[0] = 0;
      ios.submit(e);
    }
  }
  started.delete(rq);
  return 0;
});

// ------------------------------------------------------------ user space

export const options = {
  queued: { type: 'boolean', short: 'Q' },
  disk: { type: 'string', short: 'd' },
} as const;

/** REQ_OP_* as bcc's T column shows it. */
const OPS: Record<number, string> = { 0: 'R', 1: 'W', 2: 'F', 3: 'D' };

/** bcc's biosnoop: TIME(s) COMM PID DISK T SECTOR BYTES [QUE(ms)] LAT(ms). */
export async function main(live: LiveModule<typeof biosnoop>, args: ModuleArgs): Promise<void> {
  const v = args.values;
  if (typeof v.disk === 'string') {
    const dev = [...blockDevices()].find(([, name]) => name === v.disk)?.[0];
    if (dev === undefined) throw new Error(`-d: no block device named ${v.disk}`);
    live.globals.targetDev = dev;
  }
  live.globals.ready = 1;
  const queued = v.queued === true;
  process.stdout.write(`${'TIME(s)'.padEnd(11)} ${'COMM'.padEnd(14)} ${'PID'.padEnd(7)} ${'DISK'.padEnd(9)} T ${'SECTOR'.padEnd(10)} ${'BYTES'.padEnd(7)} ${queued ? `${'QUE(ms)'.padStart(7)} ` : ''}${'LAT(ms)'.padStart(7)}\n`);
  let first: number | undefined;
  for await (const e of live.events.ios) {
    first ??= e.ts;
    const ms = (ns: number) => (ns / 1e6).toFixed(2).padStart(7);
    process.stdout.write(`${((e.ts - first) / 1e9).toFixed(6).padEnd(11)} ${e.comm.slice(0, 14).padEnd(14)} ${String(e.pid).padEnd(7)} ${e.disk.padEnd(9)} ${OPS[e.op] ?? '?'} ${String(e.sector).padEnd(10)} ${String(e.bytes).padEnd(7)} ${queued ? `${ms(e.queuedNs)} ` : ''}${ms(e.latencyNs)}\n`);
  }
}
