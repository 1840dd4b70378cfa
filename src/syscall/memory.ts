/**
 * Native memory with a stable address. bpf() takes pointers inside its attr
 * (keys, values, logs, instructions) as 64-bit addresses, which JS buffers
 * cannot give; a NativeBuffer is allocated outside the JS heap, viewed from
 * JS without copying, and knows its size so that every call can check that
 * the kernel will not read or write past it.
 */
import { koffi } from './libc.js';

/** koffi allocates at most 2^31 - 1 bytes at once. */
export const MAX_NATIVE_ALLOCATION = 2 ** 31 - 1;

/** Native memory of this size cannot be had (too large for one allocation, or the C heap refused). */
export class NativeAllocationError extends RangeError {
  override readonly name = 'NativeAllocationError';
  readonly code = 'E_NATIVE_ALLOC';
}

/** koffi.alloc with a typed error naming what the memory was for. */
function allocate(size: number, what: string): unknown {
  if (size > MAX_NATIVE_ALLOCATION) {
    throw new NativeAllocationError(`${what}: ${size} bytes of native memory asked for, more than one allocation can hold (${MAX_NATIVE_ALLOCATION})`);
  }
  try {
    return koffi.alloc('uint8_t', size);
  } catch (e) {
    throw new NativeAllocationError(`${what}: cannot allocate ${size} bytes of native memory (${(e as Error).message})`, { cause: e });
  }
}

export class NativeBuffer {
  /** koffi's pointer object, for passing as `void *`. */
  readonly pointer: unknown;
  /** The address, for pointer fields inside bpf_attr. */
  readonly address: bigint;
  /** The address as a number (user-space addresses fit in 53 bits), for integer-typed syscall arguments. */
  readonly addressNumber: number;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #freed = false;

  constructor(readonly size: number, what = 'native buffer') {
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`native buffer size must be a positive integer, got ${size}`);
    this.pointer = allocate(size, what);
    this.address = BigInt(koffi.address(this.pointer));
    this.addressNumber = Number(this.address);
    if (!Number.isSafeInteger(this.addressNumber)) throw new RangeError('native buffer address does not fit in 53 bits');
    const ab = koffi.view(this.pointer, size) as ArrayBuffer;
    this.#bytes = new Uint8Array(ab);
    this.#view = new DataView(ab);
    // koffi.alloc does not zero; the kernel rejects attrs with stray bytes.
    this.#bytes.fill(0);
    registry.register(this, this.pointer, this);
  }

  /**
   * The memory as bytes. After free() this throws: the memory is back in
   * the C heap, where a write would corrupt it (a view taken before free()
   * must not be used after it either; nothing in tsbpf hands one out).
   */
  get bytes(): Uint8Array {
    if (this.#freed) throw new Error('native buffer already freed');
    return this.#bytes;
  }

  get view(): DataView {
    if (this.#freed) throw new Error('native buffer already freed');
    return this.#view;
  }

  /** Throws unless `length` bytes fit; call before handing the address to the kernel. */
  ensure(length: number, what: string): void {
    if (this.#freed) throw new Error(`${what}: native buffer already freed`);
    if (length > this.size) throw new RangeError(`${what}: the kernel would access ${length} bytes but the buffer holds ${this.size}`);
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    registry.unregister(this);
    koffi.free(this.pointer);
  }

  [Symbol.dispose](): void {
    this.free();
  }
}

const registry = new FinalizationRegistry<unknown>((pointer) => koffi.free(pointer));

/** A NativeBuffer holding a copy of `bytes` (at least one byte long). */
export function nativeCopy(bytes: Uint8Array): NativeBuffer {
  const b = new NativeBuffer(Math.max(1, bytes.byteLength));
  b.bytes.set(bytes);
  return b;
}

/** A NativeBuffer holding `text` as a NUL-terminated UTF-8 C string. */
export function nativeCString(text: string): NativeBuffer {
  const encoded = new TextEncoder().encode(text);
  if (encoded.includes(0)) throw new RangeError(`string contains a NUL byte: ${JSON.stringify(text)}`);
  const b = new NativeBuffer(encoded.byteLength + 1);
  b.bytes.set(encoded);
  return b;
}

const arrayRegistry = new FinalizationRegistry<unknown>((pointer) => koffi.free(pointer));

/**
 * Native memory the kernel can write into directly and JS reads without a
 * copy: the returned Uint8Array (and every subarray of it) keeps the memory
 * alive; it is freed when the last view is garbage collected. Not zeroed.
 */
export function nativeArray(size: number, what = 'native array'): { bytes: Uint8Array; address: number } {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`native array size must be a positive integer, got ${size}`);
  const pointer = allocate(size, what);
  const ab = koffi.view(pointer, size) as ArrayBuffer;
  arrayRegistry.register(ab, pointer);
  const address = Number(koffi.address(pointer));
  if (!Number.isSafeInteger(address)) throw new RangeError('native array address does not fit in 53 bits');
  return { bytes: new Uint8Array(ab), address };
}
