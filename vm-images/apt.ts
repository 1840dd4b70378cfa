/**
 * Downloading a kernel package with apt, but with a private configuration
 * (its own sources list, package lists and cache under vm-images/cache/apt),
 * so the host's apt state is never read for pins nor changed.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VmError } from './errors.js';
import { archives, type KernelSpec } from './kernels.js';
import { aptDir } from './paths.js';
import { capture, requireTool, runVisible } from './process.js';

const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** The sources.list text for a kernel's suites; TSBPF_VM_MIRROR replaces the Debian mirror (tests, offline mirrors). */
export function sourcesList(spec: KernelSpec, mirror = process.env.TSBPF_VM_MIRROR): string {
  return spec.suites
    .map((suite) => {
      const base = archives[suite];
      if (base === undefined) throw new VmError('BAD_USAGE', `kernel ${spec.name}: suite '${suite}' has no archive in vm-images/kernels.ts`);
      const url = mirror ? `${mirror.replace(/\/+$/, '')}${base.endsWith('-security') ? '-security' : ''}` : base;
      return `deb [signed-by=${KEYRING}] ${url} ${suite} main\n`;
    })
    .join('');
}

/** apt options that point every piece of state at the private folder. */
export function aptOptions(dir: string): string[] {
  const o = (k: string, v: string) => ['-o', `${k}=${v}`];
  return [
    ...o('Dir::Etc::sourcelist', join(dir, 'sources.list')),
    ...o('Dir::Etc::sourceparts', join(dir, 'sources.list.d')),
    ...o('Dir::Etc::preferences', join(dir, 'preferences')),
    ...o('Dir::Etc::preferencesparts', join(dir, 'preferences.d')),
    ...o('Dir::State::Lists', join(dir, 'lists')),
    ...o('Dir::State::status', join(dir, 'status')),
    ...o('Dir::Cache', join(dir, 'cache')),
    ...o('APT::Sandbox::User', 'root'),
    ...o('Acquire::Retries', '1'),
    ...o('Acquire::http::Timeout', '20'),
    ...o('Debug::NoLocking', '1'),
  ];
}

function prepare(spec: KernelSpec): string {
  const dir = aptDir(spec.name);
  for (const sub of ['lists/partial', 'cache/archives/partial', 'sources.list.d', 'preferences.d']) {
    mkdirSync(join(dir, sub), { recursive: true });
  }
  writeFileSync(join(dir, 'sources.list'), sourcesList(spec));
  writeFileSync(join(dir, 'preferences'), '');
  writeFileSync(join(dir, 'status'), '');
  return dir;
}

/** Reads the first linux-image package named in a `Depends:` line of `apt-cache show` output. */
export function imagePackageFromShow(showOutput: string): { name: string; version: string } | null {
  for (const line of showOutput.split('\n')) {
    if (!line.startsWith('Depends:')) continue;
    const m = /(linux-image-[a-z0-9.+~-]+)\s*\(\s*=\s*([^)\s]+)\s*\)/.exec(line);
    if (m) return { name: m[1]!, version: m[2]! };
  }
  return null;
}

/** Refreshes the private package lists and resolves the kernel's image package. */
export async function resolveImagePackage(spec: KernelSpec): Promise<{ name: string; version: string; aptDir: string }> {
  const aptGet = requireTool('apt-get', 'apt');
  const aptCache = requireTool('apt-cache', 'apt');
  const dir = prepare(spec);
  try {
    return { ...(await resolveIn(dir, spec, aptGet, aptCache)), aptDir: dir };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function resolveIn(dir: string, spec: KernelSpec, aptGet: string, aptCache: string): Promise<{ name: string; version: string }> {
  process.stderr.write(`vm: updating package lists for kernel ${spec.name} (${spec.suites.join(', ')})\n`);
  const status = await runVisible(aptGet, [...aptOptions(dir), '-q', 'update']);
  if (status !== 0) {
    throw new VmError(
      'FETCH_FAILED',
      `cannot fetch Debian's package lists for kernel ${spec.name} (apt-get update exited ${status}); is the network or the mirror reachable?`,
    );
  }
  // apt-get update exits 0 when an index could not be fetched ("W: Failed to fetch"): check each suite's list is there.
  const lists = readdirSync(join(dir, 'lists'));
  const missing = spec.suites.filter((suite) => !lists.some((f) => f.includes(`_dists_${suite}_`) && /_Packages(\.\w+)?$/.test(f)));
  if (missing.length > 0) {
    throw new VmError(
      'FETCH_FAILED',
      `cannot fetch Debian's package lists for ${missing.join(', ')} (kernel ${spec.name}): no network, or the mirror is unreachable (see apt's messages above)`,
    );
  }
  const show = capture(aptCache, [...aptOptions(dir), 'show', '--no-all-versions', spec.metaPackage]);
  const pkg = show.status === 0 ? imagePackageFromShow(show.stdout) : null;
  if (pkg === null) {
    throw new VmError(
      'FETCH_FAILED',
      `no package ${spec.metaPackage} with a linux-image dependency in ${spec.suites.join(', ')} for kernel ${spec.name}` +
        (show.stderr.trim() ? `: ${show.stderr.trim()}` : ''),
    );
  }
  return pkg;
}

/** Downloads one package into `into` (apt shows its own progress), returning nothing; failures are FETCH_FAILED. */
export async function downloadPackage(aptDirPath: string, name: string, version: string, into: string): Promise<void> {
  const aptGet = requireTool('apt-get', 'apt');
  mkdirSync(into, { recursive: true });
  process.stderr.write(`vm: downloading ${name} ${version}\n`);
  const status = await runVisible(aptGet, [...aptOptions(aptDirPath), 'download', `${name}=${version}`], { cwd: into });
  if (status !== 0) throw new VmError('FETCH_FAILED', `cannot download ${name} ${version} (apt-get download exited ${status})`);
}
