/**
 * tsbpf/elf: ELF64 reading and writing, and BPF objects as object specs
 * (libbpf's conventions). Pure code: no Node modules.
 */
export * from './constants.js';
export { ElfError, type ElfLocation } from './errors.js';
export { ElfFile, readElf, type ElfHeader, type ElfSection, type ElfSymbol, type ElfRelocation, type ElfRelocationSection } from './reader.js';
export { ElfWriter, type ElfWriterOptions, type SectionInput, type SymbolInput, type SymbolRef, type RelocationInput } from './writer.js';
export { parseObject, type ParseObjectOptions } from './parse-object.js';
export type {
  ObjectSpec, ProgramSpec, MapSpec, MapKind, StructOpsSpec, MapInitialValue, VariableSpec, ExternSpec, ExternKind, KconfigValueType, LoadRelocation,
} from './object-spec.js';
export { SECTION_DEFS, sectionProgramType, type SectionDef, type SectionProgramType, type AttachTargetKind } from './section-types.js';
export { internalMapName, objectNameFromPath } from './map-types.js';
export { setVariable, getVariable, type VariableValue } from './variables.js';
export { kernelBtfBytes } from './kernel-btf.js';
export { parseKernelConfig, kernelVersionCode, fillKconfig, type KconfigSources } from './kconfig.js';
