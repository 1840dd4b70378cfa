import { expect } from 'chai';
import { decodeXdpMmapOffsets, encodeSockaddrXdp, encodeUmemReg, XDP_MMAP_OFFSETS_SIZE, XdpBindFlags } from '../../src/syscall/xdp-socket.js';

describe('syscall: AF_XDP layouts', function () {
  it('sockaddr_xdp is family, flags, ifindex, queue id, shared umem fd (16 bytes, little-endian)', function () {
    const sa = encodeSockaddrXdp(7, 3, XdpBindFlags.COPY, 9);
    expect([...sa]).to.deep.equal([44, 0, 2, 0, 7, 0, 0, 0, 3, 0, 0, 0, 9, 0, 0, 0]);
  });

  it('xdp_umem_reg is addr, len, chunk_size, headroom, flags, tx_metadata_len (32 bytes)', function () {
    const reg = encodeUmemReg({ address: 0x7f0000001000n, length: 0x20000, chunkSize: 2048, headroom: 64 });
    const v = new DataView(reg.buffer);
    expect(reg.byteLength).to.equal(32);
    expect(v.getBigUint64(0, true)).to.equal(0x7f0000001000n);
    expect(v.getBigUint64(8, true)).to.equal(0x20000n);
    expect(v.getUint32(16, true)).to.equal(2048);
    expect(v.getUint32(20, true)).to.equal(64);
    expect(v.getUint32(24, true)).to.equal(0);
    expect(v.getUint32(28, true)).to.equal(0);
  });

  it('xdp_mmap_offsets decodes the rx, tx, fill and completion rings in that order; a short buffer is a RangeError', function () {
    const raw = new Uint8Array(XDP_MMAP_OFFSETS_SIZE);
    const v = new DataView(raw.buffer);
    for (let i = 0; i < 16; i++) v.setBigUint64(i * 8, BigInt(i * 64), true);
    const o = decodeXdpMmapOffsets(raw);
    expect(o.rx).to.deep.equal({ producer: 0, consumer: 64, desc: 128, flags: 192 });
    expect(o.fill.producer).to.equal(8 * 64);
    expect(o.completion.flags).to.equal(15 * 64);
    expect(() => decodeXdpMmapOffsets(new Uint8Array(64))).to.throw(RangeError);
  });
});
