/**
 * Booting one guest: qemu with the kernel and initrd, the console on stdio
 * (ttyS0) and the control port (ttyS1) in a file; a guest that outlives its
 * timeout is killed and reported as such.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { VmError } from './errors.js';
import { requireTool } from './process.js';

export type Accel = 'kvm' | 'tcg';

export interface BootOptions {
  vmlinuz: string;
  initrd: string;
  controlFile: string;
  accel: Accel;
  memoryMb?: number;
  cpus?: number;
  /** Kill the guest after this many seconds. */
  timeoutSeconds: number;
  /** Interactive: the terminal is the guest's console (vm-shell). */
  interactive?: boolean;
  /** Console bytes as they arrive (not used when interactive). */
  onConsole?: (chunk: Buffer) => void;
  /** Extra kernel command line. */
  append?: string;
}

export interface BootResult {
  timedOut: boolean;
  qemuStatus: number | null;
  signal: NodeJS.Signals | null;
  console: string;
  control: string;
  seconds: number;
  /** Host seconds from spawning qemu to the guest's READY line, when seen. */
  readySeconds?: number;
  qemuStderr: string;
}

export const qemuBinary = (): string => requireTool(process.env.TSBPF_VM_QEMU ?? 'qemu-system-x86_64', 'qemu-system-x86');

export function kernelCommandLine(extra = ''): string {
  // quiet console so the command's own output stands out; panic=-1 + -no-reboot: a dead PID 1 ends qemu.
  // no_timer_check: under software emulation on a loaded host the IO-APIC timer check can miss its ticks
  // and panic the boot ("IO-APIC + timer doesn't work!"); the emulated timer is fine, so skip the check.
  return `console=ttyS0 quiet loglevel=3 panic=-1 oops=panic rdinit=/init random.trust_cpu=on no_timer_check ${extra}`.trim();
}

/** The CPU a TCG guest sees: everything QEMU emulates except the AVX family (see qemuArgs). */
export const TCG_CPU = 'max,avx=off,avx2=off,fma=off,f16c=off';

export function qemuArgs(o: BootOptions): string[] {
  // Under TCG, no AVX: QEMU 7.2 (Debian 12's) was the first to emulate AVX/AVX2/FMA, with a new decoder that
  // had operand-size bugs fixed only in 8.x (e.g. qemu#1377), and V8 JITs AVX code when CPUID offers it. The
  // dev VMs' node then died of a rare SIGSEGV at start (seen in CI runs, and in 1 of 7 1100 MB guest runs of one test).
  // Without AVX it still does, now and then, in JIT code (vm-images/RESULTS.md); taking BMI out too did not help.
  const accel = o.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', TCG_CPU];
  return [
    '-machine', 'q35',
    ...accel,
    '-smp', String(o.cpus ?? 2),
    '-m', String(o.memoryMb ?? 2048),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-serial', o.interactive ? 'mon:stdio' : 'stdio',
    '-serial', `file:${o.controlFile}`,
    '-kernel', o.vmlinuz,
    '-initrd', o.initrd,
    '-append', kernelCommandLine(o.append),
  ];
}

export function boot(o: BootOptions): Promise<BootResult> {
  const qemu = qemuBinary();
  for (const f of [o.vmlinuz, o.initrd]) if (!existsSync(f)) throw new VmError('IMAGE_FAILED', `missing ${f}`);
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(qemu, qemuArgs(o), { stdio: o.interactive ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    let consoleText = '';
    const decoder = new StringDecoder('utf8');
    let stderr = '';
    let timedOut = false;
    let readySeconds: number | undefined;
    child.stdout?.on('data', (c: Buffer) => {
      consoleText += decoder.write(c);
      if (consoleText.length > 64 * 1024 * 1024) consoleText = consoleText.slice(-32 * 1024 * 1024);
      o.onConsole?.(c);
    });
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    // The control file is watched so boot-to-command time is measured on the host clock.
    const poll = setInterval(() => {
      if (readySeconds !== undefined) return;
      try {
        if (statSync(o.controlFile).size > 0 && readFileSync(o.controlFile, 'utf8').includes('TSBPF-VM-READY')) {
          readySeconds = (Date.now() - started) / 1000;
        }
      } catch {
        // not created yet
      }
    }, 50);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    }, o.timeoutSeconds * 1000);
    child.on('error', (e) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new VmError('NO_QEMU', `cannot start ${qemu}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      let control = '';
      try {
        control = readFileSync(o.controlFile, 'utf8');
      } catch {
        // qemu never opened it
      }
      if (readySeconds === undefined && control.includes('TSBPF-VM-READY')) readySeconds = (Date.now() - started) / 1000;
      resolvePromise({
        timedOut,
        qemuStatus: code,
        signal,
        console: consoleText,
        control,
        seconds: (Date.now() - started) / 1000,
        readySeconds,
        qemuStderr: stderr,
      });
    });
  });
}
