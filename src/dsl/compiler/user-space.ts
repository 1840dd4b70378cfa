/**
 * The user-space half of a module: code the compiler does not lower and
 * does not type-check (the user's own tsc does, with Node's types).
 *   - imports of packages other than tsbpf/dsl (`tsbpf`, `node:util`, …):
 *     they do not exist in the compiler's in-memory project;
 *   - top-level `async function` declarations (`export async function main`)
 *     and top-level `export const options`: a BPF program cannot call them;
 *   - top-level functions (`function f`, `const f = (…) => …`) that no
 *     program reaches: helpers of main that use `process`, `Buffer` or
 *     `console`, which the in-memory project does not declare.
 */
import { Node, SyntaxKind, type SourceFile, type Statement } from 'ts-morph';
import { moduleSpecifierText } from './module-specifier.js';

const kernelSide = (spec: string | undefined): boolean => spec === undefined || spec.startsWith('.') || spec === 'tsbpf/dsl' || spec.startsWith('tsbpf/dsl/');

/** Statements of main's half by their form alone: foreign imports, async functions, `export const options`. */
function userSpaceByForm(st: Statement): boolean {
  if (Node.isImportDeclaration(st)) return !kernelSide(moduleSpecifierText(st));
  if (Node.isFunctionDeclaration(st)) return st.isAsync();
  return Node.isVariableStatement(st) && st.isExported() && st.getDeclarations().some((d) => d.getName() === 'options');
}

/** The names a top-level function statement declares, or undefined when it is not one. */
function functionNames(st: Statement): string[] | undefined {
  if (Node.isFunctionDeclaration(st)) {
    const name = st.getName();
    if (st.isDefaultExport()) return name === undefined ? ['default'] : [name, 'default'];
    return name === undefined ? undefined : [name];
  }
  if (!Node.isVariableStatement(st)) return undefined;
  const decls = st.getDeclarations();
  const isFunction = (d: (typeof decls)[number]) => {
    const init = d.getInitializer();
    return init !== undefined && (Node.isArrowFunction(init) || Node.isFunctionExpression(init)) && Node.isIdentifier(d.getNameNode());
  };
  return decls.length > 0 && decls.every(isFunction) ? decls.map((d) => d.getName()) : undefined;
}

const identifiersIn = (st: Statement): string[] => st.getDescendantsOfKind(SyntaxKind.Identifier).map((i) => i.getText());

/**
 * [start, end) offsets of each file's user-space code, for all the module's
 * files at once: a function is the kernel's when its name is used by a
 * statement that is (programs, maps, globals, types, constants, imports of
 * the DSL and of the module's own files) or by a function that is, found by
 * name (a name used anywhere counts, so a shared name keeps a helper checked).
 */
export function userSpaceRanges(files: SourceFile[]): Map<SourceFile, Array<[number, number]>> {
  const ranges = new Map<SourceFile, Array<[number, number]>>();
  const used = new Set<string>();
  const candidates: Array<{ file: SourceFile; st: Statement; names: string[] }> = [];
  // An import of the module's own files names what it brings in: used when its local name is.
  const imported: Array<{ local: string; name: string }> = [];
  for (const file of files) {
    ranges.set(file, []);
    for (const st of file.getStatements()) {
      if (userSpaceByForm(st)) ranges.get(file)!.push([st.getStart(), st.getEnd()]);
      else if (Node.isImportDeclaration(st)) {
        const def = st.getDefaultImport();
        if (def) imported.push({ local: def.getText(), name: 'default' });
        for (const s of st.getNamedImports()) imported.push({ local: s.getAliasNode()?.getText() ?? s.getName(), name: s.getName() });
        const ns = st.getNamespaceImport();
        if (ns) imported.push({ local: ns.getText(), name: ns.getText() });
      } else {
        const names = functionNames(st);
        if (names) candidates.push({ file, st, names });
        else for (const n of identifiersIn(st)) used.add(n);
      }
    }
  }
  let pending = candidates;
  for (let grew = true; grew; ) {
    grew = false;
    for (const i of imported) if (used.has(i.local)) used.add(i.name);
    const rest: typeof candidates = [];
    for (const c of pending) {
      if (c.names.some((n) => used.has(n))) {
        for (const n of identifiersIn(c.st)) used.add(n);
        grew = true;
      } else rest.push(c);
    }
    pending = rest;
  }
  for (const c of pending) ranges.get(c.file)!.push([c.st.getStart(), c.st.getEnd()]);
  return ranges;
}

/** Whether `pos` falls in user-space code. */
export const inUserSpace = (ranges: Array<[number, number]>, pos: number): boolean => ranges.some(([a, b]) => pos >= a && pos < b);
