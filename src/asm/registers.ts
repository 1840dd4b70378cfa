/**
 * eBPF registers. r0 holds return values, r1-r5 arguments (clobbered by
 * calls), r6-r9 are callee-saved and r10 is the read-only frame pointer.
 */
export const R0 = 0;
export const R1 = 1;
export const R2 = 2;
export const R3 = 3;
export const R4 = 4;
export const R5 = 5;
export const R6 = 6;
export const R7 = 7;
export const R8 = 8;
export const R9 = 9;
export const R10 = 10;
/** The frame pointer (r10). */
export const RFP = R10;

/** A register number, 0-10. */
export type Register = number;

/** Number of registers a program may name (r0-r10). */
export const REGISTER_COUNT = 11;

export const isRegister = (n: number): boolean => Number.isInteger(n) && n >= 0 && n < REGISTER_COUNT;
