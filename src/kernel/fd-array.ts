/**
 * BPF_PROG_LOAD's fd_array is a bare pointer: the kernel is not told its
 * length and reads fd_array[i] for whatever index an instruction names. An
 * index past the end makes it read heap memory beyond the array, and any
 * number found there that happens to be an open map fd binds that unrelated
 * map to the program. So every index is checked here before the call.
 *
 * Instructions that index fd_array:
 * - lddw with src_reg BPF_PSEUDO_MAP_IDX (5) or BPF_PSEUDO_MAP_IDX_VALUE (6):
 *   imm is the index of a map fd;
 * - call with src_reg BPF_PSEUDO_KFUNC_CALL (2) and off != 0: off is the
 *   index of the fd of the module BTF that defines the kfunc.
 */
const LDDW = 0x18;
const CALL = 0x85;
const PSEUDO_MAP_IDX = 5;
const PSEUDO_MAP_IDX_VALUE = 6;
const PSEUDO_KFUNC_CALL = 2;

/** An instruction names an fd_array slot that does not exist, or fd_array holds a non-fd. */
export class FdArrayError extends RangeError {
  override readonly name = 'FdArrayError';
  readonly code = 'E_FD_ARRAY';
}

/** Throws FdArrayError unless every fd_array index in `code` (8-byte slots) is inside `fdArray`. */
export function checkFdArray(code: Uint8Array, fdArray: readonly number[] | undefined): void {
  const length = fdArray?.length ?? 0;
  fdArray?.forEach((fd, i) => {
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new FdArrayError(`fdArray[${i}] is ${fd}, not a file descriptor`);
  });
  const view = new DataView(code.buffer, code.byteOffset, code.byteLength);
  const slots = code.byteLength >> 3;
  const outside = (slot: number, what: string, index: number): FdArrayError =>
    new FdArrayError(`instruction ${slot}: ${what} ${index} is outside fdArray (${length === 0 ? 'none given' : `${length} entries, 0..${length - 1}`}); the kernel would read past the array`);
  for (let slot = 0; slot < slots; slot++) {
    const at = slot * 8;
    const opcode = code[at]!;
    const src = code[at + 1]! >> 4;
    if (opcode === LDDW) {
      if (src === PSEUDO_MAP_IDX || src === PSEUDO_MAP_IDX_VALUE) {
        const index = view.getUint32(at + 4, true);
        if (index >= length) throw outside(slot, 'map index', index);
      }
      slot++; // the second half of the wide load
    } else if (opcode === CALL && src === PSEUDO_KFUNC_CALL) {
      const index = view.getInt16(at + 2, true);
      if (index !== 0 && (index < 0 || index >= length)) throw outside(slot, 'kfunc BTF fd index', index);
    }
  }
}
