/**
 * Kernel modules for the guest, taken from the same kernel package: the
 * cloud kernels build veth, the tc classifiers and others as modules. The
 * package has no modules.dep (depmod runs at install), so dependencies are
 * read from each module's own `depends=` modinfo string, and compressed
 * modules are decompressed here so busybox insmod can load them.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VmError } from './errors.js';
import { requireTool } from './process.js';
import { spawnSync } from 'node:child_process';

/** What tests need beyond the built-in kernel: veth pairs, dummy devices, tc (clsact, cls_bpf, act_bpf), tun. */
export const guestModules = ['veth', 'dummy', 'tun', 'sch_ingress', 'cls_bpf', 'act_bpf'];

const canonical = (name: string): string => name.replace(/-/g, '_');
const moduleName = (file: string): string | null => {
  const m = /^(.*)\.ko(\.xz|\.zst|\.gz)?$/.exec(file);
  return m ? canonical(m[1]!) : null;
};

/** The `depends=` list in a module's .modinfo strings. */
export function modinfoDepends(ko: Uint8Array): string[] {
  const text = new TextDecoder('latin1').decode(ko);
  const m = /(?:^|\0)depends=([^\0]*)\0/.exec(text);
  if (!m) return [];
  return m[1]!.split(',').map((s) => canonical(s.trim())).filter((s) => s !== '');
}

function indexModules(modulesDir: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const n = moduleName(e.name);
        if (n !== null) index.set(n, p);
      }
    }
  };
  walk(join(modulesDir, 'kernel'));
  return index;
}

function builtins(modulesDir: string): Set<string> {
  const path = join(modulesDir, 'modules.builtin');
  if (!existsSync(path)) return new Set();
  return new Set(
    readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => moduleName(l.split('/').pop() ?? ''))
      .filter((n): n is string => n !== null),
  );
}

function readModule(path: string): Uint8Array {
  const tool = path.endsWith('.xz') ? ['xz', 'xz-utils'] : path.endsWith('.zst') ? ['zstd', 'zstd'] : path.endsWith('.gz') ? ['gzip', 'gzip'] : null;
  if (tool === null) return readFileSync(path);
  const bin = requireTool(tool[0]!, tool[1]!);
  const r = spawnSync(bin, ['-dc', path], { maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0 || r.error) throw new VmError('IMAGE_FAILED', `cannot decompress ${path}: ${r.error?.message ?? r.stderr.toString()}`);
  return r.stdout;
}

export interface GuestModule {
  name: string;
  data: Uint8Array;
}

/**
 * The wanted modules and their dependencies, dependencies first, decompressed.
 * Built-in ones are left out; a module this kernel does not have is reported in `missing`.
 */
export function collectModules(modulesDir: string, wanted: readonly string[] = guestModules): { modules: GuestModule[]; missing: string[] } {
  const index = indexModules(modulesDir);
  const builtin = builtins(modulesDir);
  const done = new Set<string>();
  const modules: GuestModule[] = [];
  const missing: string[] = [];
  const visit = (raw: string, chain: string[]): void => {
    const name = canonical(raw);
    if (done.has(name) || builtin.has(name)) return;
    if (chain.includes(name)) throw new VmError('IMAGE_FAILED', `module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const path = index.get(name);
    if (path === undefined) {
      missing.push(name);
      done.add(name);
      return;
    }
    const data = readModule(path);
    for (const dep of modinfoDepends(data)) visit(dep, [...chain, name]);
    done.add(name);
    modules.push({ name, data });
  };
  for (const w of wanted) visit(w, []);
  return { modules, missing };
}
