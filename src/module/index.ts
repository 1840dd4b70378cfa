/**
 * Typed handles on a module from user space (`loadModule`), and the
 * histogram reader and printer that `tsbpf run` shares with them.
 */
export { loadModule, sourceOf, type LoadModuleOptions } from './load-module.js';
export type { LiveModule, MapHandle, PerCpuMapHandle, HistogramHandle, HistogramFormat, StackHandle, StackSample, EventStream, ProgramHandle, Decoded, Encodable, GlobalNames } from './types.js';
export { formatHistogram, formatBuckets, formatLog2Bcc, bucketOf, type HistogramBucket, type HistogramBuckets, type HistogramGroup } from './histogram.js';
export type { ModuleArgs } from '../cli/run-main.js';
export { KernelSymbolizer, ProcessSymbolizer, type Frame } from '../kernel/symbolize.js';
