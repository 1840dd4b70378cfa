/**
 * The user-space half of a module: code the compiler does not lower and
 * does not type-check (the user's own tsc does, with Node's types).
 *   - imports of packages other than tsbpf/dsl (`tsbpf`, `node:util`, …):
 *     they do not exist in the compiler's in-memory project;
 *   - top-level `async function` declarations (`export async function main`)
 *     and top-level `export const options`: a BPF program cannot call them.
 */
import { Node, type SourceFile } from 'ts-morph';
import { moduleSpecifierText } from './module-specifier.js';

const kernelSide = (spec: string | undefined): boolean => spec === undefined || spec.startsWith('.') || spec === 'tsbpf/dsl' || spec.startsWith('tsbpf/dsl/');

/** [start, end) offsets of the file's user-space code. */
export function userSpaceRanges(sf: SourceFile): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const st of sf.getStatements()) {
    if (Node.isImportDeclaration(st) && !kernelSide(moduleSpecifierText(st))) out.push([st.getStart(), st.getEnd()]);
    else if (Node.isFunctionDeclaration(st) && st.isAsync()) out.push([st.getStart(), st.getEnd()]);
    else if (Node.isVariableStatement(st) && st.isExported() && st.getDeclarations().some((d) => d.getName() === 'options')) out.push([st.getStart(), st.getEnd()]);
  }
  return out;
}

/** Whether `pos` falls in user-space code. */
export const inUserSpace = (ranges: Array<[number, number]>, pos: number): boolean => ranges.some(([a, b]) => pos >= a && pos < b);
