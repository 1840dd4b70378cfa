/** Loading the bpf-tests objects in kernel tests. */
import { objectNameFromPath } from '../../src/elf/map-types.js';
import type { ObjectSpec } from '../../src/elf/object-spec.js';
import { parseObject } from '../../src/elf/parse-object.js';
import { type Collection, type LoadCollectionOptions, loadCollection } from '../../src/kernel/collection.js';
import { expect } from 'chai';
import { readBpfTestObject } from '../elf/objects.js';
import { haveFeature, type KernelFeature } from '../../src/kernel/feature-names.js';
import { skipWithout } from '../support/features.js';

export function bpfTestSpec(file: string): ObjectSpec {
  return parseObject(readBpfTestObject(file), { name: objectNameFromPath(file) });
}

/** What each bpf-tests object needs beyond Linux 5.10 (SEC("syscall") test programs, map kinds, XDP frags). */
export const bpfTestFeatures: Readonly<Record<string, readonly KernelFeature[]>> = {
  'maps.bpf.o': ['bloom_filter'],
  'global_data.bpf.o': ['syscall_prog'],
  'subprogs.bpf.o': ['syscall_prog'],
  'kconfig.bpf.o': ['syscall_prog'],
  'kfunc.bpf.o': ['syscall_prog'],
  'map_in_map.bpf.o': ['syscall_prog'],
  'pinning.bpf.o': ['syscall_prog'],
  'net.bpf.o': ['xdp_frags'],
};

/** Skips (naming the feature) when this kernel cannot load `file`. */
export function needObject(ctx: Mocha.Context, file: string): void {
  skipWithout(ctx, ...(bpfTestFeatures[file] ?? []));
}

/** The features `file` needs that this kernel lacks. */
export const missingFor = (file: string): KernelFeature[] => (bpfTestFeatures[file] ?? []).filter((f) => !haveFeature(f));

export function loadBpfTest(file: string, options: LoadCollectionOptions = {}): Collection {
  return loadCollection(bpfTestSpec(file), options);
}

export const u32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};

export const readU32 = (b: Uint8Array, off = 0): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
export const readU64 = (b: Uint8Array, off = 0): bigint => new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(off, true);

/** An Ethernet + IPv4 + UDP packet (protocol byte settable), 64 bytes. */
export function ipv4Packet(protocol = 17): Uint8Array {
  const p = new Uint8Array(64);
  p.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00], 0);
  p.set([0x45, 0, 0, 50, 0, 0, 0, 0, 64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
  return p;
}

/** Runs a CLI command with its stdout swallowed; fails unless it exits 0. */
export async function quietly(fn: () => Promise<number>): Promise<void> {
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  let status: number;
  try {
    status = await fn();
  } finally {
    process.stdout.write = original;
  }
  expect(status).to.equal(0);
}
