/**
 * A C toolchain for the guest, copied from the host's Debian packages: some
 * kernel tests build their probe targets with gcc at run time (uprobes) and
 * read symbols with nm. The packages are the ones that own gcc, cc1, as, ld,
 * nm, the C runtime objects, libgcc and the libc and Linux headers; their
 * files (less docs and LTO, which nobody uses in the guest) go in at the
 * same paths, with the shared libraries the programs need.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { compress, type Compression } from './compress.js';
import { CpioWriter } from './cpio.js';
import { sharedLibraries } from './libs.js';
import { imageDir, writeFileAtomic } from './paths.js';
import { capture, which } from './process.js';

const say = (msg: string): void => void process.stderr.write(`vm: ${msg}\n`);

/** Paths whose owning packages make up the toolchain, found by asking gcc where its parts are. */
function anchorPaths(gcc: string): string[] {
  const ask = (arg: string): string | null => {
    const r = capture(gcc, [arg]);
    const p = resolve(r.stdout.trim()); // gcc answers with ../.. in the path; dpkg knows the plain one
    return r.status === 0 && r.stdout.trim().startsWith('/') && existsSync(p) ? p : null;
  };
  const paths = [gcc, ask('-print-prog-name=cc1'), ask('-print-prog-name=collect2'), ask('-print-file-name=crt1.o'), ask('-print-libgcc-file-name')];
  for (const tool of ['as', 'ld', 'nm']) paths.push(which(tool));
  paths.push('/usr/include/stdio.h', '/usr/include/linux/types.h');
  const out = new Set<string>();
  for (const p of paths) {
    if (p === null || !existsSync(p)) continue;
    out.add(p);
    try {
      out.add(join(dirname(p), readlinkSync(p))); // /usr/bin/gcc -> gcc-12: both owners count
    } catch {
      // not a symlink
    }
  }
  return [...out];
}

/** Package names from `dpkg -S` output ("pkg[:arch][, pkg2]: /path"). */
export function packagesFromDpkgSearch(output: string): string[] {
  const names = new Set<string>();
  for (const line of output.split('\n')) {
    const m = /^(\S.*?):\s+\//.exec(line);
    if (!m || line.startsWith('diversion')) continue;
    for (const n of m[1]!.split(',')) names.add(n.trim().replace(/:[a-z0-9]+$/, ''));
  }
  return [...names].sort();
}

/** Files the guest does not need: docs, and link-time optimisation (large, unused). */
export function isToolchainFile(path: string): boolean {
  return !/^\/usr\/share\/(doc|man|info|locale|lintian|bug|gcc\/python)\//.test(path) && !/(lto1|lto-dump[-\d]*)$/.test(path);
}

/** The toolchain layer (cached by package versions), or null when the host has no gcc/dpkg. */
export async function toolchainLayer(compression: Compression): Promise<string | null> {
  const gcc = which('gcc');
  if (gcc === null || which('dpkg') === null) return null;
  const search = capture('dpkg', ['-S', ...anchorPaths(gcc)]);
  const packages = packagesFromDpkgSearch(search.stdout);
  if (packages.length === 0) return null;
  const versions = capture('dpkg-query', ['-W', '-f', '${Package} ${Version}\\n', ...packages]).stdout;
  const key = createHash('sha256').update(`${compression}\n${versions}`).digest('hex').slice(0, 16);
  const out = join(imageDir(), `toolchain-${key}.cpio.${compression === 'zstd' ? 'zst' : 'gz'}`);
  if (existsSync(out)) return out;

  const started = Date.now();
  say(`building the C toolchain layer from ${packages.join(' ')}`);
  const w = new CpioWriter();
  const executables: string[] = [];
  let bytes = 0;
  for (const pkg of packages) {
    for (const path of capture('dpkg', ['-L', pkg]).stdout.split('\n')) {
      if (!path.startsWith('/') || path === '/.' || !isToolchainFile(path)) continue;
      let st;
      try {
        st = lstatSync(path);
      } catch {
        continue; // listed but removed on this host
      }
      if (w.has(path)) continue;
      if (st.isSymbolicLink()) w.add({ kind: 'symlink', path, target: readlinkSync(path) });
      else if (st.isDirectory()) w.add({ kind: 'dir', path });
      else if (st.isFile()) {
        const data = readFileSync(path);
        bytes += data.length;
        w.add({ kind: 'file', path, data, mode: st.mode & 0o777 });
        const elf = data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46;
        if (elf && (st.mode & 0o111) !== 0) executables.push(path);
      }
    }
  }
  // Libraries of the toolchain's programs that the runtime layer may not have (libisl, libmpfr, libbfd...).
  for (const lib of sharedLibraries(executables)) {
    if (!w.has(lib)) {
      const data = readFileSync(lib);
      bytes += data.length;
      w.add({ kind: 'file', path: lib, data, mode: statSync(lib).mode & 0o777 });
    }
  }
  const packed = await compress(w.finish(), compression);
  mkdirSync(dirname(out), { recursive: true });
  writeFileAtomic(out, packed);
  say(`toolchain layer: ${(bytes / 1e6).toFixed(1)} MB of files, ${(packed.length / 1e6).toFixed(1)} MB packed, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return out;
}
