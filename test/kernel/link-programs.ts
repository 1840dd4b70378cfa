/**
 * Tiny hand-written BPF programs for the link and reader tests: a counter
 * in an array map (optionally only for this process), packet counters for
 * XDP/tc/socket filters, and ring/perf buffer emitters. Plain instructions,
 * so the tests depend only on src/asm's Instruction.
 */
import { Helper } from '../../src/asm/helpers.js';
import { instruction, wideLoad, type Instruction } from '../../src/asm/instruction.js';

export const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R6 = 6, R7 = 7, R8 = 8, R9 = 9, R10 = 10;

export const op = {
  mov: (dst: number, imm: number) => instruction(0xb7, dst, 0, 0, imm),
  movr: (dst: number, src: number) => instruction(0xbf, dst, src),
  mov32r: (dst: number, src: number) => instruction(0xbc, dst, src),
  add: (dst: number, imm: number) => instruction(0x07, dst, 0, 0, imm),
  addr: (dst: number, src: number) => instruction(0x0f, dst, src),
  rsh: (dst: number, imm: number) => instruction(0x77, dst, 0, 0, imm),
  and: (dst: number, imm: number) => instruction(0x57, dst, 0, 0, imm),
  ldxw: (dst: number, src: number, off: number) => instruction(0x61, dst, src, off),
  ldxh: (dst: number, src: number, off: number) => instruction(0x69, dst, src, off),
  ldxb: (dst: number, src: number, off: number) => instruction(0x71, dst, src, off),
  ldxdw: (dst: number, src: number, off: number) => instruction(0x79, dst, src, off),
  stw: (dst: number, off: number, imm: number) => instruction(0x62, dst, 0, off, imm),
  stdw: (dst: number, off: number, imm: number) => instruction(0x7a, dst, 0, off, imm),
  stxw: (dst: number, off: number, src: number) => instruction(0x63, dst, src, off),
  stxdw: (dst: number, off: number, src: number) => instruction(0x7b, dst, src, off),
  atomicAdd: (dst: number, off: number, src: number) => instruction(0xdb, dst, src, off, 0),
  jeq: (dst: number, imm: number, off: number) => instruction(0x15, dst, 0, off, imm),
  jne: (dst: number, imm: number, off: number) => instruction(0x55, dst, 0, off, imm),
  jgtr: (dst: number, src: number, off: number) => instruction(0x2d, dst, src, off),
  ja: (off: number) => instruction(0x05, 0, 0, off),
  call: (helper: number) => instruction(0x85, 0, 0, 0, helper),
  exit: () => instruction(0x95),
  mapFd: (dst: number, fd: number) => wideLoad(dst, fd, 1),
};

/** Short names for the helpers these programs call. */
export const Helpers = {
  mapLookup: Helper.map_lookup_elem, ktimeNs: Helper.ktime_get_ns, pidTgid: Helper.get_current_pid_tgid, perfEventOutput: Helper.perf_event_output,
  ringbufOutput: Helper.ringbuf_output, ringbufReserve: Helper.ringbuf_reserve, ringbufSubmit: Helper.ringbuf_submit, ringbufDiscard: Helper.ringbuf_discard,
  seqWrite: Helper.seq_write, loop: Helper.loop,
} as const;

/** r0 = &map[key 0] (or null), with the key at r10-4; clobbers r0-r5. */
export function lookupSlot0(mapFd: number): Instruction[] {
  return [op.stw(R10, -4, 0), op.mapFd(R1, mapFd), op.movr(R2, R10), op.add(R2, -4), op.call(Helpers.mapLookup)];
}

/** map[key 0] += 1 (u64, atomic), clobbers r0-r5. */
export function incrementSlot0(mapFd: number): Instruction[] {
  return [
    ...lookupSlot0(mapFd),
    op.jeq(R0, 0, 2),
    op.mov(R1, 1),
    op.atomicAdd(R0, 0, R1),
  ];
}

/**
 * A program that counts its runs in slot 0 of `mapFd` when the current thread
 * id is `pid` (the main thread of process `pid`), and returns `ret`. Not an
 * exact count of the test's own calls: node and V8 make system calls on the
 * main thread too (the garbage collector calls getpid); marked-calls.ts is.
 */
export function countForPid(mapFd: number, pid: number, ret = 0): Instruction[] {
  const body = incrementSlot0(mapFd);
  return [
    op.call(Helpers.pidTgid),
    // The thread id (low half), not the tgid: not a Node helper thread's calls.
    op.mov32r(R0, R0),
    op.jne(R0, pid, body.length + 1), // lddw takes two slots
    ...body,
    op.mov(R0, ret),
    op.exit(),
  ];
}

/** A program that counts every run and returns `ret`. */
export function countAll(mapFd: number, ret = 0): Instruction[] {
  return [...incrementSlot0(mapFd), op.mov(R0, ret), op.exit()];
}

/**
 * Packet counter for XDP (ctxData=0, ctxEnd=4) or __sk_buff (76, 80):
 * counts IPv4/UDP packets to `udpPort` (network order compared in host
 * order after loading the big-endian half) and returns `ret`.
 */
export function countUdpToPort(mapFd: number, udpPort: number, ret: number, ctxData: number, ctxEnd: number): Instruction[] {
  const body = incrementSlot0(mapFd);
  const portBe = ((udpPort & 0xff) << 8) | (udpPort >> 8); // ldxh reads little-endian
  const tail = body.length + 1; // lddw is 2 slots
  const prog: Instruction[] = [
    op.ldxw(R2, R1, ctxData),
    op.ldxw(R3, R1, ctxEnd),
    op.movr(R4, R2),
    op.add(R4, 14 + 20 + 8),
    op.jgtr(R4, R3, 6 + tail),
    op.ldxh(R5, R2, 12), // ethertype
    op.jne(R5, 0x0008, 4 + tail), // 0x0800 big-endian
    op.ldxb(R5, R2, 14 + 9), // ip protocol
    op.jne(R5, 17, 2 + tail),
    op.ldxh(R5, R2, 14 + 20 + 2), // udp dest port (assumes no IP options)
    op.jne(R5, portBe, tail),
    ...body,
    op.mov(R0, ret),
    op.exit(),
  ];
  return prog;
}

/**
 * An XDP program (for BPF_PROG_TEST_RUN) that emits one `size`-byte event per
 * run into a ring buffer (ringbuf_output) or a perf event array
 * (perf_event_output, BPF_F_CURRENT_CPU): the event starts with a u64
 * sequence number taken from slot 0 of `seqMapFd`, then filler words 0xffffffffabababab.
 * Returns XDP_PASS.
 */
export function emitSequencedEvents(seqMapFd: number, outMapFd: number, kind: 'ringbuf' | 'perf', size = 64): Instruction[] {
  if (size % 8 !== 0 || size < 8 || size > 256) throw new RangeError('event size must be a multiple of 8 in [8, 256]');
  const base = -8 - size; // event at [r10 + base, r10 - 8)
  const fill: Instruction[] = [];
  for (let o = base + 8; o < -8; o += 8) fill.push(op.stdw(R10, o, -0x54545455)); // filler 0xffffffffabababab (imm is sign-extended)
  const emit: Instruction[] = kind === 'ringbuf'
    ? [op.mapFd(R1, outMapFd), op.movr(R2, R10), op.add(R2, base), op.mov(R3, size), op.mov(R4, 0), op.call(Helpers.ringbufOutput)]
    : [op.movr(R1, R6), op.mapFd(R2, outMapFd), wideLoad(R3, 0xffffffffn), op.movr(R4, R10), op.add(R4, base), op.mov(R5, size), op.call(Helpers.perfEventOutput)];
  const after: Instruction[] = [
    op.ldxdw(R7, R0, 0),
    op.movr(R1, R7),
    op.add(R1, 1),
    op.stxdw(R0, 0, R1),
    op.stxdw(R10, base, R7),
    ...fill,
    ...emit,
  ];
  const slots = (list: Instruction[]): number => list.reduce((n, i) => n + (i.opcode === 0x18 ? 2 : 1), 0);
  return [
    op.movr(R6, R1),
    ...lookupSlot0(seqMapFd),
    op.jeq(R0, 0, slots(after)),
    ...after,
    op.mov(R0, 2),
    op.exit(),
  ];
}

/**
 * An XDP program that reserves a 64-byte ring buffer record per run, writes
 * the u64 sequence number into it, and submits even sequence numbers but
 * discards odd ones (so the ring holds DISCARD records between samples).
 */
export function reserveSubmitEvenDiscardOdd(seqMapFd: number, ringFd: number): Instruction[] {
  return [
    op.movr(R6, R1),
    ...lookupSlot0(seqMapFd),
    op.jeq(R0, 0, 19), // -> out
    op.ldxdw(R7, R0, 0),
    op.movr(R1, R7),
    op.add(R1, 1),
    op.stxdw(R0, 0, R1),
    op.mapFd(R1, ringFd),
    op.mov(R2, 64),
    op.mov(R3, 0),
    op.call(Helpers.ringbufReserve),
    op.jeq(R0, 0, 9), // -> out
    op.stxdw(R0, 0, R7),
    op.movr(R1, R0),
    op.mov(R2, 0),
    op.movr(R3, R7),
    op.and(R3, 1),
    op.jeq(R3, 0, 2), // even -> submit
    op.call(Helpers.ringbufDiscard),
    op.ja(1),
    op.call(Helpers.ringbufSubmit),
    op.mov(R0, 2), // out
    op.exit(),
  ];
}
