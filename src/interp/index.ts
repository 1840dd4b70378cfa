/**
 * tsbpf/interp: a userspace eBPF interpreter (RFC 9669, ISA v1–v4 and the
 * legacy packet loads) with in-memory maps and a pluggable helper table.
 *
 *   const { r0 } = await run(bytes, { mem });                 // conformance style: r1 = mem, r2 = length
 *   runSync(bytes, { xdp: { packet } });                      // r1 = struct xdp_md over the packet
 *   runSync(bytes, { maps: [new HashMap({ keySize: 4, valueSize: 8, maxEntries: 64 })] });
 *   new InterpObject(parseObject(elfBytes)).run('xdp_prog', { xdp: { packet } });
 *
 * Programs refer to maps with lddw src 1/5 (fd/index into `maps`) or 2/6
 * (direct value pointer). Errors are InterpError with a code and the pc.
 *
 * Extending: a helper is `(ctx, r1..r5) => r0`, passed in `helpers` by id
 * (it replaces the default of that id); a map kind is a class implementing
 * InterpMap, registered in `mapKinds` under the kernel's type name.
 */
import { type DecodedProgram, decodeProgram } from './program.js';
import { type RunOptions, type RunResult, execute } from './machine.js';

export { InterpError, type InterpErrorCode } from './errors.js';
export { type DecodedProgram, decodeProgram } from './program.js';
export { DEFAULT_BUDGET, MAX_CALL_FRAMES, MAX_TAIL_CALLS, STACK_SIZE, type RunOptions, type RunResult } from './machine.js';
export { Memory, type Region, type RegionOptions } from './memory.js';
export type { ProgramInput } from './context.js';
export type { SocketInfo } from './socket.js';
export { type Helper, type HelperContext, type HelperTable, HelperId, type TaskInfo, defaultHelpers, errno } from './helpers.js';
export { formatTrace } from './helpers-trace.js';
export { type FibAnswer, type FibQuery, FibResult, type FibTable, fibLookupWith } from './fib.js';
export { ArrayMap, Errno, HashMap, type InterpMap, LruHashMap, type MapSpec, UpdateFlags } from './maps.js';
export { PerCpuArrayMap, PerCpuHashMap } from './percpu-maps.js';
export { QueueMap, StackMap } from './queue-maps.js';
export { RingBufMap } from './ringbuf.js';
export { ProgArrayMap } from './prog-array.js';
export { LpmTrieMap } from './lpm-trie.js';
export { LocalStorageMap } from './local-storage.js';
export { BloomFilterMap } from './bloom-filter.js';
export { PerfEventArrayMap, type PerfRecord } from './perf-event-array.js';
export { StackTraceMap } from './stack-trace-map.js';
export { MapOfMaps } from './map-of-maps.js';
export { createMap, mapKinds } from './map-kinds.js';
export { InterpObject, UnsupportedMap, type ObjectInput, type ObjectMapInput, type ObjectProgramInput, type ObjectRelocationInput } from './object.js';

/** Runs a program (raw 8-byte slots, or one decoded with decodeProgram) to its exit. Throws InterpError. */
export function runSync(program: Uint8Array | DecodedProgram, options: RunOptions = {}): RunResult {
  return execute(program instanceof Uint8Array ? decodeProgram(program) : program, options);
}

/**
 * Asynchronous form of runSync (the contract of tsbpf/interp).
 * @example
 * const { r0 } = await run(assemble('r0 = *(u8 *)(r1 + 0)\nexit').bytes, { mem: new Uint8Array([7]) });   // 7n
 */
export async function run(program: Uint8Array | DecodedProgram, options: RunOptions = {}): Promise<RunResult> {
  return runSync(program, options);
}
