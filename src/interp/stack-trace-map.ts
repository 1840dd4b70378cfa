/**
 * BPF_MAP_TYPE_STACK_TRACE in memory, and the two helpers that read the
 * stack the run pretends to have (TaskInfo.kernelStack / userStack):
 * bpf_get_stackid stores it under an id, bpf_get_stack copies it out.
 * A run given no stack has none to walk, and gets -EFAULT as the kernel
 * gives when it finds none.
 */
import type { Helper, HelperContext } from './helpers.js';
import { Errno, HashMap, type MapSpec, checkSpec, helperResult, u32KeyBytes } from './maps.js';

/** bpf_get_stackid/bpf_get_stack flags (uapi BPF_F_*). */
const SKIP_MASK = 0xffn;
const USER_STACK = 1n << 8n;
const FAST_STACK_CMP = 1n << 9n;
const REUSE_STACKID = 1n << 10n;

/** The frames a run's helpers see for `flags`: the user or the kernel stack, past the frames to skip. */
function framesFor(ctx: HelperContext, flags: bigint): readonly bigint[] | undefined {
  const stack = flags & USER_STACK ? ctx.task.userStack : ctx.task.kernelStack;
  if (stack === undefined || stack.length === 0) return undefined;
  return stack.slice(Number(flags & SKIP_MASK));
}

/** Writes as many of `frames` as fit into `out`, little-endian u64s; the bytes written. */
function writeFrames(out: Uint8Array, frames: readonly bigint[]): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const n = Math.min(frames.length, Math.floor(out.length / 8));
  for (let i = 0; i < n; i++) view.setBigUint64(i * 8, BigInt.asUintN(64, frames[i]!), true);
  return n * 8;
}

/** FNV-1a over the frames' bytes: ids are stable for one stack, as the kernel's jhash makes them. */
function hashOf(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

export class StackTraceMap extends HashMap {
  override readonly type: string = 'stack_trace';
  /** Ids are a hash masked to a power of two, as the kernel's buckets (so an id may exceed maxEntries - 1). */
  readonly #buckets: number;

  constructor(spec: Omit<MapSpec, 'type'>) {
    checkSpec({ type: 'stack_trace', ...spec }, { keySize: 4 });
    if (spec.valueSize % 8 !== 0) throw new RangeError(`stack_trace map value size must be a multiple of 8, got ${spec.valueSize}`);
    super(spec);
    this.#buckets = 2 ** Math.ceil(Math.log2(spec.maxEntries));
  }

  /** Only programs store stacks: user space may read and delete them, as in the kernel. */
  override update(): number {
    return -Errno.EINVAL;
  }

  /** Stores `frames` under its id: the id, or -EEXIST when another stack holds it (unless `reuse`). */
  store(frames: readonly bigint[], flags: bigint): number {
    const bytes = new Uint8Array(this.valueSize);
    writeFrames(bytes, frames);
    const hash = hashOf(bytes);
    const id = hash & (this.#buckets - 1);
    const key = u32KeyBytes(id);
    const held = this.lookup(key);
    if (held) {
      const same = flags & FAST_STACK_CMP ? hashOf(held) === hash : held.every((b, i) => b === bytes[i]);
      if (same) return id;
      if (!(flags & REUSE_STACKID)) return -Errno.EEXIST;
      held.set(bytes);
      return id;
    }
    return super.update(key, bytes, 0n) === 0 ? id : -Errno.ENOMEM;
  }
}

export const getStackId: Helper = (ctx, _progCtx, mapPtr, flags) => {
  const map = ctx.map(mapPtr);
  if (!(map instanceof StackTraceMap) || flags & ~(SKIP_MASK | USER_STACK | FAST_STACK_CMP | REUSE_STACKID)) return helperResult(-Errno.EINVAL);
  const frames = framesFor(ctx, flags);
  return helperResult(frames && frames.length > 0 ? map.store(frames, flags) : -Errno.EFAULT);
};

export const getStack: Helper = (ctx, _progCtx, buf, size, flags) => {
  // BPF_F_USER_BUILD_ID is refused too: build-id frames are not modelled.
  if (flags & ~(SKIP_MASK | USER_STACK) || size % 8n !== 0n) return helperResult(-Errno.EINVAL);
  const dst = ctx.memory.slice(buf, Number(size), ctx.pc, true);
  const frames = framesFor(ctx, flags);
  dst.fill(0);
  if (!frames || frames.length === 0) return helperResult(-Errno.EFAULT);
  return BigInt(writeFrames(dst, frames));
};
