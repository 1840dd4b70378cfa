/**
 * State shared by every part of one compilation: the ts-morph project and
 * type checker, the diagnostics, how DSL declarations are recognised (by
 * symbol, so aliases and re-exports work), and the C types of TS types.
 */
import { Node, type Project, type SourceFile, type TypeChecker, type TypeNode, type Symbol as TsSymbol, ts } from 'ts-morph';
import { Abandon, type DslDiagnostic } from './diagnostics.js';
import { kernelTypes } from './kernel-types.js';
import { type CType, INT_TYPES, makeStruct, MAX_VALUE_SIZE, sizeOf, SPIN_LOCK, STACK_LIMIT, type StructType, typeName, U64 } from './ctypes.js';

export interface DslRef {
  module: 'index' | 'net' | 'kernel';
  name: string;
}

export interface CompileHostHooks {
  /**
   * The text of /sys/kernel/tracing/events/<group>/<name>/format; undefined
   * when there is no such tracepoint, or `{ unavailable }` saying why it
   * cannot be read (e.g. tracefs is root-only).
   */
  tracepointFormat?(group: string, name: string): string | undefined | { unavailable: string };
}

const linesOf = new WeakMap<ts.SourceFile, string[]>();

/** Line `line` (1-based) of a source file, without its line break; the split is cached per file text. */
export function sourceLine(sf: SourceFile, line: number): string | undefined {
  const node = sf.compilerNode;
  let lines = linesOf.get(node);
  if (!lines) {
    lines = sf.getFullText().split('\n');
    linesOf.set(node, lines);
  }
  return lines[line - 1]?.replace(/\r$/, '');
}

/** 1-based line and column of a position (TypeScript's cached line starts; ts-morph's own helper rescans the text). */
export function lineAndColumn(sf: SourceFile, pos: number): { line: number; column: number } {
  const { line, character } = sf.compilerNode.getLineAndCharacterOfPosition(pos);
  return { line: line + 1, column: character + 1 };
}

/** Codes that say what a TypeScript error in the same expression says (no such name, method, field, argument): TypeScript's is kept. */
const SAME_AS_TYPESCRIPT = new Set(['TSBPF_UNKNOWN_NAME', 'TSBPF_METHOD', 'TSBPF_ARGS', 'TSBPF_MEMBER', 'TSBPF_PACKET', 'TSBPF_CTX_FIELD', 'TSBPF_HELPER', 'TSBPF_NOT_INTEGER', 'TSBPF_NULL_COMPARE', 'TSBPF_CALL']);
/** Codes for constructs the language does not have: kept over the TypeScript error the same expression gives. */
const OWN_WORDS = new Set(['TSBPF_CLASS', 'TSBPF_ASYNC', 'TSBPF_GENERATOR', 'TSBPF_OPTIONAL', 'TSBPF_EXCEPTION', 'TSBPF_HEAP', 'TSBPF_STRING', 'TSBPF_FLOAT', 'TSBPF_UNDEFINED', 'TSBPF_DESTRUCTURE', 'TSBPF_CLOSURE', 'TSBPF_OPERATOR']);

export class CompilerContext {
  readonly diagnostics: DslDiagnostic[] = [];
  readonly checker: TypeChecker;
  readonly structs = new Map<Node, StructType>();

  constructor(
    readonly project: Project,
    readonly dslFiles: Map<SourceFile, DslRef['module']>,
    readonly hooks: CompileHostHooks,
  ) {
    this.checker = project.getTypeChecker();
  }

  /** Records a diagnostic at a node. */
  report(node: Node, code: string, message: string): void {
    const sf = node.getSourceFile();
    const start = node.getStart();
    const { line, column } = lineAndColumn(sf, start);
    const text = sourceLine(sf, line);
    // Said already (a module function lowered again for another program): still a construct abandoned.
    if (this.diagnostics.some((d) => d.file === sf.getFilePath() && d.line === line && d.column === column && d.code === code)) {
      this.suppressed++;
      return;
    }
    const typeScript = SAME_AS_TYPESCRIPT.has(code) || OWN_WORDS.has(code) ? this.#typeScriptSaid(node, line, column) : [];
    if (typeScript.length > 0) {
      if (SAME_AS_TYPESCRIPT.has(code)) {
        this.suppressed++;
        return;
      }
      // A construct the language does not have is named better by its own code than by what TypeScript made of it.
      for (const d of typeScript) this.diagnostics.splice(this.diagnostics.indexOf(d), 1);
    }
    this.diagnostics.push({ file: sf.getFilePath(), line, column, code, message, ...(text !== undefined ? { text } : {}) });
  }

  /** Diagnostics not given because TypeScript or an earlier report already named the mistake (see report): the construct is still abandoned. */
  suppressed = 0;

  /**
   * Whether TypeScript already reported an error inside this expression, on
   * its first line (`m.frobnicate(1)`, `ctx.packet` in a probe, an unknown
   * name): the same mistake then gets TypeScript's diagnostic only.
   */
  #typeScriptSaid(node: Node, line: number, column: number): DslDiagnostic[] {
    if (!Node.isExpression(node) || Node.isFunctionLikeDeclaration(node)) return [];
    const file = node.getSourceFile().getFilePath();
    const end = lineAndColumn(node.getSourceFile(), node.getEnd());
    return this.diagnostics.filter((d) => d.code.startsWith('TS') && d.file === file && d.line === line && d.column >= column && (end.line > line || d.column < end.column));
  }

  /** Reports and abandons the current construct. */
  fail(node: Node, code: string, message: string): never {
    this.report(node, code, message);
    throw new Abandon(message);
  }

  /**
   * Declarations whose diagnostic was already given: a later use of the name
   * is abandoned silently, so one mistake gives one diagnostic, not one per use.
   */
  readonly failedDeclarations = new Set<Node>();

  /** The symbol a node refers to, through import aliases and re-exports (and the variable a shorthand property `{ vlan }` names). */
  resolvedSymbol(node: Node): TsSymbol | undefined {
    const parent = node.getParent();
    let sym = parent && Node.isShorthandPropertyAssignment(parent) && parent.getNameNode() === node
      ? this.checker.getShorthandAssignmentValueSymbol(parent)
      : this.checker.getSymbolAtLocation(node);
    if (sym && (sym.getFlags() & ts.SymbolFlags.Alias) !== 0) sym = this.checker.getAliasedSymbol(sym) ?? sym;
    return sym;
  }

  /** The DSL declaration a symbol is, or undefined for user code. */
  dslOfSymbol(sym: TsSymbol | undefined): DslRef | undefined {
    if (!sym) return undefined;
    for (const decl of sym.getDeclarations()) {
      const module = this.dslFiles.get(decl.getSourceFile());
      if (module) return { module, name: sym.getName() };
    }
    return undefined;
  }

  /** The DSL declaration an expression or type name refers to. */
  dslRef(node: Node): DslRef | undefined {
    return this.dslOfSymbol(this.resolvedSymbol(node));
  }

  /** The declaration a name refers to (following aliases). */
  declarationOf(node: Node): Node | undefined {
    const sym = this.resolvedSymbol(node);
    return sym?.getValueDeclaration() ?? sym?.getDeclarations()[0];
  }

  /**
   * The literal value TypeScript gives an expression (enum members, `as const`
   * tables, DSL constants, literal type arguments). A name's value comes from its
   * declared type, never from the type narrowing gives it: inside
   * `case 3:` of `switch (ctx.packet.length)` the length's type is `3`, but the
   * value is read at run time (the case may never run).
   */
  literalOf(node: Node): string | number | ts.PseudoBigInt | undefined {
    if (Node.isIdentifier(node) || Node.isPropertyAccessExpression(node)) {
      const sym = this.resolvedSymbol(node);
      if (sym?.getValueDeclaration()) {
        const declared = this.checker.compilerObject.getTypeOfSymbol(sym.compilerSymbol);
        return declared.isLiteral() ? declared.value : undefined;
      }
    }
    return this.checker.getTypeAtLocation(node).getLiteralValue();
  }

  /** The C type of a TS type annotation; reports unsupported types. */
  ctypeOf(node: TypeNode): CType {
    if (Node.isTypeReference(node)) {
      const name = node.getTypeName();
      const ref = this.dslRef(name);
      const args = node.getTypeArguments();
      if (ref?.module === 'index') {
        const int = INT_TYPES[ref.name];
        if (int) return int;
        if (ref.name === 'Ptr') return kernelTypes(this).pointerType(args[0]);
        if (ref.name === 'SpinLock') return SPIN_LOCK;
        if (ref.name === 'FixedArray' || ref.name === 'CStr') {
          const elem = ref.name === 'CStr' ? INT_TYPES.u8! : args[0] ? this.ctypeOf(args[0]) : INT_TYPES.u8!;
          const lenNode = ref.name === 'CStr' ? args[0] : args[1];
          const len = lenNode ? this.literalOf(lenNode) : undefined;
          if (typeof len !== 'number' || !Number.isInteger(len) || len <= 0) this.fail(node, 'TSBPF_TYPE', `${ref.name} needs a positive literal length`);
          return this.boundedSize(node, { kind: 'array', element: elem, length: len, ...(ref.name === 'CStr' ? { cstr: true } : {}) });
        }
      }
      const decls = this.resolvedSymbol(name)?.getDeclarations() ?? [];
      const iface = decls.find((d) => Node.isInterfaceDeclaration(d));
      if (iface && kernelTypes(this).structOfInterface(iface)) return this.fail(node, 'TSBPF_KERNEL_TYPE', `${node.getText()} is a kernel struct: a module reads it through a Ptr<${node.getText()}>, it cannot hold one`);
      if (iface) return this.structOf(iface);
      const decl = decls[0];
      if (decl && Node.isTypeAliasDeclaration(decl) && !this.dslFiles.has(decl.getSourceFile())) {
        const t = decl.getTypeNode();
        if (t) return this.ctypeOf(t);
      }
    }
    if (node.getKind() === ts.SyntaxKind.BooleanKeyword) return INT_TYPES.bool!;
    if (node.getKind() === ts.SyntaxKind.NumberKeyword) return U64;
    return this.fail(node, 'TSBPF_TYPE', `type '${node.getText()}' has no C layout (use u8…u64, i8…i64, bool, be16/be32, CStr<N>, FixedArray<T, N> or an interface)`);
  }

  /** An interface as a C struct (fields in declaration order, natural alignment). */
  private readonly layingOut = new Set<Node>();

  structOf(decl: Node): StructType {
    const cached = this.structs.get(decl);
    if (cached) return cached;
    if (!Node.isInterfaceDeclaration(decl)) return this.fail(decl, 'TSBPF_TYPE', 'only interfaces describe structs');
    if (decl.getExtends().length > 0 || decl.getMethods().length > 0) this.fail(decl, 'TSBPF_TYPE', `interface ${decl.getName()} must be plain data (no extends, no methods)`);
    // A struct that holds itself has no size (laying it out recursed until the stack overflowed).
    if (this.layingOut.has(decl)) return this.fail(decl, 'TSBPF_TYPE', `interface ${decl.getName()} contains itself`);
    this.layingOut.add(decl);
    let fields: Array<{ name: string; type: CType }>;
    try {
      fields = decl.getProperties().map((p) => {
        const t = p.getTypeNode();
        if (!t) return this.fail(p, 'TSBPF_TYPE', `field ${p.getName()} needs a type`);
        return { name: p.getName(), type: this.ctypeOf(t) };
      });
    } finally {
      this.layingOut.delete(decl);
    }
    const s = this.boundedSize(decl, makeStruct(decl.getName(), fields));
    this.structs.set(decl, s);
    return s;
  }

  /**
   * A type no BPF value can hold is reported where it is written, before
   * anything is laid out for it (zero-filling a CStr<4294967296> would never end).
   */
  boundedSize<T extends CType>(node: Node, t: T): T {
    const size = sizeOf(t);
    if (size > MAX_VALUE_SIZE) this.fail(node, 'TSBPF_SIZE', `${typeName(t)} is ${size} bytes; no BPF value can be larger than ${MAX_VALUE_SIZE} bytes (the largest map value), and a local at most ${STACK_LIMIT}`);
    return t;
  }

  /** A compile-time integer, or undefined. */
  constantOf(node: Node): bigint | undefined {
    if (Node.isNumericLiteral(node)) {
      const v = node.getLiteralValue();
      return Number.isInteger(v) ? BigInt(v) : undefined;
    }
    if (Node.isBigIntLiteral(node)) return BigInt(node.getLiteralText().replace(/n$/, '').replace(/_/g, ''));
    if (Node.isParenthesizedExpression(node)) return this.constantOf(node.getExpression());
    if (Node.isPrefixUnaryExpression(node) && node.getOperatorToken() === ts.SyntaxKind.MinusToken) {
      const v = this.constantOf(node.getOperand());
      return v === undefined ? undefined : -v;
    }
    if (Node.isBinaryExpression(node)) {
      const a = this.constantOf(node.getLeft());
      const b = this.constantOf(node.getRight());
      if (a === undefined || b === undefined) return undefined;
      switch (node.getOperatorToken().getKind()) {
        case ts.SyntaxKind.PlusToken: return a + b;
        case ts.SyntaxKind.MinusToken: return a - b;
        case ts.SyntaxKind.AsteriskToken: return a * b;
        case ts.SyntaxKind.SlashToken: return b === 0n ? undefined : a / b;
        case ts.SyntaxKind.LessThanLessThanToken: return a << b;
        case ts.SyntaxKind.BarToken: return a | b;
        case ts.SyntaxKind.AmpersandToken: return a & b;
        default: return undefined;
      }
    }
    if (Node.isPrefixUnaryExpression(node) && node.getOperatorToken() === ts.SyntaxKind.TildeToken) {
      const v = this.constantOf(node.getOperand());
      return v === undefined ? undefined : ~v;
    }
    const lit = this.literalOf(node);
    if (typeof lit === 'number' && Number.isInteger(lit)) return BigInt(lit);
    if (Node.isIdentifier(node)) return this.#moduleConstant(node);
    if (Node.isPropertyAccessExpression(node) && node.getName() === 'size') return this.#headerSize(node.getExpression());
    if (Node.isCallExpression(node)) return this.#constantCall(node);
    return undefined;
  }

  readonly #folding = new Set<Node>();

  /** A module-level `const NAME = <constant>` (typed by its annotation, if any). */
  #moduleConstant(node: Node): bigint | undefined {
    const decl = this.declarationOf(node);
    if (!decl || !Node.isVariableDeclaration(decl) || this.#folding.has(decl)) return undefined;
    if (decl.getVariableStatement()?.getDeclarationKind() !== 'const' || decl.getFirstAncestor((a) => Node.isFunctionLikeDeclaration(a)) !== undefined) return undefined;
    const init = decl.getInitializer();
    if (!init) return undefined;
    this.#folding.add(decl);
    try {
      const v = this.constantOf(init);
      const tn = decl.getTypeNode();
      const int = tn && Node.isTypeReference(tn) ? INT_TYPES[this.dslRef(tn.getTypeName())?.name ?? ''] : undefined;
      return v === undefined || !int ? v : int.signed ? BigInt.asIntN(int.bits, v) : BigInt.asUintN(int.bits, v);
    } finally {
      this.#folding.delete(decl);
    }
  }

  /** `H.size` of a header layout `const H = header<T>(…)`. */
  #headerSize(obj: Node): bigint | undefined {
    const decl = this.declarationOf(obj);
    const init = decl && Node.isVariableDeclaration(decl) ? decl.getInitializer() : undefined;
    if (!init || !Node.isCallExpression(init) || this.dslRef(init.getExpression())?.name !== 'header') return undefined;
    const arg = init.getTypeArguments()[0];
    if (!arg) return undefined;
    const before = this.diagnostics.length;
    try {
      return BigInt(sizeOf(this.ctypeOf(arg)));
    } catch (e) {
      if (!(e instanceof Abandon)) throw e;
      this.diagnostics.length = before;
      return undefined;
    }
  }

  /** Casts (`u64(…n)`) and byte-order conversions of constants. */
  #constantCall(node: import('ts-morph').CallExpression): bigint | undefined {
    const name = this.dslRef(node.getExpression())?.name;
    const arg = node.getArguments()[0];
    if (!name || !arg || node.getArguments().length !== 1) return undefined;
    const v = this.constantOf(arg);
    if (v === undefined) return undefined;
    const int = INT_TYPES[name];
    if (int && name !== 'bool' && name !== 'be16' && name !== 'be32') return int.signed ? BigInt.asIntN(int.bits, v) : BigInt.asUintN(int.bits, v);
    const bits = name === 'htons' || name === 'ntohs' ? 16 : name === 'htonl' || name === 'ntohl' ? 32 : 0;
    if (!bits) return undefined;
    let out = 0n;
    for (let i = 0; i < bits / 8; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
    return out;
  }
}
