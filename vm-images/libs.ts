/** The shared libraries a host binary needs in the guest, found with ldd. */
import { VmError } from './errors.js';
import { capture, requireTool } from './process.js';

/** Absolute library paths named in `ldd` output (the loader included, the vDSO not). */
export function parseLdd(output: string): string[] {
  const paths = new Set<string>();
  for (const line of output.split('\n')) {
    const arrow = /=>\s*(\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+)\s+\(0x/.exec(line);
    const path = arrow?.[1] ?? bare?.[1];
    if (path !== undefined) paths.add(path);
  }
  return [...paths];
}

/** ldd of each binary (statically linked ones have none), de-duplicated. */
export function sharedLibraries(binaries: string[]): string[] {
  const ldd = requireTool('ldd', 'libc-bin');
  const all = new Set<string>();
  for (const bin of binaries) {
    const r = capture(ldd, [bin]);
    const text = r.stdout + r.stderr;
    if (r.status !== 0 && !/not a dynamic executable|statically linked/.test(text)) {
      throw new VmError('IMAGE_FAILED', `ldd ${bin} failed: ${text.trim()}`);
    }
    if (/not found/.test(r.stdout)) throw new VmError('IMAGE_FAILED', `ldd ${bin}: a library is missing on the host:\n${r.stdout}`);
    for (const p of parseLdd(r.stdout)) all.add(p);
  }
  return [...all];
}
