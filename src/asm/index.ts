/**
 * `tsbpf/asm`: the eBPF instruction set. Instructions, encode/decode, the
 * builder, the LLVM and ubpf text syntaxes and the disassembler. Pure: no
 * Node modules, runs in a browser.
 */
import { encode } from './codec.js';
import { AsmError } from './errors.js';
import type { Instruction } from './instruction.js';
import { assembleLlvm } from './llvm-syntax.js';
import { parseUbpf } from './ubpf.js';

export * from './opcodes.js';
export * from './instruction.js';
export * from './codec.js';
export * from './errors.js';
export * from './registers.js';
export * from './helpers.js';
export * from './validate.js';
export * from './disasm.js';
export * from './builder.js';
export { assembleLlvm, parseLlvm } from './llvm-syntax.js';
export { InstructionColumns } from './instruction-columns.js';
export { parseUbpf } from './ubpf.js';

export type AsmSyntax = 'llvm' | 'ubpf';

export interface AssembleOptions {
  /** Default 'llvm'. */
  syntax?: AsmSyntax;
  /** File name used in error positions. */
  file?: string;
}

export interface Assembled {
  /** Little-endian 8-byte slots. */
  bytes: Uint8Array;
  instructions: Instruction[];
}

/**
 * Assembles text in the LLVM or the ubpf/conformance syntax.
 * @example
 * const { bytes, instructions } = assemble('r0 = 1\nexit');          // LLVM syntax (llvm-mc -triple bpf)
 * assemble('mov %r0, 1\nexit', { syntax: 'ubpf' }).bytes.length;  // 16
 */
export function assemble(source: string, options: AssembleOptions = {}): Assembled {
  const syntax = options.syntax ?? 'llvm';
  if (syntax === 'llvm') return assembleLlvm(source, options.file);
  if (syntax !== 'ubpf') throw new AsmError('E_SYNTAX_NAME', `unknown assembler syntax '${String(syntax)}' (llvm or ubpf)`);
  const instructions = parseUbpf(source, options.file);
  return { bytes: encode(instructions), instructions };
}
