/**
 * Skipping a kernel test for a feature the running kernel lacks, by name:
 * the reason (feature, what it is, the release that brought it) goes into
 * the test's title, so the mocha report and the vm-test table show it.
 */
import { missingFeatureReason, type KernelFeature } from '../../src/kernel/feature-names.js';

/** Skips the current test (or the suite, from a `before` hook), putting `reason` in the title. */
export function skipBecause(ctx: Mocha.Context, reason: string): never {
  // From a `before` hook the whole suite skips: the reason goes on the suite, which every test's full title includes.
  const runnable = ctx.test as (Mocha.Runnable & { type?: string }) | undefined;
  const target = runnable?.type === 'hook' && /^"before all"/.test(runnable.title) ? runnable.parent : (ctx.currentTest ?? runnable);
  if (target && !target.title.includes('(skipped:')) target.title += ` (skipped: ${reason})`;
  ctx.skip();
}

/** Skips unless the kernel has every one of `features` (probed once per process). */
export function skipWithout(ctx: Mocha.Context, ...features: KernelFeature[]): void {
  for (const f of features) {
    const reason = missingFeatureReason(f);
    if (reason !== null) skipBecause(ctx, reason);
  }
}

/** Turns `features` off (TSBPF_FEATURES_OFF) until the result is disposed: `using _ = featuresOff('tcx')`. */
export function featuresOff(...features: KernelFeature[]): Disposable {
  const before = process.env.TSBPF_FEATURES_OFF;
  process.env.TSBPF_FEATURES_OFF = [before, ...features].filter((f) => f).join(',');
  return {
    [Symbol.dispose]() {
      if (before === undefined) delete process.env.TSBPF_FEATURES_OFF;
      else process.env.TSBPF_FEATURES_OFF = before;
    },
  };
}
