/** Compressing image layers: zstd when the tool is there (fast, small), else gzip from node's zlib. */
import { spawn } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { VmError } from './errors.js';
import { which } from './process.js';

export type Compression = 'zstd' | 'gzip';

/** zstd needs both the host tool and CONFIG_RD_ZSTD in every kernel that boots the layer. */
export function pickCompression(kernelsSupportZstd: boolean): Compression {
  return kernelsSupportZstd && which('zstd') !== null ? 'zstd' : 'gzip';
}

export async function compress(data: Uint8Array, how: Compression): Promise<Uint8Array> {
  if (how === 'gzip') return gzipSync(data, { level: 6 });
  const zstd = which('zstd');
  if (zstd === null) throw new VmError('NO_TOOL', "'zstd' is not installed (apt-get install zstd)");
  return new Promise((resolvePromise, reject) => {
    // --check: the kernel's decompressor verifies the checksum; -T0: all cores.
    const child = spawn(zstd, ['-q', '-c', '-T0', '-9', '--check'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', (e) => reject(new VmError('NO_TOOL', `cannot run zstd: ${e.message}`)));
    child.on('close', (code) => {
      if (code !== 0) reject(new VmError('IMAGE_FAILED', `zstd exited ${code}: ${err.trim()}`));
      else resolvePromise(new Uint8Array(Buffer.concat(out)));
    });
    child.stdin.end(data);
  });
}
