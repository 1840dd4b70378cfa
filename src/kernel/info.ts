/**
 * BPF_OBJ_GET_INFO_BY_FD for maps, programs, BTF objects and links, decoded
 * into plain objects. Offsets come from the generated layouts.
 */
import { readName } from '../syscall/attr.js';
import { Attr, BtfInfoLayout, LinkInfoLayout, MapInfoLayout, ProgInfoLayout } from '../syscall/layouts.generated.js';
import { NativeBuffer } from '../syscall/memory.js';
import { SyscallError } from '../syscall/bpf.js';
import { Errno } from '../syscall/errno.js';
import { bpfCommand } from './bpf-call.js';

/** Fills `info` (of its full size) for `fd`. */
export function getInfoRaw(fd: number, info: NativeBuffer, what: string): void {
  bpfCommand('OBJ_GET_INFO_BY_FD', Attr.info.size, (a) => {
    a.view.setUint32(Attr.info.bpf_fd, fd, true);
    a.view.setUint32(Attr.info.info_len, info.size, true);
    a.view.setBigUint64(Attr.info.info, info.address, true);
  }, what);
}

/** A map's BPF_OBJ_GET_INFO_BY_FD: type, id, sizes, entries, flags, name and BTF ids. */
export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  ifindex: number;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  btfVmlinuxValueTypeId: number;
  mapExtra: bigint;
}

/**
 * BPF_OBJ_GET_INFO_BY_FD on a map fd (`BpfMap.info()` calls it).
 * @example
 * const { id, maxEntries, btfId } = mapInfoByFd(map.fd);
 */
export function mapInfoByFd(fd: number): MapInfo {
  const L = MapInfoLayout;
  using buf = new NativeBuffer(L.size);
  getInfoRaw(fd, buf, 'map info');
  const v = buf.view;
  return {
    type: v.getUint32(L.type, true),
    id: v.getUint32(L.id, true),
    keySize: v.getUint32(L.key_size, true),
    valueSize: v.getUint32(L.value_size, true),
    maxEntries: v.getUint32(L.max_entries, true),
    flags: v.getUint32(L.map_flags, true),
    name: readName(buf.bytes, L.name),
    ifindex: v.getUint32(L.ifindex, true),
    btfId: v.getUint32(L.btf_id, true),
    btfKeyTypeId: v.getUint32(L.btf_key_type_id, true),
    btfValueTypeId: v.getUint32(L.btf_value_type_id, true),
    btfVmlinuxValueTypeId: v.getUint32(L.btf_vmlinux_value_type_id, true),
    mapExtra: v.getBigUint64(L.map_extra, true),
  };
}

/** A program's BPF_OBJ_GET_INFO_BY_FD: type, id, tag, name, the maps it uses, sizes, load time and run statistics, and (when asked for) its instructions and line info. */
export interface ProgInfo {
  type: number;
  id: number;
  /** The program tag (SHA-1 prefix of the instructions) as 16 hex digits. */
  tag: string;
  name: string;
  jitedProgLen: number;
  xlatedProgLen: number;
  loadTime: bigint;
  createdByUid: number;
  mapIds: number[];
  ifindex: number;
  gplCompatible: boolean;
  btfId: number;
  runTimeNs: bigint;
  runCount: bigint;
  recursionMisses: bigint;
  verifiedInsns: number;
  attachBtfObjId: number;
  attachBtfId: number;
  /** The translated (post-verifier) instructions, when asked for. */
  xlated?: Uint8Array;
  /** The JIT-compiled machine code, when asked for. */
  jited?: Uint8Array;
  /** bpf_line_info records of the translated program (insn_off in slots), when asked for with instructions. */
  lineInfo?: Array<{ insnOff: number; fileNameOff: number; lineOff: number; line: number; column: number }>;
}

/** What `progInfoByFd` fetches beyond the fixed fields. */
export interface ProgInfoOptions {
  /** Also fetch the translated and jited instruction bytes, and the line info. */
  instructions?: boolean;
}

/** struct bpf_line_info records: insn_off, file_name_off, line_off, line_col (line << 10 | column). */
function readLineInfo(view: DataView, count: number, recSize: number): NonNullable<ProgInfo['lineInfo']> {
  const out: NonNullable<ProgInfo['lineInfo']> = [];
  for (let i = 0; i < count; i++) {
    const at = i * recSize;
    const lineCol = view.getUint32(at + 12, true);
    out.push({ insnOff: view.getUint32(at, true), fileNameOff: view.getUint32(at + 4, true), lineOff: view.getUint32(at + 8, true), line: lineCol >>> 10, column: lineCol & 0x3ff });
  }
  return out;
}

/**
 * BPF_OBJ_GET_INFO_BY_FD on a program fd (`Program.info()` calls it); with `instructions: true` also the translated and JIT code and the line info.
 * @example
 * const info = progInfoByFd(prog.fd, { instructions: true });
 * console.log(info.name, info.tag, info.xlated?.length);
 */
export function progInfoByFd(fd: number, options: ProgInfoOptions = {}): ProgInfo {
  const L = ProgInfoLayout;
  using buf = new NativeBuffer(L.size);
  getInfoRaw(fd, buf, 'program info');
  let v = buf.view;
  const nrMapIds = v.getUint32(L.nr_map_ids, true);
  const xlatedLen = v.getUint32(L.xlated_prog_len, true);
  const jitedLen = v.getUint32(L.jited_prog_len, true);
  // Second pass for arrays: map ids and, if asked, instruction bytes.
  const mapIds = new NativeBuffer(Math.max(4, nrMapIds * 4));
  const xlated = options.instructions && xlatedLen > 0 ? new NativeBuffer(xlatedLen) : undefined;
  const jited = options.instructions && jitedLen > 0 ? new NativeBuffer(jitedLen) : undefined;
  const nrLines = options.instructions ? v.getUint32(L.nr_line_info, true) : 0;
  const lineRec = v.getUint32(L.line_info_rec_size, true) || 16;
  const lines = nrLines > 0 ? new NativeBuffer(nrLines * lineRec) : undefined;
  try {
    using second = new NativeBuffer(L.size);
    const s = second.view;
    s.setUint32(L.nr_map_ids, nrMapIds, true);
    s.setBigUint64(L.map_ids, mapIds.address, true);
    if (xlated) {
      s.setUint32(L.xlated_prog_len, xlatedLen, true);
      s.setBigUint64(L.xlated_prog_insns, xlated.address, true);
    }
    if (jited) {
      s.setUint32(L.jited_prog_len, jitedLen, true);
      s.setBigUint64(L.jited_prog_insns, jited.address, true);
    }
    if (lines) {
      s.setUint32(L.nr_line_info, nrLines, true);
      s.setUint32(L.line_info_rec_size, lineRec, true);
      s.setBigUint64(L.line_info, lines.address, true);
    }
    getInfoRaw(fd, second, 'program info');
    buf.bytes.set(second.bytes);
    v = buf.view;
    const gotMaps = Math.min(nrMapIds, v.getUint32(L.nr_map_ids, true));
    const ids: number[] = [];
    for (let i = 0; i < gotMaps; i++) ids.push(mapIds.view.getUint32(i * 4, true));
    const tag = [...buf.bytes.subarray(L.tag, L.tag + 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
    return {
      type: v.getUint32(L.type, true),
      id: v.getUint32(L.id, true),
      tag,
      name: readName(buf.bytes, L.name),
      jitedProgLen: jitedLen,
      xlatedProgLen: xlatedLen,
      loadTime: v.getBigUint64(L.load_time, true),
      createdByUid: v.getUint32(L.created_by_uid, true),
      mapIds: ids,
      ifindex: v.getUint32(L.ifindex, true),
      gplCompatible: (v.getUint32(L.gpl_compatible, true) & 1) === 1,
      btfId: v.getUint32(L.btf_id, true),
      runTimeNs: v.getBigUint64(L.run_time_ns, true),
      runCount: v.getBigUint64(L.run_cnt, true),
      recursionMisses: v.getBigUint64(L.recursion_misses, true),
      verifiedInsns: v.getUint32(L.verified_insns, true),
      attachBtfObjId: v.getUint32(L.attach_btf_obj_id, true),
      attachBtfId: v.getUint32(L.attach_btf_id, true),
      ...(xlated ? { xlated: xlated.bytes.slice(0, xlatedLen) } : {}),
      ...(jited ? { jited: jited.bytes.slice(0, jitedLen) } : {}),
      ...(lines ? { lineInfo: readLineInfo(lines.view, Math.min(nrLines, v.getUint32(L.nr_line_info, true)), lineRec) } : {}),
    };
  } finally {
    lines?.free();
    mapIds.free();
    xlated?.free();
    jited?.free();
  }
}

/** A BTF object's BPF_OBJ_GET_INFO_BY_FD: id, size, name and whether it is the kernel's (vmlinux or a module). */
export interface BtfInfo {
  id: number;
  size: number;
  name: string;
  kernelBtf: boolean;
}

/**
 * BPF_OBJ_GET_INFO_BY_FD on a BTF object fd.
 * @example
 * const { id, name, kernelBtf } = btfInfoByFd(btf.fd);
 */
export function btfInfoByFd(fd: number): BtfInfo {
  const L = BtfInfoLayout;
  using name = new NativeBuffer(64);
  using buf = new NativeBuffer(L.size);
  buf.view.setBigUint64(L.name, name.address, true);
  buf.view.setUint32(L.name_len, name.size, true);
  try {
    getInfoRaw(fd, buf, 'BTF info');
  } catch (e) {
    // Before 5.11 bpf_btf_info ends at `id`: the name fields are unknown bytes the kernel refuses (E2BIG).
    if (!(e instanceof SyscallError) || e.errno !== Errno.E2BIG) throw e;
    buf.bytes.fill(0);
    getInfoRaw(fd, buf, 'BTF info');
  }
  const v = buf.view;
  return {
    id: v.getUint32(L.id, true),
    size: v.getUint32(L.btf_size, true),
    name: readName(name.bytes, 0, name.size),
    kernelBtf: (v.getUint32(L.kernel_btf, true) & 1) === 1,
  };
}

/** The fields every link's info has (type, id, program id); `readLinkInfo` decodes the per-type ones too. */
export interface LinkInfoBase {
  type: number;
  id: number;
  progId: number;
  /** The whole struct bpf_link_info, for kind-specific fields (LinkInfoLayout offsets). */
  raw: Uint8Array;
}

/**
 * BPF_OBJ_GET_INFO_BY_FD on a link fd: the fields common to every link type.
 * @example
 * const { id, progId } = linkInfoByFd(link.fd);
 */
export function linkInfoByFd(fd: number): LinkInfoBase {
  const L = LinkInfoLayout;
  using buf = new NativeBuffer(L.size);
  getInfoRaw(fd, buf, 'link info');
  const v = buf.view;
  return { type: v.getUint32(L.type, true), id: v.getUint32(L.id, true), progId: v.getUint32(L.prog_id, true), raw: buf.bytes.slice() };
}
