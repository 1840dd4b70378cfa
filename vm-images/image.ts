/**
 * The guest's initramfs, in layers the kernel unpacks one after the other
 * (concatenated cpio archives):
 *   runtime   busybox, node and its libraries, node_modules, /init — cached, rebuilt when an input changes
 *   modules   the kernel modules of one kernel — cached per kernel package version
 *   project   this checkout's sources, tests, examples, dist — rebuilt for every run (small)
 *   run       the command and environment of this one boot
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { compress, type Compression } from './compress.js';
import { CpioWriter } from './cpio.js';
import { VmError } from './errors.js';
import type { CachedKernel } from './kernel-store.js';
import { sharedLibraries } from './libs.js';
import { collectModules, guestModules } from './modules.js';
import { isRuntimeFile, packageClosure } from './node-modules.js';
import { guestDir, imageDir, projectDir, writeFileAtomic } from './paths.js';
import { needsTranspile, transpile } from './transpile.js';
import { capture, requireTool, which } from './process.js';

/** Where the project lives in the guest; the command runs there. */
export const GUEST_PROJECT = '/work/tsbpf';
/** Host tools copied in when present, ahead of busybox's smaller applets on PATH: the kernel tests call them. */
const OPTIONAL_TOOLS = ['ip', 'tc', 'bpftool', 'setpriv', 'unshare'];
/** Folders and files of the checkout the guest gets. */
const PROJECT_ENTRIES = ['README.md', 'package.json', 'tsconfig.json', 'tsconfig.build.json', '.mocharc.json', 'src', 'test', 'examples', 'bpf-tests', 'dist', 'vm-images'];
const LAYER_FORMAT = 7; // bump when what goes into a layer changes

const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;
const say = (msg: string): void => void process.stderr.write(`vm: ${msg}\n`);

/** Adds a host folder's files under `guestPath`, keeping symlinks; `keep` filters by path relative to `hostDir`; `twin` may add a derived file beside each. */
export function addTree(
  w: CpioWriter,
  hostDir: string,
  guestPath: string,
  keep: (rel: string) => boolean = () => true,
  twin?: (rel: string, data: Uint8Array) => { suffix: string; data: Uint8Array } | null,
): number {
  let bytes = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const host = join(dir, e.name);
      const rel = relative(hostDir, host);
      if (e.name === '.git' || e.name === 'node_modules' || !keep(rel)) continue;
      const guest = `${guestPath}/${rel}`;
      if (e.isSymbolicLink()) w.add({ kind: 'symlink', path: guest, target: readlinkSync(host) });
      else if (e.isDirectory()) {
        w.add({ kind: 'dir', path: guest });
        walk(host);
      } else if (e.isFile()) {
        const data = readFileSync(host);
        bytes += data.length;
        w.add({ kind: 'file', path: guest, data, mode: statSync(host).mode & 0o777 });
        const derived = twin?.(rel, data);
        if (derived && !existsSync(`${host.slice(0, -3)}${derived.suffix}`)) w.add({ kind: 'file', path: `${guest.slice(0, -3)}${derived.suffix}`, data: derived.data });
      }
    }
  };
  walk(hostDir);
  return bytes;
}

function addHostFile(w: CpioWriter, hostPath: string, guestPath: string, mode = 0o755): number {
  if (w.has(guestPath)) return 0;
  const data = readFileSync(realpathSync(hostPath));
  w.add({ kind: 'file', path: guestPath, data, mode });
  return data.length;
}

/** The host binaries the runtime layer carries. */
function hostBinaries(): { busybox: string; node: string; tools: Record<string, string> } {
  const busybox = requireTool('busybox', 'busybox-static');
  const file = capture(busybox, ['--help']);
  if (file.status > 1) throw new VmError('NO_TOOL', `busybox does not run: ${file.stderr}`);
  const node = realpathSync(process.execPath);
  const tools: Record<string, string> = {};
  for (const t of OPTIONAL_TOOLS) {
    const p = which(t) ?? (existsSync(`/usr/sbin/${t}`) ? `/usr/sbin/${t}` : null);
    if (p !== null) tools[t] = p;
  }
  return { busybox, node, tools };
}

function fingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

const statKey = (p: string): string => {
  try {
    const s = statSync(p);
    return `${p}:${s.size}:${Math.round(s.mtimeMs)}`;
  } catch {
    return `${p}:missing`;
  }
};

const fileHash = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Builds (or reuses) the runtime layer; returns its path. */
export async function runtimeLayer(compression: Compression, includeDev = true): Promise<string> {
  const bins = hostBinaries();
  const packages = packageClosure(projectDir, includeDev);
  const key = fingerprint({
    LAYER_FORMAT,
    compression,
    includeDev,
    bins: [bins.busybox, bins.node, ...Object.values(bins.tools)].map(statKey),
    lock: [join(projectDir, 'package-lock.json'), join(projectDir, 'node_modules/.package-lock.json')].map(statKey),
    packages: packages.map((p) => relative(projectDir, p)),
    guest: ['init.sh', 'npx.sh'].map((f) => fileHash(join(guestDir, f))),
  });
  const out = join(imageDir(), `runtime-${key}.cpio.${compression === 'zstd' ? 'zst' : 'gz'}`);
  if (existsSync(out)) return out;

  const started = Date.now();
  say(`building the runtime layer (busybox, node, node_modules) → ${relative(projectDir, out)}`);
  const w = new CpioWriter();
  for (const d of ['proc', 'sys', 'dev', 'run', 'root', 'mnt', 'etc', 'usr/local/bin', 'usr/sbin', 'sbin']) w.add({ kind: 'dir', path: d });
  w.add({ kind: 'dir', path: 'tmp', mode: 0o1777 }); // tests drop privileges (setpriv) and still write to /tmp
  w.add({ kind: 'chardev', path: 'dev/console', major: 5, minor: 1 });
  w.add({ kind: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 });
  w.add({ kind: 'symlink', path: 'var/run', target: '../run' }); // ip netns keeps its files in /var/run/netns
  w.add({ kind: 'dir', path: 'var/tmp', mode: 0o1777 });
  w.add({ kind: 'file', path: 'init', data: readFileSync(join(guestDir, 'init.sh')), mode: 0o755 });
  w.add({ kind: 'file', path: 'usr/local/bin/npx', data: readFileSync(join(guestDir, 'npx.sh')), mode: 0o755 });
  w.add({ kind: 'file', path: 'etc/passwd', data: new TextEncoder().encode('root:x:0:0:root:/root:/bin/sh\n') });
  w.add({ kind: 'file', path: 'etc/group', data: new TextEncoder().encode('root:x:0:\n') });
  w.add({ kind: 'file', path: 'etc/hosts', data: new TextEncoder().encode('127.0.0.1 localhost\n::1 localhost\n') });

  let bytes = addHostFile(w, bins.busybox, 'bin/busybox');
  const applets = capture(bins.busybox, ['--list-full']);
  if (applets.status !== 0) throw new VmError('NO_TOOL', `busybox --list-full failed: ${applets.stderr}`);
  for (const applet of applets.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '')) {
    if (applet === 'bin/busybox' || w.has(applet)) continue;
    const depth = applet.split('/').length - 1;
    w.add({ kind: 'symlink', path: applet, target: `${'../'.repeat(depth)}bin/busybox` });
  }
  bytes += addHostFile(w, bins.node, 'usr/bin/node');
  for (const [name, path] of Object.entries(bins.tools)) bytes += addHostFile(w, path, `usr/sbin/${name}`);

  const nativeAddons: string[] = [];
  let moduleBytes = 0;
  for (const pkg of packages) {
    const guest = `${GUEST_PROJECT.slice(1)}/${relative(projectDir, pkg)}`;
    moduleBytes += addTree(w, pkg, guest, (rel) => isRuntimeFile(rel));
    const findAddons = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) findAddons(join(dir, e.name));
        else if (e.name.endsWith('.node') && isRuntimeFile(relative(pkg, join(dir, e.name)))) nativeAddons.push(join(dir, e.name));
      }
    };
    findAddons(pkg);
  }
  // node_modules/.bin entries of the packages that are in the image, so `npx mocha` works.
  const binDir = join(projectDir, 'node_modules/.bin');
  if (existsSync(binDir)) {
    for (const e of readdirSync(binDir)) {
      const link = join(binDir, e);
      if (!lstatSync(link).isSymbolicLink() || !existsSync(link)) continue;
      const target = realpathSync(link);
      if (packages.some((p) => target.startsWith(`${p}/`))) {
        w.add({ kind: 'symlink', path: `${GUEST_PROJECT.slice(1)}/node_modules/.bin/${e}`, target: readlinkSync(link) });
      }
    }
  }
  bytes += moduleBytes;

  const libraries = sharedLibraries([bins.node, ...Object.values(bins.tools), ...nativeAddons]);
  for (const lib of libraries) bytes += addHostFile(w, lib, lib.slice(1));
  const iproute2Config = ['/usr/share/iproute2', '/etc/iproute2'].find((d) => existsSync(d));
  if (iproute2Config) bytes += addTree(w, iproute2Config, iproute2Config.slice(1));

  const archive = w.finish();
  say(`runtime layer: ${packages.length} packages (${mb(moduleBytes)}), ${libraries.length} libraries, ${mb(archive.length)} uncompressed; compressing with ${compression}`);
  const packed = await compress(archive, compression);
  mkdirSync(dirname(out), { recursive: true });
  writeFileAtomic(out, packed);
  say(`runtime layer: ${mb(packed.length)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return out;
}

/** Builds (or reuses) the modules layer of one kernel. */
export function modulesLayer(kernel: CachedKernel, wanted: readonly string[] = guestModules): string {
  const out = join(imageDir(), `modules-${kernel.name}-${fingerprint({ LAYER_FORMAT, v: kernel.packageVersion, r: kernel.release, wanted })}.cpio.gz`);
  if (existsSync(out)) return out;
  const { modules, missing } = collectModules(kernel.modulesDir, wanted);
  if (missing.length > 0) say(`kernel ${kernel.name} has no module ${missing.join(', ')} (not built for this kernel); left out`);
  const w = new CpioWriter();
  const base = `lib/modules/${kernel.release}/tsbpf`;
  w.add({ kind: 'dir', path: base });
  for (const m of modules) w.add({ kind: 'file', path: `${base}/${m.name}.ko`, data: m.data });
  w.add({ kind: 'file', path: `${base}/load-order`, data: new TextEncoder().encode(modules.map((m) => `${m.name}\n`).join('')) });
  // The loader resolves .kconfig externs from /boot/config-$(uname -r), as on a Debian host.
  if (existsSync(kernel.config)) w.add({ kind: 'file', path: `boot/config-${kernel.release}`, data: readFileSync(kernel.config) });
  mkdirSync(dirname(out), { recursive: true });
  writeFileAtomic(out, gzipSync(w.finish(), { level: 6 }));
  say(`modules layer for ${kernel.name}: ${modules.map((m) => m.name).join(' ') || '(none)'}`);
  return out;
}

/** A .js twin for each TypeScript source, so the guest runs plain node (see transpile.ts). */
const jsTwin = (rel: string, data: Uint8Array): { suffix: string; data: Uint8Array } | null =>
  needsTranspile(rel) ? { suffix: '.js', data: new TextEncoder().encode(transpile(new TextDecoder().decode(data), rel)) } : null;

/** The project layer: this checkout as it is now (and ../shared, which tests read conformance data from). */
export function projectLayer(): Uint8Array {
  const w = new CpioWriter();
  const g = GUEST_PROJECT.slice(1);
  w.add({ kind: 'dir', path: g });
  for (const entry of PROJECT_ENTRIES) {
    const host = join(projectDir, entry);
    if (!existsSync(host)) continue;
    // vm-images/cache holds the kernels and this very image: never inside the guest.
    const twin = entry === 'src' || entry === 'test' || entry === 'vm-images' ? jsTwin : undefined;
    if (statSync(host).isDirectory()) addTree(w, host, `${g}/${entry}`, (rel) => entry !== 'vm-images' || !/^cache(\/|$)/.test(rel), twin);
    else w.add({ kind: 'file', path: `${g}/${entry}`, data: readFileSync(host) });
  }
  const shared = join(projectDir, '../shared');
  if (existsSync(shared)) addTree(w, shared, `${dirname(GUEST_PROJECT).slice(1)}/shared`);
  return gzipSync(w.finish(), { level: 1 });
}

/** Single-quotes a value for the guest's sh. */
export const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export interface RunSpec {
  mode: 'run' | 'test' | 'shell';
  command: string;
  env: Record<string, string>;
}

/** The run layer: /tsbpf-vm/cmd and /tsbpf-vm/env. */
export function runLayer(spec: RunSpec): Uint8Array {
  for (const k of Object.keys(spec.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new VmError('BAD_USAGE', `not a valid environment variable name for the guest: ${k}`);
  }
  // TSBPF_VM=1 tells tests they run in a dev VM (under emulation, slower: allow for it in timeouts).
  // Node's SIGSEGV handler (for WebAssembly traps, which nothing here uses) re-raises the signal, and the kernel
  // then logs no "segfault at … ip … in LIB" line: without it a crash under TCG says where (vm-images/RESULTS.md).
  const env = { TSBPF_VM: '1', TSBPF_VM_MODE: spec.mode, TSBPF_VM_CWD: GUEST_PROJECT, NODE_OPTIONS: '--disable-wasm-trap-handler', ...spec.env };
  const w = new CpioWriter();
  const enc = new TextEncoder();
  w.add({ kind: 'file', path: 'tsbpf-vm/env', data: enc.encode(Object.entries(env).map(([k, v]) => `export ${k}=${shQuote(v)}\n`).join('')) });
  w.add({ kind: 'file', path: 'tsbpf-vm/cmd', data: enc.encode(`${spec.command}\n`), mode: 0o755 });
  return w.finish();
}

/** Concatenates layers into one initrd file (each padded to 4 bytes, which the kernel skips). */
export function writeInitrd(path: string, layers: Array<string | Uint8Array>): number {
  const parts = layers.map((l) => (typeof l === 'string' ? new Uint8Array(readFileSync(l)) : l));
  const padded = parts.map((p) => p.length + ((4 - (p.length % 4)) % 4));
  const out = new Uint8Array(padded.reduce((a, b) => a + b, 0));
  let at = 0;
  parts.forEach((p, i) => {
    out.set(p, at);
    at += padded[i]!;
  });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, out);
  return out.length;
}
