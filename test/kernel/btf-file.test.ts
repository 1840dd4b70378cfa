import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBtfFile } from '../../src/kernel/btf-file.js';
import { kernelBtf } from '../../src/kernel/kernel-symbols.js';
import { parseBtf } from '../../src/btf/index.js';

describe('kernel: reading /sys/kernel/btf files', function () {
  it('vmlinux: the same bytes as read(), in a plain Uint8Array of its own that is safe to write', function () {
    if (!existsSync('/sys/kernel/btf/vmlinux')) this.skip();
    const read = readFileSync('/sys/kernel/btf/vmlinux');
    const got = readBtfFile('/sys/kernel/btf/vmlinux');
    expect(got.constructor).to.equal(Uint8Array);
    expect(got.byteOffset).to.equal(0);
    expect(got.buffer.byteLength).to.equal(read.length);
    expect(Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.length), read)).to.equal(0);
    got.fill(0, 0, 16); // a copy: the (read-only) mapping is not written
    expect(Buffer.compare(Buffer.from(readBtfFile('/sys/kernel/btf/vmlinux')), read)).to.equal(0);
    expect(kernelBtf().findByName('task_struct', 'struct')).to.equal(parseBtf(read).findByName('task_struct', 'struct'));
  });

  it('a file that is not mapped (a sysfs note, a regular file, an empty one): the bytes read() gives', function () {
    if (existsSync('/sys/kernel/notes')) {
      expect(Buffer.from(readBtfFile('/sys/kernel/notes'))).to.deep.equal(readFileSync('/sys/kernel/notes'));
    }
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-btf-file-'));
    try {
      const data = Buffer.from(Array.from({ length: 10000 }, (_, i) => i & 0xff));
      writeFileSync(join(dir, 'plain'), data);
      writeFileSync(join(dir, 'empty'), '');
      expect(Buffer.from(readBtfFile(join(dir, 'plain')))).to.deep.equal(data);
      expect(readBtfFile(join(dir, 'empty')).length).to.equal(0);
      expect(() => readBtfFile(join(dir, 'missing'))).to.throw(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
