/**
 * Where the bpf_conformance programs are. They are not part of this
 * repository: CI provides them beside the checkout (../shared/conformance)
 * or through TSBPF_CONFORMANCE_DIR. A clone with nothing beside it skips the
 * suites that need them, saying where to get them; a TSBPF_CONFORMANCE_DIR
 * that is set but missing is a failure (CI sets it so a lost folder is seen).
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const fromEnv = process.env.TSBPF_CONFORMANCE_DIR?.replace(/\/$/, '');
/** The folder of `*.data` files, with a trailing slash. */
export const conformanceDir = `${fromEnv ?? fileURLToPath(new URL('../../../shared/conformance/tests', import.meta.url))}/`;

/** The `.data` file names, sorted; empty when the folder is missing. */
export const conformanceFiles: string[] = (() => {
  try {
    return readdirSync(conformanceDir).filter((f) => f.endsWith('.data')).sort();
  } catch {
    return [];
  }
})();

export const conformanceMissing =
  conformanceFiles.length === 0
    ? `the bpf_conformance programs are not at ${conformanceDir}: clone github.com/Alan-Jowett/bpf_conformance ` +
      `and set TSBPF_CONFORMANCE_DIR=<clone>/tests (or put its tests/ at ../shared/conformance/tests beside this checkout)`
    : undefined;

let said = false;
/**
 * Skips a suite (call in `before`) when the programs are missing, printing
 * once where to get them; fails when TSBPF_CONFORMANCE_DIR names a missing folder.
 */
export function needConformance(ctx: Mocha.Context): void {
  if (conformanceMissing === undefined) return;
  if (fromEnv !== undefined) throw new Error(`TSBPF_CONFORMANCE_DIR is set but ${conformanceMissing}`);
  if (!said) process.stdout.write(`      (skipped: ${conformanceMissing})\n`);
  said = true;
  ctx.skip();
}
