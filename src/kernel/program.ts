/**
 * A live BPF program: load (with the verifier log fetched only on failure,
 * grown until it fits), test runs, pinning and info.
 */
import { encode } from '../asm/codec.js';
import type { Instruction } from '../asm/instruction.js';
import { LDDW, PseudoLoad } from '../asm/opcodes.js';
import { readName, writeName } from '../syscall/attr.js';
import { SYS_BPF, syscallError } from '../syscall/bpf.js';
import { Errno } from '../syscall/errno.js';
import { OBJ_NAME_LEN, OpenFlags } from '../syscall/flags.js';
import { Attr, AttachType, BpfCommand, ProgType } from '../syscall/layouts.generated.js';
import { lastErrno, syscallPtr3 } from '../syscall/libc.js';
import { NativeBuffer, nativeCString, nativeCopy } from '../syscall/memory.js';
import { bpfCommand } from './bpf-call.js';
import { checkFdArray } from './fd-array.js';
import { fdById } from './ids.js';
import { type ProgInfo, type ProgInfoOptions, progInfoByFd } from './info.js';
import { OwnedFd } from './owned-fd.js';
import { openPinnedFd, pinFd } from './pin.js';
import { VerifierError } from './verifier-error.js';
import { liftMemlockIfCharged } from './memlock.js';

/** A program type by its uapi name without BPF_PROG_TYPE_: 'XDP' or, as the CLI prints it, 'xdp'. */
export type ProgTypeName = keyof typeof ProgType | Lowercase<keyof typeof ProgType>;
/** An attach type by its uapi name without BPF_: 'CGROUP_INET_EGRESS' or 'cgroup_inet_egress'. */
export type AttachTypeName = keyof typeof AttachType | Lowercase<keyof typeof AttachType>;

/**
 * The ProgType name of a program type number (`XDP`, `TRACEPOINT` ...), or `type N` for one this build does not know.
 * @example
 * progTypeName(ProgType.XDP);      // 'XDP'
 * progTypeName(prog.info().type);  // a loaded program's type, by name
 */
export const progTypeName = (type: number): string => Object.entries(ProgType).find(([, v]) => v === type)?.[0] ?? `type ${type}`;

/**
 * A program type's number from its name, in either case.
 * @example resolveProgType('socket_filter') === resolveProgType('SOCKET_FILTER') // 1
 */
export function resolveProgType(type: ProgTypeName | number): number {
  if (typeof type === 'number') return type;
  const t = (ProgType as Record<string, number>)[type.toUpperCase()];
  if (t === undefined) throw new RangeError(`unknown program type '${type}'`);
  return t;
}

/**
 * An attach type's number from its name, in either case.
 * @example resolveAttachType('cgroup_inet_egress')
 */
export function resolveAttachType(type: AttachTypeName | number): number {
  if (typeof type === 'number') return type;
  const t = (AttachType as Record<string, number>)[type.toUpperCase()];
  if (t === undefined) throw new RangeError(`unknown attach type '${type}'`);
  return t;
}

/** What a map reference in the instructions may be given as: a map, or its fd. */
export type MapReference = { readonly fd: number } | number;

/**
 * The instructions with their map references (Builder's `ldMapFd(R1, 'events')`,
 * `ldMapValue`) pointed at the given maps. A reference to a map not given is
 * an error, never a silent fd 0; a reference whose load already carries an fd
 * (a loader filled it in) is left alone.
 */
export function resolveMapReferences(instructions: readonly Instruction[], maps: Readonly<Record<string, MapReference>> = {}): Instruction[] {
  let slot = 0;
  return instructions.map((ins) => {
    const at = slot;
    slot += ins.opcode === LDDW ? 2 : 1;
    if (ins.opcode !== LDDW || (ins.src !== PseudoLoad.MAP_FD && ins.src !== PseudoLoad.MAP_VALUE) || ins.reference === undefined) return ins;
    const given = maps[ins.reference];
    if (given === undefined) {
      if (ins.imm !== 0) return ins;
      const known = Object.keys(maps);
      throw new RangeError(`instruction ${at} loads map '${ins.reference}', which was not given: Program.load({ ..., maps: { ${ins.reference} } })${known.length ? ` (given: ${known.join(', ')})` : ''}`);
    }
    const fd = typeof given === 'number' ? given : given.fd;
    const imm64 = ((ins.imm64 ?? 0n) & 0xffff_ffff_0000_0000n) | BigInt(fd >>> 0);
    return { ...ins, imm: fd | 0, imm64 };
  });
}

/** A program's BTF at load: the loaded BTF object and its func_info and line_info records (what makes the verifier log and `prog dump xlated` show source lines). */
export interface ProgramBtf {
  /** fd of the program's BTF object (BPF_BTF_LOAD). */
  fd: number;
  /** Packed bpf_func_info records. */
  funcInfo?: Uint8Array;
  funcInfoRecSize?: number;
  /** Packed bpf_line_info records. */
  lineInfo?: Uint8Array;
  lineInfoRecSize?: number;
}

/** What `Program.load` loads (BPF_PROG_LOAD): the type, the instructions (or their bytes), license, name, the attach target where the type needs one, BTF, and how much verifier log to keep. */
export interface ProgramSpec {
  type: ProgTypeName | number;
  /** The program, as instructions... */
  instructions?: readonly Instruction[];
  /** ...or as encoded 8-byte slots. */
  bytes?: Uint8Array;
  /** Default 'GPL' (needed for GPL-only helpers). */
  license?: string;
  name?: string;
  expectedAttachType?: AttachTypeName | number;
  attachBtfId?: number;
  attachBtfObjFd?: number;
  attachProgFd?: number;
  btf?: ProgramBtf;
  /** prog_flags (ProgFlags bits). */
  flags?: number;
  kernVersion?: number;
  ifindex?: number;
  /** Map/BTF fds referenced by index from the instructions (fd_array). */
  fdArray?: number[];
  /** Ask for a log even on success (1 = verbose, 2 = very verbose); the log is then kept on `verifierLog`. */
  logLevel?: number;
  /** Upper bound for the log buffer when retrying on failure (default and cap: 1 GiB). */
  maxLogSize?: number;
  /** Maps the instructions refer to by name (Builder's ldMapFd/ldMapValue), resolved at load. */
  maps?: Readonly<Record<string, MapReference>>;
}

const LOG_START = 64 * 1024;
/** The kernel refuses a log_size above UINT_MAX >> 2 (EINVAL, no log): 1 << 30 is one byte too many. */
const LOG_MAX = 0xffff_ffff >>> 2;

/** Input of `Program.testRun` (BPF_PROG_TEST_RUN): packet data and/or context, room for what the program writes back, and how many times to run. */
export interface TestRunOptions {
  /** Packet or input data (data_in). */
  data?: Uint8Array;
  /** Room for data_out (default: data length + 256 when data is given). */
  dataOutSize?: number;
  /** Context in (ctx_in), e.g. struct xdp_md or __sk_buff. */
  ctx?: Uint8Array;
  /** Room for ctx_out. */
  ctxOutSize?: number;
  repeat?: number;
  flags?: number;
  cpu?: number;
  batchSize?: number;
}

/** What `Program.testRun` gives back: the program's return value, the average run time and the data and context it left. */
export interface TestRunResult {
  retval: number;
  /** Average duration per run in ns, as the kernel reports it. */
  duration: number;
  dataOut?: Uint8Array;
  ctxOut?: Uint8Array;
}

/**
 * A live BPF program.
 * @example
 * using prog = Program.load({ type: 'socket_filter', instructions: new Builder().mov64(R0, 0).exit().instructions() });
 * prog.testRun({ data: new Uint8Array(64) }).retval;   // 0
 */
export class Program {
  readonly #fd: OwnedFd;
  readonly type: number;
  readonly name: string;
  /** The verifier log, when a logLevel was asked for at load. */
  readonly verifierLog: string | undefined;

  private constructor(fd: number, type: number, name: string, log?: string) {
    this.#fd = new OwnedFd(fd, `program ${name || progTypeName(type)}`);
    this.type = type;
    this.name = name;
    this.verifierLog = log;
  }

  static load(spec: ProgramSpec): Program {
    const type = resolveProgType(spec.type);
    const name = spec.name ?? '';
    if (!/^[A-Za-z0-9_.]*$/.test(name) || name.length >= OBJ_NAME_LEN) {
      throw new RangeError(`program name '${name}' must be at most ${OBJ_NAME_LEN - 1} characters of [A-Za-z0-9_.]`);
    }
    const code = spec.bytes ?? (spec.instructions ? encode(resolveMapReferences(spec.instructions, spec.maps)) : undefined);
    if (!code || code.byteLength === 0) throw new RangeError('Program.load needs instructions or bytes');
    if (code.byteLength % 8 !== 0) throw new RangeError(`program bytes must be a multiple of 8, got ${code.byteLength}`);
    const label = name || progTypeName(type);
    checkFdArray(code, spec.fdArray);
    liftMemlockIfCharged();
    for (const [what, rec, bytes] of [['func_info', spec.btf?.funcInfoRecSize ?? 8, spec.btf?.funcInfo], ['line_info', spec.btf?.lineInfoRecSize ?? 16, spec.btf?.lineInfo]] as const) {
      if (!Number.isInteger(rec) || rec <= 0 || rec > 0xffff) throw new RangeError(`${what} record size must be a positive integer, got ${rec}`);
      if (bytes && bytes.byteLength % rec !== 0) throw new RangeError(`${what} is ${bytes.byteLength} bytes, not a multiple of its record size ${rec}`);
    }

    const insns = nativeCopy(code);
    const license = nativeCString(spec.license ?? 'GPL');
    const funcInfo = spec.btf?.funcInfo?.byteLength ? nativeCopy(spec.btf.funcInfo) : undefined;
    const lineInfo = spec.btf?.lineInfo?.byteLength ? nativeCopy(spec.btf.lineInfo) : undefined;
    const fdArray = spec.fdArray?.length ? new NativeBuffer(spec.fdArray.length * 4) : undefined;
    spec.fdArray?.forEach((fd, i) => fdArray!.view.setInt32(i * 4, fd, true));
    const attr = new NativeBuffer(Attr.progLoad.size);
    let log: NativeBuffer | undefined;
    try {
      const P = Attr.progLoad;
      const fill = (logLevel: number, logBuf?: NativeBuffer): void => {
        attr.bytes.fill(0);
        const v = attr.view;
        v.setUint32(P.prog_type, type, true);
        v.setUint32(P.insn_cnt, code.byteLength / 8, true);
        v.setBigUint64(P.insns, insns.address, true);
        v.setBigUint64(P.license, license.address, true);
        if (logBuf) {
          v.setUint32(P.log_level, logLevel, true);
          v.setUint32(P.log_size, logBuf.size, true);
          v.setBigUint64(P.log_buf, logBuf.address, true);
        }
        v.setUint32(P.kern_version, spec.kernVersion ?? 0, true);
        v.setUint32(P.prog_flags, spec.flags ?? 0, true);
        writeName(attr, P.prog_name, name);
        v.setUint32(P.prog_ifindex, spec.ifindex ?? 0, true);
        if (spec.expectedAttachType !== undefined) v.setUint32(P.expected_attach_type, resolveAttachType(spec.expectedAttachType), true);
        if (spec.btf) {
          v.setUint32(P.prog_btf_fd, spec.btf.fd, true);
          if (funcInfo) {
            v.setUint32(P.func_info_rec_size, spec.btf.funcInfoRecSize ?? 8, true);
            v.setBigUint64(P.func_info, funcInfo.address, true);
            v.setUint32(P.func_info_cnt, spec.btf.funcInfo!.byteLength / (spec.btf.funcInfoRecSize ?? 8), true);
          }
          if (lineInfo) {
            v.setUint32(P.line_info_rec_size, spec.btf.lineInfoRecSize ?? 16, true);
            v.setBigUint64(P.line_info, lineInfo.address, true);
            v.setUint32(P.line_info_cnt, spec.btf.lineInfo!.byteLength / (spec.btf.lineInfoRecSize ?? 16), true);
          }
        }
        v.setUint32(P.attach_btf_id, spec.attachBtfId ?? 0, true);
        if (spec.attachProgFd !== undefined) v.setUint32(P.attach_prog_fd, spec.attachProgFd, true);
        else if (spec.attachBtfObjFd !== undefined) v.setUint32(P.attach_btf_obj_fd, spec.attachBtfObjFd, true);
        if (fdArray) v.setBigUint64(P.fd_array, fdArray.address, true);
      };
      const call = (): number => {
        // EAGAIN: the verifier was interrupted (e.g. by a signal); retry a few times as libbpf does.
        for (let attempt = 0; ; attempt++) {
          const r = syscallPtr3(SYS_BPF, BpfCommand.PROG_LOAD, attr.pointer, Attr.progLoad.size) as number;
          if (r >= 0) return r;
          const errno = lastErrno();
          if (errno !== Errno.EAGAIN || attempt >= 4) return -errno;
        }
      };
      const readLog = (buf: NativeBuffer): string => readName(buf.bytes, 0, buf.size);

      if (spec.logLevel) {
        // The caller wants the log even on success.
        let size = Math.min(LOG_START, spec.maxLogSize ?? LOG_MAX);
        for (;;) {
          log?.free();
          log = new NativeBuffer(size);
          fill(spec.logLevel, log);
          const r = call();
          if (r >= 0) return new Program(r, type, name, readLog(log));
          if (r === -Errno.ENOSPC && size < (spec.maxLogSize ?? LOG_MAX)) {
            size = nextLogSize(attr, size, spec.maxLogSize);
            continue;
          }
          if (r === -Errno.ENOSPC) {
            // The log did not fit even at the largest size: ENOSPC says nothing of the verdict
            // (an accepted program gets it too). Load once more without a log for the verdict.
            const text = readLog(log);
            fill(0);
            const verdict = call();
            if (verdict >= 0) return new Program(verdict, type, name, text);
            throw new VerifierError(label, -verdict, text, true);
          }
          throw new VerifierError(label, -r, readLog(log), false);
        }
      }

      fill(0);
      const r = call();
      if (r >= 0) return new Program(r, type, name);
      const firstErrno = -r;
      // Every failure is loaded again with a log, as libbpf does: E2BIG (too many processed
      // instructions), EFAULT (a jump sequence too complex), EACCES, EINVAL… all come from the
      // verifier with the reason in its log. A load refused before verification leaves the log empty.
      // Reload with a log that grows until the whole log fits.
      const max = Math.min(spec.maxLogSize ?? LOG_MAX, LOG_MAX);
      let size = Math.min(LOG_START, max);
      for (;;) {
        log?.free();
        log = new NativeBuffer(size);
        fill(1, log);
        const r2 = call();
        if (r2 >= 0) return new Program(r2, type, name); // flaky first failure; keep the program
        if (r2 === -Errno.ENOSPC && size < max) {
          size = nextLogSize(attr, size, max);
          continue;
        }
        const errno = r2 === -Errno.ENOSPC ? firstErrno : -r2;
        const text = readLog(log);
        // No log at all: refused before verification (unknown type, bad attribute), not by the verifier.
        if (text.trim() === '') throw syscallError(`BPF_PROG_LOAD (${label})`, errno);
        throw new VerifierError(label, errno, text, r2 === -Errno.ENOSPC);
      }
    } finally {
      insns.free();
      license.free();
      funcInfo?.free();
      lineInfo?.free();
      fdArray?.free();
      attr.free();
      log?.free();
    }
  }

  /** Takes ownership of a program fd. */
  static fromFd(fd: number): Program {
    let info: ProgInfo;
    try {
      info = progInfoByFd(fd);
    } catch (e) {
      new OwnedFd(fd, 'program').close();
      throw e;
    }
    return new Program(fd, info.type, info.name);
  }

  static fromId(id: number): Program {
    return Program.fromFd(fdById('PROG', id));
  }

  static openPinned(path: string, options: { readOnly?: boolean } = {}): Program {
    return Program.fromFd(openPinnedFd(path, options.readOnly ? OpenFlags.RDONLY : 0, 'prog'));
  }

  /**
   * Keeps `mapFd` alive as long as this program (BPF_PROG_BIND_MAP, 5.8+),
   * as if the program used it: libbpf binds every .rodata map this way, so
   * metadata in .rodata stays readable through the program's map ids.
   */
  bindMap(mapFd: number): void {
    const B = Attr.progBindMap;
    bpfCommand('PROG_BIND_MAP', B.size, (a) => {
      a.view.setUint32(B.prog_fd, this.fd, true);
      a.view.setUint32(B.map_fd, mapFd, true);
    });
  }

  get fd(): number {
    return this.#fd.value;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  get typeName(): string {
    return progTypeName(this.type);
  }

  /** BPF_PROG_TEST_RUN. */
  testRun(options: TestRunOptions = {}): TestRunResult {
    const T = Attr.test;
    const dataIn = options.data?.byteLength ? nativeCopy(options.data) : undefined;
    const dataOutSize = options.dataOutSize ?? (options.data ? options.data.byteLength + 256 : 0);
    const dataOut = dataOutSize > 0 ? new NativeBuffer(dataOutSize) : undefined;
    const ctxIn = options.ctx?.byteLength ? nativeCopy(options.ctx) : undefined;
    const ctxOutSize = options.ctxOutSize ?? 0;
    const ctxOut = ctxOutSize > 0 ? new NativeBuffer(ctxOutSize) : undefined;
    try {
      let retval = 0;
      let duration = 0;
      let gotData = 0;
      let gotCtx = 0;
      bpfCommand('PROG_TEST_RUN', T.size, (a) => {
        const v = a.view;
        v.setUint32(T.prog_fd, this.fd, true);
        if (dataIn) {
          v.setUint32(T.data_size_in, options.data!.byteLength, true);
          v.setBigUint64(T.data_in, dataIn.address, true);
        }
        if (dataOut) {
          v.setUint32(T.data_size_out, dataOutSize, true);
          v.setBigUint64(T.data_out, dataOut.address, true);
        }
        if (ctxIn) {
          v.setUint32(T.ctx_size_in, options.ctx!.byteLength, true);
          v.setBigUint64(T.ctx_in, ctxIn.address, true);
        }
        if (ctxOut) {
          v.setUint32(T.ctx_size_out, ctxOutSize, true);
          v.setBigUint64(T.ctx_out, ctxOut.address, true);
        }
        v.setUint32(T.repeat, options.repeat ?? 0, true);
        v.setUint32(T.flags, options.flags ?? 0, true);
        v.setUint32(T.cpu, options.cpu ?? 0, true);
        v.setUint32(T.batch_size, options.batchSize ?? 0, true);
      }, this.name || this.typeName, (a) => {
        const v = a.view;
        retval = v.getUint32(T.retval, true);
        duration = v.getUint32(T.duration, true);
        gotData = v.getUint32(T.data_size_out, true);
        gotCtx = v.getUint32(T.ctx_size_out, true);
      });
      return {
        retval,
        duration,
        ...(dataOut ? { dataOut: dataOut.bytes.slice(0, Math.min(gotData, dataOutSize)) } : {}),
        ...(ctxOut ? { ctxOut: ctxOut.bytes.slice(0, Math.min(gotCtx, ctxOutSize)) } : {}),
      };
    } finally {
      dataIn?.free();
      dataOut?.free();
      ctxIn?.free();
      ctxOut?.free();
    }
  }

  pin(path: string): void {
    pinFd(this.fd, path);
  }

  info(options: ProgInfoOptions = {}): ProgInfo {
    return progInfoByFd(this.fd, options);
  }

  get id(): number {
    return this.info().id;
  }

  close(): void {
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The next log size: what the kernel says it needs (log_true_size, 6.4+) or four times bigger. */
function nextLogSize(attr: NativeBuffer, size: number, max = LOG_MAX): number {
  const trueSize = attr.view.getUint32(Attr.progLoad.log_true_size, true);
  const next = trueSize > size ? trueSize : size * 4;
  return Math.min(next, max, LOG_MAX);
}
