import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpioWriter, normalizeArchivePath } from '../../vm-images/cpio.js';

interface ParsedEntry {
  name: string;
  mode: number;
  size: number;
  rdev: [number, number];
  data: Uint8Array;
}

/** An independent newc reader, to check the writer's framing and padding. */
function parseNewc(bytes: Uint8Array): ParsedEntry[] {
  const text = (a: number, n: number) => new TextDecoder().decode(bytes.subarray(a, a + n));
  const out: ParsedEntry[] = [];
  let at = 0;
  for (;;) {
    expect(text(at, 6)).to.equal('070701');
    const field = (i: number) => parseInt(text(at + 6 + i * 8, 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const rdev: [number, number] = [field(9), field(10)];
    const name = text(at + 110, nameSize - 1);
    let p = at + 110 + nameSize;
    p += (4 - (p % 4)) % 4;
    const data = bytes.subarray(p, p + size);
    p += size;
    p += (4 - (p % 4)) % 4;
    at = p;
    if (name === 'TRAILER!!!') break;
    out.push({ name, mode, size, rdev, data });
  }
  expect(at).to.equal(bytes.length);
  return out;
}

describe('vm: cpio newc writer', () => {
  it('writes files, symlinks, device nodes and their parent folders, 4-byte aligned', () => {
    const w = new CpioWriter();
    w.add({ kind: 'file', path: '/usr/bin/tool', data: new TextEncoder().encode('hello'), mode: 0o755 });
    w.add({ kind: 'symlink', path: 'bin/sh', target: 'busybox' });
    w.add({ kind: 'chardev', path: 'dev/console', major: 5, minor: 1 });
    w.add({ kind: 'dir', path: 'usr' }); // already there: no second entry
    const bytes = w.finish();
    expect(bytes.length % 4).to.equal(0);
    const entries = parseNewc(bytes);
    expect(entries.map((e) => e.name)).to.deep.equal(['usr', 'usr/bin', 'usr/bin/tool', 'bin', 'bin/sh', 'dev', 'dev/console']);
    const tool = entries.find((e) => e.name === 'usr/bin/tool')!;
    expect(tool.mode).to.equal(0o100755);
    expect(new TextDecoder().decode(tool.data)).to.equal('hello');
    expect(new TextDecoder().decode(entries.find((e) => e.name === 'bin/sh')!.data)).to.equal('busybox');
    const consoleNode = entries.find((e) => e.name === 'dev/console')!;
    expect(consoleNode.mode & 0o170000).to.equal(0o020000);
    expect(consoleNode.rdev).to.deep.equal([5, 1]);
  });

  it('is read back by the cpio tool', function () {
    if (spawnSync('cpio', ['--version']).status !== 0) this.skip();
    const w = new CpioWriter();
    w.add({ kind: 'file', path: 'a/b.txt', data: new TextEncoder().encode('x'.repeat(1001)) });
    w.add({ kind: 'symlink', path: 'a/link', target: 'b.txt' });
    const dir = mkdtempSync(join(tmpdir(), 'vm-cpio-'));
    try {
      const r = spawnSync('cpio', ['-i', '-d', '--quiet'], { cwd: dir, input: w.finish() });
      expect(r.status, r.stderr.toString()).to.equal(0);
      expect(readFileSync(join(dir, 'a/b.txt'), 'utf8')).to.equal('x'.repeat(1001));
      expect(readlinkSync(join(dir, 'a/link'))).to.equal('b.txt');
      expect(statSync(join(dir, 'a')).isDirectory()).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects paths that escape the root, empty paths and duplicates', () => {
    expect(() => normalizeArchivePath('../etc/passwd')).to.throw(/escapes/);
    expect(() => normalizeArchivePath('a/../../b')).to.throw(/escapes/);
    expect(() => normalizeArchivePath('/')).to.throw(/empty/);
    expect(normalizeArchivePath('/./a//b/')).to.equal('a/b');
    const w = new CpioWriter();
    w.add({ kind: 'file', path: 'x', data: new Uint8Array(1) });
    expect(() => w.add({ kind: 'file', path: '/x', data: new Uint8Array(1) })).to.throw(/twice/);
  });
});
