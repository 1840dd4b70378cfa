/**
 * One-liners for `tsbpf run -e 'SOURCE'` and modules on standard input
 * (`tsbpf run -`): the text becomes a module file in a private temporary
 * folder, with the module language in scope (every export of tsbpf/dsl and
 * tsbpf/dsl/net the text does not declare itself, imported at the end so
 * that line numbers in diagnostics are the user's own) and, when the text
 * exports nothing, its top-level consts exported, so that
 *
 *   tsbpf run -e "const opens = hashMap<CStr<16>, u64>({ maxEntries: 1024 }); const p = tracepoint('syscalls/sys_enter_openat', () => { let c!: CStr<16>; bpf.currentComm(c); opens.increment(c); return 0; });"
 *
 * counts opens by command until Ctrl-C and prints the map, as bpftrace's
 * `tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }` does.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dslRoot } from './dsl-host.js';

/** A declaration the module language exports: its name and whether it is only a type. */
interface DslExport {
  name: string;
  typeOnly: boolean;
}

/** The top-level exports of a DSL declaration file (`export const|function|class|enum|type|interface NAME`). */
function exportsOf(file: string): DslExport[] {
  const text = readFileSync(file, 'utf8');
  const out: DslExport[] = [];
  for (const m of text.matchAll(/^export\s+(?:declare\s+)?(?:abstract\s+)?(const|let|function\*?|async\s+function|class|enum|type|interface|namespace)\s+(\w+)/gm)) {
    out.push({ name: m[2]!, typeOnly: m[1] === 'type' || m[1] === 'interface' });
  }
  return out;
}

/** Names the text declares at any depth (so an auto-import never collides with them). */
function declaredNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/\b(?:const|let|var|function|class|interface|type|enum)\s+(\w+)/g)) names.add(m[1]!);
  return names;
}

/** `const NAME =` at brace depth 0 gets `export` (only when the text exports nothing itself). */
function exportTopLevelConsts(text: string): string {
  if (/\bexport\b/.test(text)) return text;
  let depth = 0;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') depth--;
    if (depth === 0 && /\bconst\s/y.test(text.slice(i, i + 6)) && !/[\w$.]/.test(text[i - 1] ?? ' ')) {
      out += 'export ';
    }
    out += c;
  }
  return out;
}

/** A module's text with the module language in scope, ready to compile. */
export function oneLinerModule(source: string): string {
  const index = join(dslRoot, 'index.ts');
  const net = join(dslRoot, 'net.ts');
  // A module that imports tsbpf/dsl itself (one on standard input) gets the package's files by path.
  if (/from\s+['"]tsbpf\/dsl(\/net)?['"]/.test(source)) {
    return source.replace(/from\s+(['"])tsbpf\/dsl\/net\1/g, `from '${net.replace(/\.ts$/, '.js')}'`).replace(/from\s+(['"])tsbpf\/dsl\1/g, `from '${index.replace(/\.ts$/, '.js')}'`);
  }
  const declared = declaredNames(source);
  const taken = new Set<string>();
  const imports: string[] = [];
  for (const file of [index, net]) {
    const names = exportsOf(file).filter((e) => !declared.has(e.name) && !taken.has(e.name));
    for (const e of names) taken.add(e.name);
    if (names.length) imports.push(`import { ${names.map((e) => (e.typeOnly ? `type ${e.name}` : e.name)).join(', ')} } from '${file.replace(/\.ts$/, '.js')}';`);
  }
  return `${exportTopLevelConsts(source)}\n\n// The module language, in scope for one-liners (imports are hoisted: the lines above are the user's).\n${imports.join('\n')}\n`;
}

/** Writes the one-liner's module into a private folder; `remove()` deletes it. */
export function writeOneLiner(source: string): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-e-'));
  const path = join(dir, 'one-liner.bpf.ts');
  writeFileSync(path, oneLinerModule(source), { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
