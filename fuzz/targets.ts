/** Every fuzz target by name, loaded on demand (a child pays only for its own target's imports). */
import type { FuzzTarget } from './target.js';

const LOADERS: Record<string, () => Promise<FuzzTarget>> = {
  asm: async () => (await import('./target-asm.js')).asmTarget,
  interp: async () => (await import('./target-interp.js')).interpTarget,
  elf: async () => (await import('./target-elf.js')).elfTarget,
  btf: async () => (await import('./target-btf.js')).btfTarget,
  compiler: async () => (await import('./target-compiler.js')).compilerTarget,
  // The runner's own test, not listed.
  selftest: async () => (await import('./target-selftest.js')).selftestTarget,
};

export const TARGET_NAMES = ['asm', 'interp', 'elf', 'btf', 'compiler'] as const;

export const TARGET_SUMMARIES: Record<string, string> = {
  asm: 'text assembler, LLVM and ubpf syntax',
  interp: 'bytecode decoder, disassembler and interpreter',
  elf: 'ELF reader and object parser',
  btf: 'BTF parser: raw, .BTF.ext, in ELF',
  compiler: '.bpf.ts modules through compile()',
};

export const isTarget = (name: string): boolean => name in LOADERS;

export async function loadTarget(name: string): Promise<FuzzTarget> {
  const load = LOADERS[name];
  if (!load) throw new Error(`unknown fuzz target '${name}' (${TARGET_NAMES.join(', ')})`);
  return load();
}
