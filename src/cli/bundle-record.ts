/**
 * The bundles `npm run build` makes from the package's own files (the CLI's,
 * dist/cli/tsbpf-cli-<command>.js and tsbpf-cli.js, and the compiler
 * snapshot's script, dist/cli/compiler-snapshot.cjs) each carry a record of what they were made
 * from: <bundle>.inputs.json, with every file of the package that went into
 * the bundle and every file the bundle is made of, each with its size, and
 * the bundle's sha256.
 *
 * A bundle is used only while it is current: every recorded file is there,
 * has its recorded size and is not newer than the record (written last, as
 * make compares). A file rebuilt since (tsc run alone, an edited file under
 * src/) makes the bundle stale and the caller goes the unbundled way (the
 * CLI imports dist/ module by module; a compile runs in the CLI's process),
 * so a stale bundle never runs. Files under node_modules are not recorded:
 * the bundle holds their code, and an installed package finds its
 * dependencies elsewhere. Only stat() per file: the CLI checks before every
 * command. Node built-ins only, since bin.js imports this before anything.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative } from 'node:path';

export interface BundleRecord {
  /** sha256 of the bundle's entry file, in hex. */
  sha256: string;
  /** Each recorded file, relative to the bundle's directory, with its size in bytes. */
  files: Record<string, number>;
}

const recordPath = (bundle: string): string => `${bundle}.inputs.json`;

/**
 * Writes the record of a bundle just built from `files` (its inputs and its
 * outputs, absolute paths; those under node_modules are left out). Called by
 * scripts/bundle.mjs, after everything it records has been written.
 */
export function writeBundleRecord(bundle: string, files: readonly string[], sha256: string): void {
  const dir = dirname(bundle);
  const record: BundleRecord = { sha256, files: {} };
  for (const f of [...new Set(files)].sort()) {
    if (!isAbsolute(f)) throw new Error(`bundle record: ${f} is not an absolute path`);
    if (/[\\/]node_modules[\\/]/.test(f) || f.endsWith('.map')) continue; // source maps only serve stacks
    record.files[relative(dir, f)] = statSync(f).size;
  }
  writeFileSync(recordPath(bundle), `${JSON.stringify(record, null, 1)}\n`);
}

/** The bundle's record when the bundle is current (see above); undefined when it is missing, stale or its record is unreadable. */
export function currentBundle(bundle: string): BundleRecord | undefined {
  const path = recordPath(bundle);
  let record: BundleRecord;
  let written: number;
  try {
    written = statSync(path).mtimeMs;
    record = JSON.parse(readFileSync(path, 'utf8')) as BundleRecord;
  } catch {
    return undefined;
  }
  if (typeof record?.sha256 !== 'string' || typeof record.files !== 'object' || record.files === null) return undefined;
  // Joined, not resolve()d: the kernel follows the '..', and ~300 resolve() calls cost 4 MB of young heap.
  const dir = `${dirname(bundle)}/`;
  for (const file in record.files) {
    const st = statSync(dir + file, { throwIfNoEntry: false });
    if (!st || st.size !== record.files[file] || st.mtimeMs > written) return undefined;
  }
  return record;
}
