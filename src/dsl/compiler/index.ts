/**
 * tsbpf/compiler: TypeScript modules written against tsbpf/dsl → eBPF and
 * BPF ELF objects. Pure (no Node APIs): files come from a CompileHost.
 *
 *   const mod = compile({ entry: '/abs/m.bpf.ts', host, dslRoot });
 *   const object = writeObject(mod);   // a libbpf-style .o
 */
export {
  compile, MAP_TYPE_IDS,
  type CompileHost, type CompileOptions, type CompiledModule, type CompiledProgram, type CompiledMap, type CompiledDataSection, type CompiledVariable,
} from './compile.js';
export { CompileError, formatDiagnostic, type DslDiagnostic, type DiagnosticPosition } from './diagnostics.js';
export { writeObject } from './object.js';
export { memoryHost, DSL_SOURCE_FILES } from './memory-host.js';
export { buildModuleBtf, packProgramExt, type ModuleBtf } from './module-btf.js';
export { formatIr, type IrFunction, type Op } from './ir.js';
export type { CType, IntType, ArrayType, StructType, StructField } from './ctypes.js';
export { parseTracepointFormat, type TracepointField } from './tracepoint-format.js';
export { sectionName, PROGRAM_KINDS, type ProgramKind } from './program-kinds.js';
