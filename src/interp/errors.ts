/** Every error raised while running a program in the interpreter. */
export class InterpError extends Error {
  override readonly name = 'InterpError';
  constructor(
    readonly code: InterpErrorCode,
    message: string,
    /** Slot index of the instruction that failed, when there is one. */
    readonly pc?: number,
  ) {
    super(pc === undefined ? message : `pc ${pc}: ${message}`);
  }
}

export type InterpErrorCode =
  /** The bytecode could not be decoded (truncated, lddw without its second slot). */
  | 'E_DECODE'
  /** An opcode (or an opcode/field combination) that is not an eBPF instruction. */
  | 'E_INVALID_INSTRUCTION'
  /** A load, store or helper touched memory outside every region. */
  | 'E_OUT_OF_BOUNDS'
  /** A store to a read-only region. */
  | 'E_READ_ONLY'
  /** The instruction budget ran out (a runaway loop). */
  | 'E_BUDGET'
  /** A jump or call left the program, or the program ran off its end. */
  | 'E_PC_OUT_OF_RANGE'
  /** bpf-to-bpf calls nested deeper than the kernel allows. */
  | 'E_CALL_DEPTH'
  /** A call to a helper or kfunc the helper table does not have. */
  | 'E_UNKNOWN_HELPER'
  /** lddw names a map the run was not given. */
  | 'E_UNKNOWN_MAP'
  /** A helper rejected its arguments. */
  | 'E_HELPER'
  /** Something only a kernel can provide (CO-RE, kernel symbols, kfuncs). */
  | 'E_UNSUPPORTED';
