/**
 * A zeroed `union bpf_attr` for commands off the hot path. One scratch
 * buffer serves every such call: bpf() is synchronous and JS single-threaded,
 * so it is filled and consumed before anyone else can touch it.
 */
import { ATTR_SIZE } from './layouts.generated.js';
import { NativeBuffer } from './memory.js';

let scratch: NativeBuffer | undefined;

/** The shared scratch attr, zeroed. Use it immediately; do not keep it. */
export function scratchAttr(): NativeBuffer {
  scratch ??= new NativeBuffer(ATTR_SIZE);
  scratch.bytes.fill(0);
  return scratch;
}

/** Writes a NUL-padded name (at most `max - 1` bytes) at `offset`. */
export function writeName(attr: NativeBuffer, offset: number, name: string, max = 16): void {
  const encoded = new TextEncoder().encode(name);
  attr.bytes.fill(0, offset, offset + max);
  attr.bytes.set(encoded.subarray(0, max - 1), offset);
}

const utf8 = new TextDecoder();

/** Reads a NUL-terminated string of at most `max` bytes at `offset`. */
export function readName(bytes: Uint8Array, offset: number, max = 16): string {
  let end = offset;
  while (end < offset + max && end < bytes.length && bytes[end] !== 0) end++;
  return utf8.decode(bytes.subarray(offset, end));
}
