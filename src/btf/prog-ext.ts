/**
 * func_info and line_info in the layout BPF_PROG_LOAD reads (struct
 * bpf_func_info, struct bpf_line_info): unlike .BTF.ext, where offsets are
 * in bytes, `insn` counts instructions. The loader and the DSL's direct
 * loading path both hand the kernel these arrays.
 */

/** Record sizes, the same in .BTF.ext and in BPF_PROG_LOAD's arrays. */
export const FUNC_INFO_RECORD_SIZE = 8;
export const LINE_INFO_RECORD_SIZE = 16;

/** line_col: the line number in the high 22 bits, the column in the low 10. */
export const packLineCol = (lineNumber: number, column: number): number => ((lineNumber << 10) | (column & 0x3ff)) >>> 0;

export function packFuncInfo(records: readonly { insn: number; typeId: number }[]): Uint8Array {
  const out = new Uint8Array(records.length * FUNC_INFO_RECORD_SIZE);
  const v = new DataView(out.buffer);
  records.forEach((r, i) => {
    v.setUint32(i * FUNC_INFO_RECORD_SIZE, r.insn, true);
    v.setUint32(i * FUNC_INFO_RECORD_SIZE + 4, r.typeId, true);
  });
  return out;
}

export function packLineInfo(
  records: readonly { insn: number; fileNameOff: number; lineOff: number; lineNumber: number; column: number }[],
): Uint8Array {
  const out = new Uint8Array(records.length * LINE_INFO_RECORD_SIZE);
  const v = new DataView(out.buffer);
  records.forEach((r, i) => {
    const at = i * LINE_INFO_RECORD_SIZE;
    v.setUint32(at, r.insn, true);
    v.setUint32(at + 4, r.fileNameOff, true);
    v.setUint32(at + 8, r.lineOff, true);
    v.setUint32(at + 12, packLineCol(r.lineNumber, r.column), true);
  });
  return out;
}
