/**
 * The interpreter's address space: a set of byte regions (stack frames, input
 * memory, map values) at distinct virtual addresses. A pointer is
 * `region id << 32 | offset`, so finding the region of an address costs one
 * shift and one array index, and no address ever aliases two regions.
 * Every access is bounds-checked; a miss is an InterpError, never a JS exception.
 */
import { InterpError } from './errors.js';

export interface Region {
  readonly id: number;
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly writable: boolean;
  /** The address of the region's first byte. */
  readonly base: bigint;
  /** Anything the owner wants to find again from a pointer (e.g. the map behind a map handle). */
  readonly tag?: unknown;
  /**
   * Context fields the kernel rewrites into pointers (xdp_md.data, __sk_buff.data_end...):
   * a 4-byte load at one of these offsets yields the full 64-bit pointer.
   */
  readonly pointerFields?: ReadonlyMap<number, bigint>;
}

export interface RegionOptions {
  name?: string;
  writable?: boolean;
  tag?: unknown;
  pointerFields?: ReadonlyMap<number, bigint>;
}

const REGION_SHIFT = 32n;
const OFFSET_MASK = 0xffffffffn;

export class Memory {
  private readonly regions: (Region | undefined)[] = [undefined]; // id 0 is the null page
  private readonly byBytes = new WeakMap<Uint8Array, Region>();

  /** Maps `bytes` into the address space (once: the same array always gets the same region). */
  add(bytes: Uint8Array, options: RegionOptions = {}): Region {
    const known = this.byBytes.get(bytes);
    if (known) return known;
    const id = this.regions.length;
    const region: Region = {
      id,
      name: options.name ?? `region${id}`,
      bytes,
      view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      writable: options.writable ?? true,
      base: BigInt(id) << REGION_SHIFT,
      tag: options.tag,
      pointerFields: options.pointerFields,
    };
    this.regions.push(region);
    this.byBytes.set(bytes, region);
    return region;
  }

  /** The region an address points into, if any (the address may be at its end). */
  regionAt(addr: bigint): Region | undefined {
    if (addr < 0n) return undefined;
    const id = Number(addr >> REGION_SHIFT);
    return id < this.regions.length ? this.regions[id] : undefined;
  }

  private locate(addr: bigint, size: number, write: boolean, pc: number | undefined): [Region, number] {
    const region = this.regionAt(addr);
    const offset = Number(addr & OFFSET_MASK);
    if (region === undefined || offset + size > region.bytes.length) {
      const where = region ? `${region.name}+${offset} (a ${region.bytes.length}-byte region)` : `0x${BigInt.asUintN(64, addr).toString(16)}`;
      throw new InterpError('E_OUT_OF_BOUNDS', `${write ? 'write' : 'read'} of ${size} byte${size === 1 ? '' : 's'} at ${where} is out of bounds`, pc);
    }
    if (write && !region.writable) throw new InterpError('E_READ_ONLY', `write to read-only ${region.name}+${offset}`, pc);
    return [region, offset];
  }

  /** Loads a little-endian unsigned value of 1, 2, 4 or 8 bytes. */
  load(addr: bigint, size: number, pc?: number): bigint {
    const [r, o] = this.locate(addr, size, false, pc);
    switch (size) {
      case 1:
        return BigInt(r.view.getUint8(o));
      case 2:
        return BigInt(r.view.getUint16(o, true));
      case 4:
        if (r.pointerFields !== undefined) {
          const pointer = r.pointerFields.get(o);
          if (pointer !== undefined) return pointer;
        }
        return BigInt(r.view.getUint32(o, true));
      default:
        return r.view.getBigUint64(o, true);
    }
  }

  /** Stores the low 1, 2, 4 or 8 bytes of `value`, little-endian. */
  store(addr: bigint, size: number, value: bigint, pc?: number): void {
    const [r, o] = this.locate(addr, size, true, pc);
    switch (size) {
      case 1:
        r.view.setUint8(o, Number(value & 0xffn));
        break;
      case 2:
        r.view.setUint16(o, Number(value & 0xffffn), true);
        break;
      case 4:
        r.view.setUint32(o, Number(value & 0xffffffffn), true);
        break;
      default:
        r.view.setBigUint64(o, BigInt.asUintN(64, value), true);
    }
  }

  /** A live view of `size` bytes at `addr` (for helpers reading keys, values, strings). */
  slice(addr: bigint, size: number, pc?: number, write = false): Uint8Array {
    const [r, o] = this.locate(addr, size, write, pc);
    return r.bytes.subarray(o, o + size);
  }

  /** How many of the `max` bytes from `addr` lie inside its region (0 when none do). */
  availableAt(addr: bigint, max: number): number {
    const region = this.regionAt(addr);
    return region ? Math.max(0, Math.min(max, region.bytes.length - Number(addr & OFFSET_MASK))) : 0;
  }

  /** A NUL-terminated string of at most `max` bytes at `addr`. */
  cString(addr: bigint, max: number, pc?: number): string {
    const available = this.availableAt(addr, max);
    // With nothing available, a 1-byte slice raises the out-of-bounds error.
    const bytes = this.slice(addr, available === 0 ? 1 : available, pc);
    const nul = bytes.indexOf(0);
    let s = '';
    for (const b of nul >= 0 ? bytes.subarray(0, nul) : bytes) s += String.fromCharCode(b);
    return s;
  }
}
