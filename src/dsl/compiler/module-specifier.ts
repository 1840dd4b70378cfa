import { ts, type ExportDeclaration, type ImportDeclaration } from 'ts-morph';

/**
 * The module specifier of an import or export declaration, or undefined when
 * it is missing or malformed (`from 123`, `from ;`): ts-morph's own getters
 * throw there, and such a clause must end as its syntax error, not a crash.
 */
export function moduleSpecifierText(decl: ImportDeclaration | ExportDeclaration): string | undefined {
  const n = decl.compilerNode.moduleSpecifier;
  return n && ts.isStringLiteral(n) ? n.text : undefined;
}
