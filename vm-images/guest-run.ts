/**
 * One guest boot from start to verdict: kernel fetched if needed, layers
 * built, qemu run, the control port parsed. A boot that hangs, panics or
 * never reports an exit status is an error, never a silent success.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chooseAccel } from './accel.js';
import { pickCompression } from './compress.js';
import { VmError } from './errors.js';
import { runLayer, modulesLayer, projectLayer, runtimeLayer, writeInitrd, type RunSpec } from './image.js';
import { ensureKernel, type CachedKernel } from './kernel-store.js';
import type { KernelSpec } from './kernels.js';
import { runsDir } from './paths.js';
import { toolchainLayer } from './toolchain.js';
import { exitStatusFromConsole, parseControl, type GuestReport } from './protocol.js';
import { boot, type BootResult } from './qemu.js';

export interface GuestOutcome {
  kernel: CachedKernel;
  accel: 'kvm' | 'tcg';
  boot: BootResult;
  report: GuestReport;
  /** The command's exit status in the guest. */
  exitStatus: number;
}

let project: Uint8Array | undefined;
let counter = 0;

const kernelHasZstd = (k: CachedKernel): boolean => {
  try {
    return /^CONFIG_RD_ZSTD=y$/m.test(readFileSync(k.config, 'utf8'));
  } catch {
    return false;
  }
};

/** The last lines of the console, to show why a guest died. */
export function consoleTail(text: string, lines = 15): string {
  return text.replace(/\r/g, '').trimEnd().split('\n').slice(-lines).map((l) => `  | ${l}`).join('\n');
}

/** A guest killed at its deadline, with what it had reported by then (the runs of `flake` that finished). */
export class GuestTimeout extends VmError {
  constructor(message: string, readonly report: GuestReport) {
    super('GUEST_TIMEOUT', message, 124);
  }
}

/** Turns a finished boot into an exit status, or a VmError saying what went wrong. */
export function verdict(kernelName: string, r: BootResult, report: GuestReport, timeoutSeconds: number): number {
  if (r.timedOut) {
    throw new GuestTimeout(
      `the guest on kernel ${kernelName} did not finish within ${timeoutSeconds} s and was killed` +
        `${report.readyUptime === undefined ? ' (it never reached the command)' : ''}; last console lines:\n${consoleTail(r.console)}`,
      report,
    );
  }
  const status = report.exitStatus ?? exitStatusFromConsole(r.console);
  if (status === undefined) {
    const qemuSays = r.qemuStderr.trim() ? `\nqemu said: ${r.qemuStderr.trim()}` : '';
    throw new VmError(
      'GUEST_NO_STATUS',
      `the guest on kernel ${kernelName} ended without reporting an exit status (qemu exited ${r.qemuStatus ?? r.signal}; kernel panic or boot failure?); last console lines:\n${consoleTail(r.console)}${qemuSays}`,
    );
  }
  return status;
}

export interface GuestOptions {
  timeoutSeconds: number;
  memoryMb?: number;
  interactive?: boolean;
  onConsole?: (chunk: Buffer) => void;
}

export async function runGuest(spec: KernelSpec, run: RunSpec, o: GuestOptions): Promise<GuestOutcome> {
  const kernel = await ensureKernel(spec);
  const accel = await chooseAccel(kernel);
  const compression = pickCompression(kernelHasZstd(kernel));
  const runtime = await runtimeLayer(compression);
  // Tests build probe targets with gcc; a plain run does not need a compiler and boots faster without one.
  const toolchain = run.mode === 'run' ? null : await toolchainLayer(compression);
  const modules = modulesLayer(kernel);
  project ??= projectLayer();
  const dir = join(runsDir(), `${spec.name}-${process.pid}-${counter++}`);
  mkdirSync(dir, { recursive: true });
  try {
    const initrd = join(dir, 'initrd.img');
    writeInitrd(initrd, [runtime, ...(toolchain ? [toolchain] : []), modules, project, runLayer(run)]);
    const r = await boot({
      vmlinuz: kernel.vmlinuz,
      initrd,
      controlFile: join(dir, 'control'),
      accel,
      memoryMb: o.memoryMb,
      timeoutSeconds: o.timeoutSeconds,
      interactive: o.interactive,
      onConsole: o.onConsole,
    });
    const report = parseControl(r.control);
    return { kernel, accel, boot: r, report, exitStatus: verdict(spec.name, r, report, o.timeoutSeconds) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
