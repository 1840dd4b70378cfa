/**
 * What names and type annotations of a module mean, for the evaluator:
 * declarations through import aliases, which DSL declaration a name is,
 * and the C layout of a type (natural alignment, docs/language.md "Types").
 */
import { Node, type Project, type SourceFile, ts, type TypeNode, type TypeChecker } from 'ts-morph';
import { INTS, type IntT, U64 } from './ints.js';

export type CT =
  | { kind: 'int'; t: IntT }
  | { kind: 'array'; elem: CT; length: number }
  | { kind: 'struct'; name: string; fields: ReadonlyArray<{ name: string; type: CT; offset: number }>; size: number; align: number };

export const sizeOfCT = (c: CT): number => (c.kind === 'int' ? c.t.bits / 8 : c.kind === 'array' ? sizeOfCT(c.elem) * c.length : c.size);
const alignOfCT = (c: CT): number => (c.kind === 'int' ? c.t.bits / 8 : c.kind === 'array' ? alignOfCT(c.elem) : c.align);

/** A problem the evaluator reports, with the compiler's code where the contract names one. */
export class EvalError extends Error {
  override readonly name = 'EvalError';
  constructor(
    readonly code: string,
    message: string,
    readonly where?: { file: string; line: number; column: number },
  ) {
    super(where ? `${where.file}:${where.line}:${where.column}: ${code}: ${message}` : `${code}: ${message}`);
  }
}

export function positionOf(node: Node): { file: string; line: number; column: number } {
  const sf = node.getSourceFile();
  const { line, character } = sf.compilerNode.getLineAndCharacterOfPosition(node.getStart());
  return { file: sf.getFilePath(), line: line + 1, column: character + 1 };
}

export const fail = (node: Node, code: string, message: string): never => {
  throw new EvalError(code, message, positionOf(node));
};

export class Resolver {
  readonly checker: TypeChecker;
  readonly #structs = new Map<Node, CT>();

  constructor(
    readonly project: Project,
    readonly dslFiles: ReadonlyMap<SourceFile, 'index' | 'net' | 'kernel'>,
  ) {
    this.checker = project.getTypeChecker();
  }

  #symbol(node: Node) {
    // The name of a shorthand property (`{ vlan }`) stands for the variable it names.
    const parent = node.getParent();
    let sym = parent && Node.isShorthandPropertyAssignment(parent) && parent.getNameNode() === node
      ? this.checker.getShorthandAssignmentValueSymbol(parent)
      : this.checker.getSymbolAtLocation(node);
    if (sym && (sym.getFlags() & ts.SymbolFlags.Alias) !== 0) sym = this.checker.getAliasedSymbol(sym) ?? sym;
    return sym;
  }

  /** The declaration a name refers to. */
  declarationOf(node: Node): Node | undefined {
    const sym = this.#symbol(node);
    return sym?.getValueDeclaration() ?? sym?.getDeclarations()[0];
  }

  /** The DSL export a name refers to (`xdp`, `u32`, `EthHdr`…), or undefined for the module's own names. */
  dslName(node: Node): string | undefined {
    const sym = this.#symbol(node);
    if (!sym) return undefined;
    for (const d of sym.getDeclarations()) if (this.dslFiles.has(d.getSourceFile())) return sym.getName();
    return undefined;
  }

  /** The numeric literal type TypeScript gives an expression (enum members, `as const` tables, XdpAction.PASS), if any. */
  literalOf(node: Node): number | undefined {
    // A name's declared type, not the type narrowing gives it (`case 3:` of a switch on a run-time value).
    const sym = Node.isIdentifier(node) || Node.isPropertyAccessExpression(node) ? this.#symbol(node) : undefined;
    if (sym?.getValueDeclaration()) {
      const declared = this.checker.compilerObject.getTypeOfSymbol(sym.compilerSymbol);
      return declared.isNumberLiteral() ? declared.value : undefined;
    }
    const v = this.checker.getTypeAtLocation(node).getLiteralValue();
    return typeof v === 'number' ? v : undefined;
  }

  /** The C layout of a type annotation. */
  layout(node: TypeNode): CT {
    if (Node.isTypeReference(node)) {
      const nameNode = node.getTypeName();
      const dsl = this.dslName(nameNode);
      const args = node.getTypeArguments();
      if (dsl !== undefined) {
        const int = INTS[dsl];
        if (int) return { kind: 'int', t: int };
        if (dsl === 'FixedArray' || dsl === 'CStr') {
          const elem: CT = dsl === 'CStr' || !args[0] ? { kind: 'int', t: INTS.u8! } : this.layout(args[0]);
          const lenNode = dsl === 'CStr' ? args[0] : args[1];
          const len = lenNode ? this.literalOf(lenNode) : undefined;
          if (len === undefined || !Number.isInteger(len) || len <= 0) return fail(node, 'TSBPF_TYPE', `${dsl} needs a positive literal length`);
          return { kind: 'array', elem, length: len };
        }
      }
      const decls = this.#symbol(nameNode)?.getDeclarations() ?? [];
      const iface = decls.find((d) => Node.isInterfaceDeclaration(d));
      if (iface && Node.isInterfaceDeclaration(iface)) return this.struct(iface);
      const alias = decls.find((d) => Node.isTypeAliasDeclaration(d));
      if (alias && Node.isTypeAliasDeclaration(alias)) {
        const target = alias.getTypeNode();
        if (target) return this.layout(target);
      }
    }
    if (node.getKind() === ts.SyntaxKind.BooleanKeyword) return { kind: 'int', t: INTS.bool! };
    if (node.getKind() === ts.SyntaxKind.NumberKeyword) return { kind: 'int', t: U64 };
    if (Node.isParenthesizedTypeNode(node)) return this.layout(node.getTypeNode());
    return fail(node, 'TSBPF_TYPE', `type '${node.getText()}' has no C layout`);
  }

  /** An interface as a C struct: declaration order, each member aligned to its alignment, size rounded to the largest. */
  struct(decl: import('ts-morph').InterfaceDeclaration): CT {
    const known = this.#structs.get(decl);
    if (known) return known;
    let offset = 0;
    let align = 1;
    const fields = decl.getProperties().map((p) => {
      const tn = p.getTypeNode();
      if (!tn) return fail(p, 'TSBPF_TYPE', `field ${p.getName()} needs a type`);
      const type = this.layout(tn);
      const a = alignOfCT(type);
      offset = Math.ceil(offset / a) * a;
      const f = { name: p.getName(), type, offset };
      offset += sizeOfCT(type);
      align = Math.max(align, a);
      return f;
    });
    const s: CT = { kind: 'struct', name: decl.getName(), fields, size: Math.ceil(offset / align) * align, align };
    this.#structs.set(decl, s);
    return s;
  }
}
