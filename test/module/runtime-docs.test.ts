/**
 * The runtime API (`tsbpf`: src/index.ts and everything it re-exports) is
 * documented where an editor shows it: every export has a TSDoc comment,
 * and every exported function and class has an `@example`. Read with the
 * TypeScript compiler, as an editor reads it.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ENTRY = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

interface Export { name: string; where: string; doc: string; tags: string[]; callable: boolean }

function runtimeExports(): Export[] {
  const program = ts.createProgram([ENTRY], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const entry = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  return checker.getExportsOfModule(entry).map((exported) => {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decl = symbol.declarations![0]!;
    const file = decl.getSourceFile();
    const where = `${file.fileName.replace(/^.*\/src\//, 'src/')}:${file.getLineAndCharacterOfPosition(decl.getStart()).line + 1}`;
    // `export * as codec from './codec.js'`: a namespace is documented by its file's opening comment.
    const doc = ts.isSourceFile(decl) ? (/^\/\*\*([^]*?)\*\//.exec(decl.text)?.[1] ?? '') : ts.displayPartsToString(symbol.getDocumentationComment(checker));
    const callable = ts.isFunctionDeclaration(decl) || ts.isClassDeclaration(decl) || (ts.isVariableDeclaration(decl) && decl.initializer !== undefined && ts.isArrowFunction(decl.initializer));
    return { name: exported.name, where, doc: doc.trim(), tags: symbol.getJsDocTags(checker).map((t) => t.name), callable };
  });
}

describe('runtime API documentation', function () {
  this.timeout(120000);
  let exports: Export[];
  before(() => {
    exports = runtimeExports();
  });

  it('every export of tsbpf has a TSDoc comment', () => {
    expect(exports.length).to.be.greaterThan(150);
    expect(exports.filter((e) => !e.doc).map((e) => `${e.name} (${e.where})`)).to.deep.equal([]);
  });

  it('every exported function and class has an @example', () => {
    expect(exports.filter((e) => e.callable).length).to.be.greaterThan(80);
    expect(exports.filter((e) => e.callable && !e.tags.includes('example')).map((e) => `${e.name} (${e.where})`)).to.deep.equal([]);
  });
});
