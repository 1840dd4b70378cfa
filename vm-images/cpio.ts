/**
 * A writer for the "newc" cpio format, the one the kernel unpacks into its
 * initial root file system. Pure: entries in, bytes out, so image layers are
 * deterministic (mtime 0, fixed inode numbers) and testable without tools.
 */

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  /** A character device node: /dev/console must exist before devtmpfs is mounted. */
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = 'TRAILER!!!';
const encoder = new TextEncoder();

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const pad4 = (n: number): number => (4 - (n % 4)) % 4;

/** Paths in the archive are relative ("bin/sh"), never absolute or with "..". */
export function normalizeArchivePath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new Error(`cpio path escapes the archive root: ${path}`);
  if (parts.length === 0) throw new Error('cpio path is empty');
  return parts.join('/');
}

function header(ino: number, mode: number, size: number, nameSize: number, rdev: [number, number]): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return `070701${[ino, mode, 0, 0, 1, 0, size, 0, 0, rdev[0], rdev[1], nameSize, 0].map(hex8).join('')}`;
}

/** Collects entries and serialises them; parent directories are added automatically. */
export class CpioWriter {
  private readonly chunks: Uint8Array[] = [];
  private readonly seen = new Set<string>();
  private nextIno = 1;
  private length = 0;

  get size(): number {
    return this.length;
  }

  add(entry: CpioEntry): void {
    const path = normalizeArchivePath(entry.path);
    this.addParents(path);
    if (this.seen.has(path)) {
      if (entry.kind === 'dir') return;
      throw new Error(`cpio path added twice: ${path}`);
    }
    this.seen.add(path);
    if (entry.kind === 'dir') this.push(path, S_IFDIR | (entry.mode ?? 0o755), new Uint8Array(0));
    else if (entry.kind === 'file') this.push(path, S_IFREG | (entry.mode ?? 0o644), entry.data);
    else if (entry.kind === 'symlink') this.push(path, S_IFLNK | 0o777, encoder.encode(entry.target));
    else this.push(path, S_IFCHR | (entry.mode ?? 0o600), new Uint8Array(0), [entry.major, entry.minor]);
  }

  has(path: string): boolean {
    return this.seen.has(normalizeArchivePath(path));
  }

  /** The archive with its trailer, padded to a multiple of 4 bytes. */
  finish(): Uint8Array {
    this.push(TRAILER, 0, new Uint8Array(0));
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.chunks.length = 0;
    return out;
  }

  private addParents(path: string): void {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!this.seen.has(dir)) {
        this.seen.add(dir);
        this.push(dir, S_IFDIR | 0o755, new Uint8Array(0));
      }
    }
  }

  private push(name: string, mode: number, data: Uint8Array, rdev: [number, number] = [0, 0]): void {
    const nameBytes = encoder.encode(`${name}\0`);
    const head = encoder.encode(header(name === TRAILER ? 0 : this.nextIno++, mode, data.length, nameBytes.length, rdev));
    const namePad = pad4(head.length + nameBytes.length);
    const dataPad = pad4(data.length);
    this.chunks.push(head, nameBytes, new Uint8Array(namePad), data, new Uint8Array(dataPad));
    this.length += head.length + nameBytes.length + namePad + data.length + dataPad;
  }
}
