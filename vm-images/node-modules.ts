/**
 * Which node_modules the guest needs: the closure of the project's declared
 * dependencies (runtime and test), resolved the way Node resolves them, less
 * what is only for type checking (typescript itself, @types): ts-morph
 * bundles its own compiler. Only files Node loads are kept (no maps, docs, .d.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

/** Packages left out of the image: type-checking only. */
export const excludedPackages = (name: string): boolean => name === 'typescript' || name.startsWith('@types/');

/** Files inside packages that Node never loads at run time. */
export function isRuntimeFile(relPath: string): boolean {
  if (/(^|\/)musl[_-]/.test(relPath)) return false; // native builds for musl libc: never loaded on glibc
  return !/(\.map|\.md|\.markdown|\.d\.ts|\.d\.mts|\.d\.cts|\.tsbuildinfo)$/i.test(relPath);
}

interface PackageJson {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readPackageJson = (dir: string): PackageJson => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;

/** Node's lookup: <dir>/node_modules/<name>, then each parent's, up to the project. */
function resolvePackage(fromDir: string, name: string, projectDir: string): string | null {
  let dir = fromDir;
  for (;;) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === projectDir || dirname(dir) === dir) return null;
    dir = dirname(dir);
    // skip the node_modules folder itself and a scope folder on the way up
    while (dir.endsWith(`${sep}node_modules`) || dir.split(sep).pop()?.startsWith('@')) dir = dirname(dir);
  }
}

/** Absolute folders of the packages the guest needs (nested ones are found by the same lookup and listed too). */
export function packageClosure(projectDir: string, includeDev: boolean): string[] {
  const root = readPackageJson(projectDir);
  const names = (p: PackageJson, dev: boolean): string[] =>
    [...Object.keys(p.dependencies ?? {}), ...Object.keys(p.optionalDependencies ?? {}), ...(dev ? Object.keys(p.devDependencies ?? {}) : [])].filter(
      (n) => !excludedPackages(n),
    );
  const found = new Set<string>();
  const queue: Array<[string, string]> = names(root, includeDev).map((n) => [projectDir, n]);
  while (queue.length > 0) {
    const [from, name] = queue.shift()!;
    const dir = resolvePackage(from, name, projectDir);
    if (dir === null || found.has(dir)) continue; // optional dependencies for other platforms are simply absent
    found.add(dir);
    for (const dep of names(readPackageJson(dir), false)) queue.push([dir, dep]);
  }
  return [...found].sort();
}
