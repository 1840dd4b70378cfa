/**
 * The sha256 the build cache keys and checks by, and the record of the files
 * a compile read, each with the hash of its text: a cache entry is fresh
 * while every file still hashes the same. The CLI and the compiler's start-up
 * snapshot record reads with this one function, so their records agree.
 */
import { createHash } from 'node:crypto';

/** sha256 of a text (or bytes), in hex. */
export const sha256 = (s: string | Uint8Array): string => createHash('sha256').update(s).digest('hex');

/**
 * `read`, recording in `files` each file it could read with the hash of its text.
 * @example
 * const files: Record<string, string> = {};
 * const host = { ...nodeHost, readFile: recordingReads(nodeHost.readFile, files) };
 */
export function recordingReads(read: (path: string) => string | undefined, files: Record<string, string>): (path: string) => string | undefined {
  return (path) => {
    const text = read(path);
    if (text !== undefined) files[path] = sha256(text);
    return text;
  };
}
