/** The raw bytes of a BTF object in the kernel (for decoding a map's keys and values). */
import { BtfInfoLayout } from '../syscall/layouts.generated.js';
import { NativeBuffer } from '../syscall/memory.js';
import { btfInfoByFd, getInfoRaw } from './info.js';
import { BtfObject } from './btf-object.js';

export function btfBytesById(id: number): { bytes: Uint8Array; kernelBtf: boolean; name: string } {
  using obj = BtfObject.fromId(id);
  const info = btfInfoByFd(obj.fd);
  using data = new NativeBuffer(Math.max(1, info.size));
  using buf = new NativeBuffer(BtfInfoLayout.size);
  buf.view.setBigUint64(BtfInfoLayout.btf, data.address, true);
  buf.view.setUint32(BtfInfoLayout.btf_size, info.size, true);
  getInfoRaw(obj.fd, buf, 'BTF info');
  return { bytes: data.bytes.slice(0, info.size), kernelBtf: info.kernelBtf, name: info.name };
}
