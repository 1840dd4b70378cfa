/**
 * Kernel tests need root and the bpf() syscall. Where they cannot run they
 * are skipped (mocha counts them as pending, visibly); with
 * TSBPF_REQUIRE_KERNEL=1 a skip becomes a failure.
 */
import { existsSync } from 'node:fs';

export const kernelRequired = process.env.TSBPF_REQUIRE_KERNEL === '1';

let cached: string | null | undefined;

/** Why kernel tests cannot run here, or null when they can. */
export function kernelUnavailableReason(): string | null {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux') cached = 'not Linux';
  else if (typeof process.getuid === 'function' && process.getuid() !== 0) cached = 'not root';
  else if (!existsSync('/sys/kernel/btf/vmlinux')) cached = 'no /sys/kernel/btf/vmlinux';
  else cached = null;
  return cached;
}

/**
 * Call at the top of a kernel test (`function () { needKernel(this); ... }`)
 * or in a `before` hook: skips, or fails under TSBPF_REQUIRE_KERNEL=1.
 */
export function needKernel(ctx: Mocha.Context, extraReason?: string | null): void {
  const reason = extraReason ?? kernelUnavailableReason();
  if (reason === null) return;
  if (kernelRequired) throw new Error(`kernel test cannot run (${reason}) but TSBPF_REQUIRE_KERNEL=1`);
  ctx.skip();
}

/** A unique suffix for names of namespaces, interfaces, pins and cgroups. */
export function uniqueName(prefix: string): string {
  return `${prefix}${process.pid.toString(36)}${Math.floor(Math.random() * 0xffff).toString(36)}`.slice(0, 15);
}
