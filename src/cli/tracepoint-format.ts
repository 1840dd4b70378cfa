/**
 * The compiler host's tracepoint formats: tracefs's events/<group>/<name>/format.
 * Without the syscall layer, so that the compiler's start-up snapshot reads
 * formats the same way the CLI does.
 */
import { readFileSync } from 'node:fs';

/** A group and name that can be looked up (no path characters). */
export const isTracepointName = (group: string, name: string): boolean => /^[\w-]+$/.test(group) && /^[\w-]+$/.test(name);

/** The format under a tracefs mount point; undefined when there is no such tracepoint, or why it cannot be read. */
export function readTracepointFormat(root: string, group: string, name: string): string | undefined | { unavailable: string } {
  const path = `${root}/events/${group}/${name}/format`;
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      return { unavailable: `permission denied reading ${path}: tracefs is readable by root only, so run as root (sudo)` };
    }
    return undefined; // no such tracepoint
  }
}

/** Reads a source file; undefined when it cannot be read. */
export function readSourceFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
