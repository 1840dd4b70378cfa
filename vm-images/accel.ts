/**
 * KVM or software emulation. /dev/kvm can exist and still not work (nested
 * virtualisation without the CPU features, a broken host), so KVM is used
 * only after a short trial boot under it reaches userspace. The verdict is
 * cached per host boot; TSBPF_VM_ACCEL=kvm|tcg overrides it.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpioWriter } from './cpio.js';
import { VmError } from './errors.js';
import type { CachedKernel } from './kernel-store.js';
import { cacheDir } from './paths.js';
import { requireTool } from './process.js';
import { boot, type Accel } from './qemu.js';

const TRIAL_SECONDS = 15;
let said = false;

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** A tiny initramfs whose init says it is alive and powers off. */
function trialInitrd(path: string): void {
  const busybox = requireTool('busybox', 'busybox-static');
  const w = new CpioWriter();
  w.add({ kind: 'chardev', path: 'dev/console', major: 5, minor: 1 });
  w.add({ kind: 'file', path: 'bin/busybox', data: readFileSync(busybox), mode: 0o755 });
  w.add({ kind: 'symlink', path: 'bin/sh', target: 'busybox' });
  const init = '#!/bin/sh\n/bin/busybox mount -t devtmpfs d /dev\n/bin/busybox echo TSBPF-VM-READY >/dev/ttyS1\n/bin/busybox poweroff -f\n';
  w.add({ kind: 'file', path: 'init', data: new TextEncoder().encode(init), mode: 0o755 });
  writeFileSync(path, w.finish());
}

async function kvmWorks(kernel: CachedKernel): Promise<{ ok: boolean; why: string }> {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { ok: false, why: existsSync('/dev/kvm') ? '/dev/kvm is not accessible' : 'no /dev/kvm' };
  }
  const dir = join(cacheDir(), 'runs', `kvm-trial-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const initrd = join(dir, 'trial.cpio');
    trialInitrd(initrd);
    const r = await boot({ vmlinuz: kernel.vmlinuz, initrd, controlFile: join(dir, 'control'), accel: 'kvm', memoryMb: 256, cpus: 1, timeoutSeconds: TRIAL_SECONDS });
    if (r.control.includes('TSBPF-VM-READY')) return { ok: true, why: `trial boot in ${r.seconds.toFixed(1)} s` };
    const reason = r.timedOut ? `no sign of life within ${TRIAL_SECONDS} s` : (r.qemuStderr.trim().split('\n').pop() ?? `qemu exited ${r.qemuStatus}`);
    return { ok: false, why: `a trial boot under KVM failed (${reason})` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Decides once per process (and caches per host boot) whether to use KVM. */
export async function chooseAccel(kernel: CachedKernel): Promise<Accel> {
  const forced = process.env.TSBPF_VM_ACCEL;
  if (forced !== undefined && forced !== '') {
    if (forced !== 'kvm' && forced !== 'tcg') throw new VmError('BAD_USAGE', `TSBPF_VM_ACCEL must be kvm or tcg, not '${forced}'`, 2);
    return forced;
  }
  const file = join(cacheDir(), 'accel.json');
  let verdict: { bootId: string; ok: boolean; why: string } | null = null;
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as { bootId: string; ok: boolean; why: string };
    if (cached.bootId === bootId()) verdict = cached;
  } catch {
    // no verdict yet
  }
  if (verdict === null) {
    const r = await kvmWorks(kernel);
    verdict = { bootId: bootId(), ...r };
    mkdirSync(cacheDir(), { recursive: true });
    writeFileSync(file, `${JSON.stringify(verdict)}\n`);
  }
  if (!verdict.ok && !said) {
    process.stderr.write(`vm: KVM not usable (${verdict.why}); using software emulation (TCG), which is slower\n`);
    said = true;
  }
  return verdict.ok ? 'kvm' : 'tcg';
}
