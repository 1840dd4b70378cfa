/**
 * AF_XDP socket layouts (linux/if_xdp.h): the socket options, the UMEM
 * registration and bind address structs, and the ring offsets the kernel
 * reports for mmap. Encoding only; the calls are socket.ts's setsockopt,
 * getsockopt and bind, and mman.ts's MappedMemory.
 */

export const SOL_XDP = 283;

/** setsockopt/getsockopt names at SOL_XDP. */
export const XdpSocketOption = {
  MMAP_OFFSETS: 1, RX_RING: 2, TX_RING: 3, UMEM_REG: 4, UMEM_FILL_RING: 5, UMEM_COMPLETION_RING: 6, STATISTICS: 7, OPTIONS: 8,
} as const;

/** sockaddr_xdp.sxdp_flags. */
export const XdpBindFlags = { SHARED_UMEM: 1 << 0, COPY: 1 << 1, ZEROCOPY: 1 << 2, USE_NEED_WAKEUP: 1 << 3, USE_SG: 1 << 4 } as const;

/** mmap offsets (page offsets) that select which ring of an AF_XDP socket is mapped. */
export const XdpMmapOffset = { RX_RING: 0, TX_RING: 0x80000000, FILL_RING: 0x100000000, COMPLETION_RING: 0x180000000 } as const;

export interface UmemReg {
  /** User address of the (page-aligned) packet buffer area. */
  address: bigint;
  length: number;
  chunkSize: number;
  headroom?: number;
  flags?: number;
  txMetadataLength?: number;
}

/** struct xdp_umem_reg (32 bytes: addr, len, chunk_size, headroom, flags, tx_metadata_len). */
export function encodeUmemReg(reg: UmemReg): Uint8Array {
  const bytes = new Uint8Array(32);
  const v = new DataView(bytes.buffer);
  v.setBigUint64(0, reg.address, true);
  v.setBigUint64(8, BigInt(reg.length), true);
  v.setUint32(16, reg.chunkSize, true);
  v.setUint32(20, reg.headroom ?? 0, true);
  v.setUint32(24, reg.flags ?? 0, true);
  v.setUint32(28, reg.txMetadataLength ?? 0, true);
  return bytes;
}

/** struct sockaddr_xdp (16 bytes). */
export function encodeSockaddrXdp(ifindex: number, queueId: number, flags = 0, sharedUmemFd = 0): Uint8Array {
  const bytes = new Uint8Array(16);
  const v = new DataView(bytes.buffer);
  v.setUint16(0, 44, true); // AF_XDP
  v.setUint16(2, flags, true);
  v.setUint32(4, ifindex, true);
  v.setUint32(8, queueId, true);
  v.setUint32(12, sharedUmemFd, true);
  return bytes;
}

/** Byte offsets, inside one ring's mapping, of its producer and consumer indices, descriptors and flags. */
export interface XdpRingOffsets {
  producer: number;
  consumer: number;
  desc: number;
  flags: number;
}

export interface XdpMmapOffsets {
  rx: XdpRingOffsets;
  tx: XdpRingOffsets;
  fill: XdpRingOffsets;
  completion: XdpRingOffsets;
}

/** Size of struct xdp_mmap_offsets (four rings of four u64). */
export const XDP_MMAP_OFFSETS_SIZE = 128;

/** Decodes struct xdp_mmap_offsets as returned by getsockopt(XDP_MMAP_OFFSETS). */
export function decodeXdpMmapOffsets(bytes: Uint8Array): XdpMmapOffsets {
  if (bytes.byteLength < XDP_MMAP_OFFSETS_SIZE) throw new RangeError(`xdp_mmap_offsets needs ${XDP_MMAP_OFFSETS_SIZE} bytes, got ${bytes.byteLength}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ring = (base: number): XdpRingOffsets => ({
    producer: Number(v.getBigUint64(base, true)),
    consumer: Number(v.getBigUint64(base + 8, true)),
    desc: Number(v.getBigUint64(base + 16, true)),
    flags: Number(v.getBigUint64(base + 24, true)),
  });
  return { rx: ring(0), tx: ring(32), fill: ring(64), completion: ring(96) };
}
