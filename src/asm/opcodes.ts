/**
 * The eBPF opcode space (RFC 9669). Plain numeric constants so that they
 * survive isolatedModules and cost nothing at run time.
 */

/** Instruction class: the low 3 bits of the opcode. */
export const Class = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;

/** Access size for load/store classes (bits 3-4). */
export const Size = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;

/** Mode for load/store classes (bits 5-7). */
export const Mode = {
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  MEMSX: 0x80,
  ATOMIC: 0xc0,
} as const;

/** Operand source for ALU and jump classes (bit 3). */
export const Source = { K: 0x00, X: 0x08 } as const;

/** ALU operation (bits 4-7). */
export const AluOp = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  ARSH: 0xc0,
  END: 0xd0,
} as const;

/** Jump operation (bits 4-7). */
export const JmpOp = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
} as const;

/** The imm field of an atomic instruction. */
export const AtomicOp = {
  ADD: 0x00,
  OR: 0x40,
  AND: 0x50,
  XOR: 0xa0,
  FETCH: 0x01,
  XCHG: 0xe1,
  CMPXCHG: 0xf1,
} as const;

/** src_reg values of the 64-bit immediate load (lddw). */
export const PseudoLoad = {
  IMM: 0,
  MAP_FD: 1,
  MAP_VALUE: 2,
  BTF_ID: 3,
  FUNC: 4,
  MAP_IDX: 5,
  MAP_IDX_VALUE: 6,
} as const;

/** src_reg values of a call instruction. */
export const PseudoCall = { HELPER: 0, CALL: 1, KFUNC_CALL: 2 } as const;

/** Opcode of the two-slot 64-bit immediate load. */
export const LDDW = Class.LD | Size.DW | Mode.IMM; // 0x18
/** Opcode of `call`. */
export const CALL = Class.JMP | JmpOp.CALL; // 0x85
/** Opcode of `callx` (call through a register). */
export const CALLX = Class.JMP | JmpOp.CALL | Source.X; // 0x8d
/** Opcode of `exit`. */
export const EXIT = Class.JMP | JmpOp.EXIT; // 0x95
/** Opcode of `ja` with 16-bit offset. */
export const JA = Class.JMP | JmpOp.JA; // 0x05
/** Opcode of `gotol` / `ja32` (32-bit offset in imm). */
export const JA32 = Class.JMP32 | JmpOp.JA; // 0x06

/** Size in bytes of one instruction slot. */
export const SLOT_SIZE = 8;

export const opClass = (opcode: number): number => opcode & 0x07;
export const opSize = (opcode: number): number => opcode & 0x18;
export const opMode = (opcode: number): number => opcode & 0xe0;
export const opSource = (opcode: number): number => opcode & 0x08;
export const opCode = (opcode: number): number => opcode & 0xf0;

export const isAlu = (opcode: number): boolean => {
  const c = opClass(opcode);
  return c === Class.ALU || c === Class.ALU64;
};
export const isJump = (opcode: number): boolean => {
  const c = opClass(opcode);
  return c === Class.JMP || c === Class.JMP32;
};
export const isLoadStore = (opcode: number): boolean => opClass(opcode) <= Class.STX;

/** Bytes accessed by a load/store size code. */
export const sizeBytes = (size: number): number =>
  size === Size.B ? 1 : size === Size.H ? 2 : size === Size.W ? 4 : 8;
