/**
 * The execution loop: RFC 9669 semantics for every v1–v4 instruction plus the
 * legacy packet loads. Registers live in one BigUint64Array with 32-bit
 * views over the same bytes, so 32-bit ALU and JMP32 work on plain numbers
 * and 64-bit results wrap simply by being stored.
 */
import { AluOp, Class, JmpOp, Mode, PseudoCall, PseudoLoad, Size, Source, sizeBytes } from '../asm/opcodes.js';
import { helperName } from '../asm/helpers.js';
import { InterpError } from './errors.js';
import { type Helper, type HelperContext, type HelperTable, HelperId, type TaskInfo, defaultHelpers } from './helpers.js';
import type { InterpMap } from './maps.js';
import { atomic } from './atomics.js';
import { type ProgramInput, setUpContext } from './context.js';
import { Memory, type Region } from './memory.js';
import { ProgArrayMap } from './prog-array.js';
import type { DecodedProgram } from './program.js';

export const STACK_SIZE = 512;
/** The kernel's limit on nested bpf-to-bpf call frames (MAX_CALL_FRAMES). */
export const MAX_CALL_FRAMES = 8;
export const DEFAULT_BUDGET = 1_000_000;
/** The kernel's limit on chained tail calls (MAX_TAIL_CALL_CNT). */
export const MAX_TAIL_CALLS = 33;

/** How a run starts and what it may call; the program's input (mem, ctx, xdp, skb) is described in context.ts. */
export interface RunOptions extends ProgramInput {
  /** Helpers by id, added to (or replacing) the default table. */
  helpers?: HelperTable;
  /** Kernel functions by BTF id, for kfunc calls (call with src 2); there are none by default. */
  kfuncs?: HelperTable;
  /** Maps by the fd/index an lddw names (src 1/2 use the fd, src 5/6 the index). */
  maps?: readonly InterpMap[] | ReadonlyMap<number, InterpMap>;
  /** Maximum number of instructions to execute (default 1,000,000). */
  budget?: number;
  /** Called for every bpf_trace_printk line (they are also collected in the result). */
  onTrace?: (line: string) => void;
  /** Clock for ktime helpers, in nanoseconds (default: a counter starting at 1e9 ticking 1000 per call). */
  now?: () => bigint;
  /** Random source for bpf_get_prandom_u32 (default: a fixed-seed xorshift, so runs are reproducible). */
  random?: () => number;
  /** The CPU the program runs on: bpf_get_smp_processor_id and per-CPU maps (default 0). */
  cpu?: number;
  /** The task bpf_get_current_pid_tgid/uid_gid/comm/cgroup_id report (default pid = tgid = 1000, uid = gid = 0, comm "tsbpf", cgroup 1). */
  task?: Partial<TaskInfo>;
}

export interface RunResult {
  r0: bigint;
  /** r0..r10 at exit. */
  registers: bigint[];
  /** Instructions executed. */
  instructions: number;
  /** bpf_trace_printk output, one entry per call. */
  trace: string[];
  /** The address space, for inspecting memory after the run. */
  memory: Memory;
  /** The packet (or mem) at exit: the caller's array, or its resized copy after bpf_xdp_adjust_head/tail. */
  packet?: Uint8Array;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;

const bswap16 = (x: number): number => ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
const bswap32 = (x: number): number => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;

interface Frame {
  returnPc: number;
  saved: BigUint64Array; // r6..r10
}

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Executes a decoded program to its final exit. */
export function execute(program: DecodedProgram, options: RunOptions = {}): RunResult {
  const memory = new Memory();
  const budget = options.budget ?? DEFAULT_BUDGET;
  if (!(budget > 0)) throw new RangeError(`budget must be a positive number of instructions, got ${budget}`);
  const helpers: HelperTable = options.helpers ? { ...defaultHelpers, ...options.helpers } : defaultHelpers;
  const trace: string[] = [];
  let clock = 1_000_000_000n;
  const now = options.now ?? (() => (clock += 1000n));
  const random = options.random ?? xorshift(0x2545f491);

  const R = new BigUint64Array(11);
  const RS = new BigInt64Array(R.buffer);
  const W = new Uint32Array(R.buffer);
  const WS = new Int32Array(R.buffer);

  const stacks: Region[] = [];
  const stackTop = (depth: number): bigint => {
    let s = stacks[depth];
    if (!s) {
      s = memory.add(new Uint8Array(STACK_SIZE), { name: depth === 0 ? 'stack' : `stack[frame ${depth}]` });
      stacks[depth] = s;
    } else {
      s.bytes.fill(0);
    }
    return s.base + BigInt(STACK_SIZE);
  };
  const frames: Frame[] = [];

  const packet = setUpContext(memory, R, options);
  R[10] = stackTop(0);

  // Map handles: a zero-length region per map, tagged with the map, so a map pointer is recognisable and not dereferenceable.
  const mapHandles = new Map<InterpMap, bigint>();
  const mapByKey = (key: number, pc: number): InterpMap => {
    const maps = options.maps;
    const m = maps === undefined ? undefined : Array.isArray(maps) ? (maps as readonly InterpMap[])[key] : (maps as ReadonlyMap<number, InterpMap>).get(key);
    if (!m) throw new InterpError('E_UNKNOWN_MAP', `lddw refers to map ${key}, which this run was not given`, pc);
    return m;
  };
  const handleOf = (m: InterpMap): bigint => {
    let h = mapHandles.get(m);
    if (h === undefined) {
      h = memory.add(new Uint8Array(0), { name: `${m.type} map`, writable: false, tag: new MapHandle(m) }).base;
      mapHandles.set(m, h);
    }
    return h;
  };

  let pc = 0;
  // Function pointers (lddw src 4) point into this zero-length region, at the target slot.
  let functions: Region | undefined;
  let callFunction: (fn: bigint, args: readonly bigint[]) => bigint = () => 0n;
  const ctx: HelperContext = {
    memory,
    get pc() {
      return pc;
    },
    map(handle: bigint): InterpMap {
      const region = memory.regionAt(handle);
      const tag = region && handle === region.base ? region.tag : undefined;
      if (!(tag instanceof MapHandle)) throw new InterpError('E_HELPER', `0x${handle.toString(16)} is not a map pointer`, pc);
      return tag.map;
    },
    mapPointer: (m) => handleOf(m),
    pointerTo: (bytes, name) => memory.add(bytes, { name: name ?? 'helper memory' }).base,
    trace(line) {
      trace.push(line);
      options.onTrace?.(line);
    },
    now,
    random,
    cpu: options.cpu ?? 0,
    task: { pid: 1000, tgid: 1000, uid: 0, gid: 0, comm: 'tsbpf', cgroupId: 1n, ...options.task },
    get packet() {
      return packet?.bytes;
    },
    resizePacket: (head, tail) => (packet ? packet.resize(head, tail) : -22),
    call: (fn, ...args) => callFunction(fn, args),
  };

  const callHelper = (id: number, kind: string): void => {
    const fn: Helper | undefined = helpers[id];
    if (!fn) {
      const name = kind === 'helper' ? helperName(id) : undefined;
      const what = name ? `helper ${id} (bpf_${name}), which the interpreter does not provide; pass it in options.helpers` : `unknown ${kind} ${id}`;
      throw new InterpError('E_UNKNOWN_HELPER', `call to ${what}`, pc);
    }
    R[0] = checked(fn(ctx, R[1]!, R[2]!, R[3]!, R[4]!, R[5]!), `${kind} ${id}`);
  };
  /** A helper's result, which must be a bigint (a number from a user-supplied helper would make BigUint64Array throw). */
  const checked = (r0: unknown, what: string): bigint => {
    if (typeof r0 !== 'bigint') throw new InterpError('E_HELPER', `${what} returned ${typeof r0}, not a bigint`, pc);
    return r0;
  };

  const invalid = (why = ''): never => {
    throw new InterpError('E_INVALID_INSTRUCTION', `invalid instruction (opcode 0x${p.opcode[pc]!.toString(16).padStart(2, '0')})${why ? `: ${why}` : ''}`, pc);
  };

  // The program's arrays, rebound when a tail call replaces the program.
  let p = program;
  let n = 0;
  let OP = p.opcode;
  let DST = p.dst;
  let SRC = p.src;
  let OFF = p.off;
  let IMM = p.imm;
  let IMM64 = p.imm64;
  let OFFB = p.offBig;
  let IMM64S: BigInt64Array = new BigInt64Array(0);
  const enter = (q: DecodedProgram) => {
    p = q;
    n = q.length;
    ({ opcode: OP, dst: DST, src: SRC, off: OFF, imm: IMM, imm64: IMM64, offBig: OFFB } = q);
    IMM64S = new BigInt64Array(IMM64.buffer, IMM64.byteOffset, IMM64.length);
  };
  enter(program);
  let count = 0;
  let tailCalls = 0;
  const builtinTailCall = options.helpers?.[HelperId.TAIL_CALL] === undefined;

  /** bpf_tail_call(ctx, prog_array, index): on success the target replaces the program, keeping r1 and the stack. */
  const tailCall = (): boolean => {
    const m = ctx.map(R[2]!);
    if (!(m instanceof ProgArrayMap)) throw new InterpError('E_HELPER', `bpf_tail_call needs a prog_array map, got ${m.type}`, pc);
    const target = m.program(Number(R[3]! & 0xffffffffn));
    if (!target || tailCalls >= MAX_TAIL_CALLS) return false; // the kernel falls through to the next instruction
    if (frames.length > 0) throw new InterpError('E_HELPER', 'tail calls from bpf-to-bpf subprograms are not supported by the interpreter', pc);
    tailCalls++;
    enter(target);
    pc = 0;
    return true;
  };

  /**
   * Runs from `pc` until the program's final exit, or (for a callback called
   * by a helper) until the frame at depth `stopDepth + 1` returns.
   */
  const loop = (stopDepth: number): void => {
    for (;;) {
      if (pc < 0 || pc >= n) {
        throw new InterpError('E_PC_OUT_OF_RANGE', pc === n ? 'ran off the end of the program without exit' : `jump to slot ${pc}, outside the program (${n} slots)`, pc);
      }
      if (++count > budget) throw new InterpError('E_BUDGET', `instruction budget of ${budget} exhausted (runaway loop?)`, pc);
      const op = OP[pc]!;
      const d = DST[pc]!;
      const s = SRC[pc]!;
      if (d > 10 || (s > 10 && (op & 0x07) !== Class.LD && !((op & 0x07) === Class.JMP && (op & 0xf0) === JmpOp.CALL))) invalid('register out of range');
      // r10, the frame pointer, is read-only: no ALU result, load or lddw may target it.
      if (d === 10 && (WRITES_DST & (1 << (op & 0x07))) !== 0) invalid('r10 is read-only');

      switch (op & 0x07) {
        case Class.ALU: {
          const dl = d * 2 + LO;
          const dv = W[dl]!;
          const sv = op & Source.X ? W[s * 2 + LO]! : IMM[pc]! >>> 0;
          const off = OFF[pc]!;
          let r: number;
          switch (op & 0xf0) {
            case AluOp.ADD:
              r = (dv + sv) >>> 0;
              break;
            case AluOp.SUB:
              r = (dv - sv) >>> 0;
              break;
            case AluOp.MUL:
              r = Math.imul(dv, sv) >>> 0;
              break;
            case AluOp.DIV:
              if (off === 0) r = sv === 0 ? 0 : Math.floor(dv / sv);
              else if (off === 1) r = sv === 0 ? 0 : (dv | 0) === -0x80000000 && (sv | 0) === -1 ? 0x80000000 : Math.trunc((dv | 0) / (sv | 0)) >>> 0;
              else return invalid('div offset must be 0 or 1');
              break;
            case AluOp.MOD:
              if (off === 0) r = sv === 0 ? dv : dv % sv;
              else if (off === 1) r = sv === 0 ? dv : ((dv | 0) % (sv | 0)) >>> 0;
              else return invalid('mod offset must be 0 or 1');
              break;
            case AluOp.OR:
              r = (dv | sv) >>> 0;
              break;
            case AluOp.AND:
              r = (dv & sv) >>> 0;
              break;
            case AluOp.XOR:
              r = (dv ^ sv) >>> 0;
              break;
            case AluOp.LSH:
              r = (dv << (sv & 31)) >>> 0;
              break;
            case AluOp.RSH:
              r = dv >>> (sv & 31);
              break;
            case AluOp.ARSH:
              r = ((dv | 0) >> (sv & 31)) >>> 0;
              break;
            case AluOp.NEG:
              if (op & Source.X) invalid('neg takes no source register');
              r = -dv >>> 0;
              break;
            case AluOp.MOV:
              if (off === 0) r = sv;
              else if (!(op & Source.X)) return invalid('movsx needs a source register');
              else if (off === 8) r = ((sv << 24) >> 24) >>> 0;
              else if (off === 16) r = ((sv << 16) >> 16) >>> 0;
              else return invalid('mov32 sign-extension offset must be 8 or 16');
              break;
            case AluOp.END: {
              const width = IMM[pc]!;
              const toBig = (op & Source.X) !== 0;
              if (width === 64) {
                if (toBig) {
                  const lo = W[dl]!;
                  W[dl] = bswap32(W[d * 2 + HI]!);
                  W[d * 2 + HI] = bswap32(lo);
                }
                pc++;
                continue;
              }
              if (width === 32) r = toBig ? bswap32(dv) : dv;
              else if (width === 16) r = toBig ? bswap16(dv & 0xffff) : dv & 0xffff;
              else return invalid(`byte swap width must be 16, 32 or 64, not ${width}`);
              break;
            }
            default:
              return invalid();
          }
          W[dl] = r;
          W[d * 2 + HI] = 0;
          pc++;
          continue;
        }

        case Class.ALU64: {
          const x = (op & Source.X) !== 0;
          const sv = x ? R[s]! : IMM64[pc]!;
          const off = OFF[pc]!;
          switch (op & 0xf0) {
            case AluOp.ADD:
              R[d] = R[d]! + sv;
              break;
            case AluOp.SUB:
              R[d] = R[d]! - sv;
              break;
            case AluOp.MUL:
              R[d] = R[d]! * sv;
              break;
            case AluOp.DIV:
              if (off === 0) R[d] = sv === 0n ? 0n : R[d]! / sv;
              else if (off === 1) {
                const ss = x ? RS[s]! : IMM64S[pc]!;
                R[d] = ss === 0n ? 0n : RS[d]! / ss; // INT64_MIN / -1 = 2^63 wraps to INT64_MIN when stored
              } else invalid('div offset must be 0 or 1');
              break;
            case AluOp.MOD:
              if (off === 0) {
                if (sv !== 0n) R[d] = R[d]! % sv;
              } else if (off === 1) {
                const ss = x ? RS[s]! : IMM64S[pc]!;
                if (ss !== 0n) R[d] = RS[d]! % ss;
              } else invalid('mod offset must be 0 or 1');
              break;
            case AluOp.OR:
              R[d] = R[d]! | sv;
              break;
            case AluOp.AND:
              R[d] = R[d]! & sv;
              break;
            case AluOp.XOR:
              R[d] = R[d]! ^ sv;
              break;
            case AluOp.LSH:
              R[d] = R[d]! << (sv & 63n);
              break;
            case AluOp.RSH:
              R[d] = R[d]! >> (sv & 63n);
              break;
            case AluOp.ARSH:
              R[d] = RS[d]! >> (sv & 63n);
              break;
            case AluOp.NEG:
              if (x) invalid('neg takes no source register');
              R[d] = -R[d]!;
              break;
            case AluOp.MOV:
              if (off === 0) R[d] = sv;
              else if (!x) invalid('movsx needs a source register');
              else if (off === 8) R[d] = BigInt((W[s * 2 + LO]! << 24) >> 24);
              else if (off === 16) R[d] = BigInt((W[s * 2 + LO]! << 16) >> 16);
              else if (off === 32) R[d] = BigInt(WS[s * 2 + LO]!);
              else invalid('movsx offset must be 8, 16 or 32');
              break;
            case AluOp.END: {
              if (x) invalid('bswap uses source bit 0');
              const width = IMM[pc]!;
              const lo = W[d * 2 + LO]!;
              if (width === 16) R[d] = BigInt(bswap16(lo & 0xffff));
              else if (width === 32) R[d] = BigInt(bswap32(lo));
              else if (width === 64) {
                W[d * 2 + LO] = bswap32(W[d * 2 + HI]!);
                W[d * 2 + HI] = bswap32(lo);
              } else invalid(`byte swap width must be 16, 32 or 64, not ${width}`);
              break;
            }
            default:
              invalid();
          }
          pc++;
          continue;
        }

        case Class.JMP: {
          const code = op & 0xf0;
          const x = (op & Source.X) !== 0;
          let taken: boolean;
          switch (code) {
            case JmpOp.JA:
              if (x) invalid();
              pc += OFF[pc]! + 1;
              continue;
            case JmpOp.CALL:
              if (x) {
                // callx: the register holds the helper id (the conformance convention).
                const target = R[d]!;
                if (target > 0x7fffffffn) throw new InterpError('E_UNKNOWN_HELPER', `callx to 0x${target.toString(16)}, which is not a helper id`, pc);
                callHelper(Number(target), 'helper (callx)');
              } else if (s === PseudoCall.HELPER) {
                if (IMM[pc] === HelperId.TAIL_CALL && builtinTailCall) {
                  if (tailCall()) continue;
                } else callHelper(IMM[pc]!, 'helper');
              } else if (s === PseudoCall.CALL) {
                if (frames.length + 1 >= MAX_CALL_FRAMES) throw new InterpError('E_CALL_DEPTH', `more than ${MAX_CALL_FRAMES} nested call frames`, pc);
                frames.push({ returnPc: pc + 1, saved: R.slice(6, 11) });
                R[10] = stackTop(frames.length);
                pc += IMM[pc]! + 1;
                continue;
              } else if (s === PseudoCall.KFUNC_CALL) {
                const fn = options.kfuncs?.[IMM[pc]!];
                if (!fn) throw new InterpError('E_UNKNOWN_HELPER', `call to kfunc with BTF id ${IMM[pc]}, which the run was not given (RunOptions.kfuncs)`, pc);
                R[0] = checked(fn(ctx, R[1]!, R[2]!, R[3]!, R[4]!, R[5]!), `kfunc ${IMM[pc]}`);
              } else invalid(`call with src ${s}`);
              pc++;
              continue;
            case JmpOp.EXIT: {
              if (x) invalid();
              const frame = frames.pop();
              if (!frame) return;
              R.set(frame.saved, 6);
              pc = frame.returnPc;
              if (frames.length === stopDepth) return;
              continue;
            }
            default: {
              const dv = R[d]!;
              const sv = x ? R[s]! : IMM64[pc]!;
              switch (code) {
                case JmpOp.JEQ:
                  taken = dv === sv;
                  break;
                case JmpOp.JNE:
                  taken = dv !== sv;
                  break;
                case JmpOp.JGT:
                  taken = dv > sv;
                  break;
                case JmpOp.JGE:
                  taken = dv >= sv;
                  break;
                case JmpOp.JLT:
                  taken = dv < sv;
                  break;
                case JmpOp.JLE:
                  taken = dv <= sv;
                  break;
                case JmpOp.JSET:
                  taken = (dv & sv) !== 0n;
                  break;
                default: {
                  const a = RS[d]!;
                  const b = x ? RS[s]! : IMM64S[pc]!;
                  if (code === JmpOp.JSGT) taken = a > b;
                  else if (code === JmpOp.JSGE) taken = a >= b;
                  else if (code === JmpOp.JSLT) taken = a < b;
                  else if (code === JmpOp.JSLE) taken = a <= b;
                  else return invalid();
                }
              }
            }
          }
          pc += taken ? OFF[pc]! + 1 : 1;
          continue;
        }

        case Class.JMP32: {
          const code = op & 0xf0;
          const x = (op & Source.X) !== 0;
          if (code === JmpOp.JA) {
            if (x) invalid();
            pc += IMM[pc]! + 1;
            continue;
          }
          const dv = W[d * 2 + LO]!;
          const sv = x ? W[s * 2 + LO]! : IMM[pc]! >>> 0;
          let taken: boolean;
          switch (code) {
            case JmpOp.JEQ:
              taken = dv === sv;
              break;
            case JmpOp.JNE:
              taken = dv !== sv;
              break;
            case JmpOp.JGT:
              taken = dv > sv;
              break;
            case JmpOp.JGE:
              taken = dv >= sv;
              break;
            case JmpOp.JLT:
              taken = dv < sv;
              break;
            case JmpOp.JLE:
              taken = dv <= sv;
              break;
            case JmpOp.JSET:
              taken = (dv & sv) !== 0;
              break;
            case JmpOp.JSGT:
              taken = (dv | 0) > (sv | 0);
              break;
            case JmpOp.JSGE:
              taken = (dv | 0) >= (sv | 0);
              break;
            case JmpOp.JSLT:
              taken = (dv | 0) < (sv | 0);
              break;
            case JmpOp.JSLE:
              taken = (dv | 0) <= (sv | 0);
              break;
            default:
              return invalid();
          }
          pc += taken ? OFF[pc]! + 1 : 1;
          continue;
        }

        case Class.LDX: {
          const mode = op & 0xe0;
          const size = sizeBytes(op & 0x18);
          const addr = R[s]! + OFFB[pc]!;
          if (mode === Mode.MEM) R[d] = memory.load(addr, size, pc);
          else if (mode === Mode.MEMSX && size < 8) R[d] = BigInt.asIntN(size * 8, memory.load(addr, size, pc));
          else invalid();
          pc++;
          continue;
        }

        case Class.ST: {
          if ((op & 0xe0) !== Mode.MEM) invalid();
          memory.store(R[d]! + OFFB[pc]!, sizeBytes(op & 0x18), IMM64[pc]!, pc);
          pc++;
          continue;
        }

        case Class.STX: {
          const mode = op & 0xe0;
          const size = sizeBytes(op & 0x18);
          const addr = R[d]! + OFFB[pc]!;
          if (mode === Mode.MEM) memory.store(addr, size, R[s]!, pc);
          else if (mode === Mode.ATOMIC) atomic(memory, R, pc, IMM[pc]!, OFFB[pc]!, size, d, s, invalid);
          else invalid();
          pc++;
          continue;
        }

        case Class.LD: {
          if (op === (Class.LD | Size.DW | Mode.IMM)) {
            R[d] = wideLoad(s, IMM[pc]!, p.immHigh[pc]!, IMM64[pc]!);
            pc += 2;
            continue;
          }
          const mode = op & 0xe0;
          const size = sizeBytes(op & 0x18);
          if ((mode !== Mode.ABS && mode !== Mode.IND) || size === 8) invalid();
          if (mode === Mode.IND && s > 10) invalid('register out of range');
          // Legacy packet access: big-endian load from the packet; out of bounds ends the program with 0, as in the kernel.
          const offset = (mode === Mode.IND ? WS[s * 2 + LO]! : 0) + IMM[pc]!;
          if (!packet || offset < 0 || offset + size > packet.bytes.length) throw ABORT;
          const v = packet.region.view;
          R[0] = BigInt(size === 1 ? v.getUint8(offset) : size === 2 ? v.getUint16(offset, false) : v.getUint32(offset, false));
          pc++;
          continue;
        }

        default:
          invalid();
      }
    }
  };

  /** Calls the bpf function at `fn` (from lddw of a function) with r1..r5 = args, in a new frame; returns its r0. */
  callFunction = (fn: bigint, args: readonly bigint[]): bigint => {
    const region = memory.regionAt(fn);
    if (!region || region !== functions) throw new InterpError('E_HELPER', `0x${fn.toString(16)} is not a function pointer`, pc);
    if (frames.length + 1 >= MAX_CALL_FRAMES) throw new InterpError('E_CALL_DEPTH', `more than ${MAX_CALL_FRAMES} nested call frames`, pc);
    const depth = frames.length;
    frames.push({ returnPc: pc, saved: R.slice(6, 11) });
    R[10] = stackTop(frames.length);
    for (let i = 0; i < 5; i++) R[1 + i] = args[i] ?? 0n;
    pc = Number(fn - region.base);
    loop(depth);
    return R[0]!;
  };

  try {
    loop(-1);
  } catch (e) {
    if (e !== ABORT) throw e;
    // A legacy packet load out of bounds: the kernel ends the program with r0 = 0.
    R[0] = 0n;
  }
  return { r0: R[0]!, registers: Array.from(R), instructions: count, trace, memory, packet: packet?.bytes };

  function wideLoad(src: number, fdOrIndex: number, high: number, value: bigint): bigint {
    switch (src) {
      case PseudoLoad.IMM:
        return value;
      case PseudoLoad.MAP_FD:
      case PseudoLoad.MAP_IDX:
        return handleOf(mapByKey(fdOrIndex, pc));
      case PseudoLoad.FUNC: {
        const target = pc + fdOrIndex + 1;
        if (target < 0 || target >= n) throw new InterpError('E_PC_OUT_OF_RANGE', `function pointer to slot ${target}, outside the program`, pc);
        functions ??= memory.add(new Uint8Array(0), { name: 'functions', writable: false });
        return functions.base + BigInt(target);
      }
      case PseudoLoad.MAP_VALUE:
      case PseudoLoad.MAP_IDX_VALUE: {
        // A direct pointer into the value of key 0 (array maps, global data), at offset `high`.
        const m = mapByKey(fdOrIndex, pc);
        const value0 = m.lookup(new Uint8Array(m.keySize));
        if (!value0) throw new InterpError('E_UNKNOWN_MAP', `map ${fdOrIndex} has no value for direct access`, pc);
        if (high < 0 || high >= value0.length) throw new InterpError('E_OUT_OF_BOUNDS', `map value offset ${high} outside a ${value0.length}-byte value`, pc);
        return memory.add(value0, { name: `${m.type} map value` }).base + BigInt(high);
      }
      default:
        throw new InterpError('E_INVALID_INSTRUCTION', `lddw with src ${src} (BTF ids and function pointers) is not supported by the interpreter`, pc);
    }
  }
}

/** Instruction classes whose dst register receives a result (ALU, ALU64, LDX, LD's lddw). */
const WRITES_DST = (1 << Class.ALU) | (1 << Class.ALU64) | (1 << Class.LDX) | (1 << Class.LD);

/** The tag of a map pointer's region (distinct from other regions that carry a map, like ring buffer records). */
class MapHandle {
  constructor(readonly map: InterpMap) {}
}

/** Thrown to end the whole program at once (a legacy packet load out of bounds). */
const ABORT = Symbol('abort');
