/**
 * execguard: a BPF LSM policy that refuses execve(2) of the programs named
 * with --deny (the path as exec was given it: bprm->filename), except for
 * the users named with --allow-uid, and prints every refusal. Needs a
 * kernel with BPF trampolines and the BPF LSM active (lsm=...,bpf).
 *   sudo npx tsbpf run examples/tools/execguard.bpf.ts -- --deny /usr/bin/nc [--deny PATH] [--allow-uid 0] [--audit]
 * --audit reports what it would refuse and refuses nothing.
 */
import { arrayMap, bpf, hashMap, lsm, ringBuf, type CStr, type i32, type Ptr, type u32, type u8 } from 'tsbpf/dsl';
import type { linux_binprm } from 'tsbpf/dsl/kernel';
import type { LiveModule, ModuleArgs } from 'tsbpf';
import type * as execguard from './execguard.bpf.js';

const EPERM = 1;

export interface Path {
  path: CStr<128>;
}

export interface Refusal {
  target: Path;
  comm: CStr<16>;
  pid: u32;
  uid: u32;
  /** 1 when the exec was refused, 0 when --audit only reported it. */
  refused: u8;
}

/** The programs nobody outside `allowedUids` may run. */
export const denied = hashMap<Path, u8>({ maxEntries: 1024 });
export const allowedUids = hashMap<u32, u8>({ maxEntries: 1024 });
/** Slot 0: 1 to refuse, 0 to report only. */
export const enforce = arrayMap<u32>({ maxEntries: 1 });
export const refusals = ringBuf<Refusal>({ size: 64 * 1024 });

export const checkExec = lsm('bprm_check_security', (bprm: Ptr<linux_binprm>, ret: i32) => {
  // Another LSM already said no.
  if (ret !== 0) return ret;
  // The event is built on the stack as the check goes: its path is the key looked up.
  let e!: Refusal;
  bpf.probeReadKernelStr(e.target.path, bprm.filename);
  if (denied.lookup(e.target) === null) return 0;
  e.uid = bpf.uid();
  if (allowedUids.lookup(e.uid) !== null) return 0;
  const refuse = enforce.lookup(0) === 1;
  e.pid = bpf.pid();
  e.refused = refuse ? 1 : 0;
  bpf.currentComm(e.comm);
  refusals.output(e);
  return refuse ? -EPERM : 0;
});

// ------------------------------------------------------------ user space

export const options = {
  deny: { type: 'string', multiple: true },
  'allow-uid': { type: 'string', multiple: true },
  audit: { type: 'boolean' },
  time: { type: 'boolean', short: 'T' },
} as const;

/** Fills the policy from the options, then prints one line per refused (or, with --audit, reported) exec. */
export async function main(live: LiveModule<typeof execguard>, args: ModuleArgs): Promise<void> {
  const v = args.values;
  const paths = (v.deny as string[] | undefined) ?? [];
  const uids = (v['allow-uid'] as string[] | undefined) ?? [];
  for (const path of paths) {
    if (Buffer.byteLength(path) > 127) throw new Error(`--deny ${path}: longer than 127 bytes`);
    live.maps.denied.set({ path }, 1);
  }
  for (const uid of uids) {
    const n = Number(uid);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`--allow-uid ${uid}: not a uid`);
    live.maps.allowedUids.set(n, 1);
  }
  live.maps.enforce.set(0, v.audit === true ? 0 : 1);
  process.stderr.write(`${v.audit === true ? 'auditing' : 'denying'} ${paths.length} program${paths.length === 1 ? '' : 's'}, ${uids.length} uid${uids.length === 1 ? '' : 's'} allowed\n`);
  process.stdout.write(`${v.time === true ? 'TIME     ' : ''}${'PID'.padEnd(7)} ${'UID'.padEnd(7)} ${'COMM'.padEnd(16)} ${'ACTION'.padEnd(7)} PATH\n`);
  for await (const e of live.events.refusals) {
    const time = v.time === true ? `${new Date().toTimeString().slice(0, 8)} ` : '';
    process.stdout.write(`${time}${String(e.pid).padEnd(7)} ${String(e.uid).padEnd(7)} ${e.comm.padEnd(16)} ${(e.refused === 1 ? 'DENIED' : 'AUDIT').padEnd(7)} ${e.target.path}\n`);
  }
}
