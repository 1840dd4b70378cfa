/**
 * `tsbpf exec`: run one program and print r0, in the interpreter or in the
 * kernel. Input is a conformance `.data` file, assembler text or raw bytes.
 */
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { decode, encode } from '../../asm/codec.js';
import { parseConformanceFile, parseHexBytes, rawSlotsToBytes } from '../../asm/conformance-file.js';
import { AsmError } from '../../asm/errors.js';
import type { Instruction } from '../../asm/instruction.js';
import { parseUbpf } from '../../asm/ubpf.js';
import { parseObject, objectNameFromPath } from '../../elf/index.js';
import { InterpError, InterpObject, runSync } from '../../interp/index.js';
import { dumpMap, formatMapDump } from '../exec-maps.js';
import { readFileOrStdin } from '../input-file.js';
import { CliError, printJson } from '../output.js';

export const help = `usage: tsbpf exec IN [--syntax ubpf|llvm] [--mem HEX] [--engine interp|kernel] [--budget N] [--check] [--json]
       tsbpf exec OBJECT.o [--prog NAME] [--packet HEX | --ctx HEX | --mem HEX] [--maps] [--budget N] [--json]

Runs an eBPF program and prints r0 as 0x followed by 16 hex digits.

IN is one of:
  NAME.data        a bpf_conformance test file: its '-- asm' (ubpf syntax) or
                   '-- raw' section is the program, its '-- mem' the input memory
  NAME.bin/.raw    raw little-endian 8-byte instruction slots
  an ELF object    a BPF object (clang or tsbpf build): one program, --prog NAME
                   (default: the first), run in the interpreter with the object's
                   maps; CO-RE relocations keep their compiled offsets
  -                standard input, taken like a file without extension
  anything else    assembler text; the syntax is --syntax if given, else ubpf
                   when the text uses %rN registers, else llvm (llvm-mc syntax)
                   Files that are not text (contain NUL bytes) are taken as raw.

options:
  --syntax ubpf|llvm       assembler syntax of a text input
  --mem HEX                input memory as hex digits (spaces allowed, e.g. "00 11 22");
                           r1 points at it and r2 holds its length. Overrides '-- mem'.
  --engine interp|kernel   where to run: the userspace interpreter (default) or the
                           running kernel through BPF_PROG_TEST_RUN (needs root)
  --budget N               interpreter instruction limit (default 1000000)
  --prog NAME              the program of an ELF object to run
  --packet HEX             packet for xdp (struct xdp_md) and skb programs (struct __sk_buff:
                           tc, socket filters, cgroup skb)
  --ctx HEX                raw context bytes r1 points at (tracepoints and others)
  --maps                   after the run, show the object's maps (non-empty entries,
                           queued values, ring and perf buffer records)
  --check                  compare r0 with the '-- result' of a .data file; exit 1 if different
  --json                   print {"r0": "0x...", ...} as one JSON line
`;

interface KernelRunner {
  runInKernel(insns: Instruction[], mem: Uint8Array | undefined): Promise<bigint>;
}

interface LlvmAssembler {
  assemble(source: string, options: { syntax: 'llvm' | 'ubpf'; file?: string }): { bytes: Uint8Array };
}

const hex64 = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16).padStart(16, '0')}`;

interface LoadedProgram {
  bytes: Uint8Array;
  mem?: Uint8Array;
  expected?: bigint;
  /** Set for ELF input: the object and the program chosen in it. */
  object?: { obj: InterpObject; name: string; type: string };
}

const isElf = (data: Uint8Array) => data.length >= 4 && data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46;

/** Program types whose context is a struct __sk_buff over a packet. */
const SKB_TYPES = new Set(['socket_filter', 'sched_cls', 'sched_act', 'cgroup_skb', 'lwt_in', 'lwt_out', 'lwt_xmit', 'lwt_seg6local', 'sk_skb']);

function loadObject(file: string, data: Uint8Array, prog: string | undefined): LoadedProgram {
  let spec: ReturnType<typeof parseObject>;
  try {
    spec = parseObject(data, { name: objectNameFromPath(file) });
  } catch (e) {
    throw new CliError(`${file}: ${(e as Error).message}`);
  }
  const obj = new InterpObject(spec);
  const names = obj.programNames;
  if (names.length === 0) throw new CliError(`${file}: the object has no programs`);
  const name = prog ?? names[0]!;
  if (!names.includes(name)) throw new CliError(`${file}: no program '${name}' (programs: ${names.join(', ')})`);
  return { bytes: new Uint8Array(0), object: { obj, name, type: (obj.programType(name) ?? '').toLowerCase() } };
}

async function assembleLlvm(source: string, file: string): Promise<Uint8Array> {
  let mod: LlvmAssembler;
  try {
    mod = (await import('../../asm/index.js')) as LlvmAssembler;
  } catch (e) {
    throw new CliError(`${file}: the llvm-syntax assembler is not available in this build (${(e as Error).message}); try --syntax ubpf`);
  }
  return mod.assemble(source, { syntax: 'llvm', file }).bytes;
}

function isText(data: Uint8Array): boolean {
  return !data.includes(0);
}

async function loadProgram(file: string, data: Uint8Array, syntax: string | undefined, prog: string | undefined): Promise<LoadedProgram> {
  const ext = extname(file).toLowerCase();
  const text = () => new TextDecoder().decode(data);
  if (ext === '.data') {
    const test = parseConformanceFile(text(), file);
    if (test.raw) return { bytes: rawSlotsToBytes(test.raw), mem: test.mem, expected: test.result };
    if (test.asm === undefined) throw new CliError(`${file}: no '-- asm' or '-- raw' section`);
    const bytes = syntax === 'llvm' ? await assembleLlvm(test.asm, file) : encode(parseUbpf(test.asm, file));
    return { bytes, mem: test.mem, expected: test.result };
  }
  if (isElf(data)) return loadObject(file, data, prog);
  if (ext === '.bin' || ext === '.raw' || (syntax === undefined && !isText(data))) return { bytes: data };
  const source = text();
  const chosen = syntax ?? (/%r\d/i.test(source) ? 'ubpf' : 'llvm');
  return { bytes: chosen === 'ubpf' ? encode(parseUbpf(source, file)) : await assembleLlvm(source, file) };
}

const options = {
  syntax: { type: 'string' },
  mem: { type: 'string' },
  engine: { type: 'string', default: 'interp' },
  budget: { type: 'string' },
  prog: { type: 'string' },
  packet: { type: 'string' },
  ctx: { type: 'string' },
  maps: { type: 'boolean', default: false },
  check: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${help}`, 2);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (positionals.length !== 1) throw new CliError(`expected one input file, got ${positionals.length}\n\n${help}`, 2);
  const file = positionals[0]!;
  if (values.syntax !== undefined && values.syntax !== 'ubpf' && values.syntax !== 'llvm') {
    throw new CliError(`--syntax must be ubpf or llvm, not '${values.syntax}'`, 2);
  }
  const engine = values.engine;
  if (engine !== 'interp' && engine !== 'kernel') throw new CliError(`--engine must be interp or kernel, not '${engine}'`, 2);
  let budget: number | undefined;
  if (values.budget !== undefined) {
    budget = Number(values.budget);
    if (!Number.isSafeInteger(budget) || budget <= 0) throw new CliError(`--budget must be a positive integer, not '${values.budget}'`, 2);
  }

  let data: Uint8Array;
  try {
    data = await readFileOrStdin(file);
  } catch (e) {
    throw new CliError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }

  // A module would otherwise be read as assembler text and fail on its first 'import'.
  if (/\.tsx?$/.test(file)) throw new CliError(`${file} is a TypeScript module: compile it with 'tsbpf build ${file}', then exec the .o (or 'tsbpf run' it)`, 2);
  let program: LoadedProgram;
  try {
    program = await loadProgram(file, data, values.syntax, values.prog);
  } catch (e) {
    // AsmError from text carries file:line:col already; from bytes it carries the slot.
    if (e instanceof AsmError && !e.position) throw new CliError(`${file}: ${e.message}`);
    throw e;
  }
  const hexOption = (name: 'mem' | 'packet' | 'ctx'): Uint8Array | undefined => {
    const text = values[name];
    if (text === undefined) return undefined;
    try {
      return parseHexBytes(text);
    } catch (e) {
      throw new CliError(`--${name}: ${(e as Error).message}`, 2);
    }
  };
  const mem = hexOption('mem') ?? program.mem;
  const packet = hexOption('packet');
  const ctx = hexOption('ctx');
  if ([values.mem, values.packet, values.ctx].filter((v) => v !== undefined).length > 1) {
    throw new CliError('give at most one of --mem, --packet and --ctx', 2);
  }
  if ((values.prog !== undefined || values.maps) && !program.object) throw new CliError('--prog and --maps apply to ELF objects only', 2);
  if ((packet || ctx) && !program.object) throw new CliError('--packet and --ctx apply to ELF objects; use --mem for raw programs', 2);

  let r0: bigint;
  let instructions: number | undefined;
  let trace: string[] = [];
  try {
    if (program.object) {
      if (engine === 'kernel') throw new CliError(`${file}: ELF objects run in the interpreter here; 'tsbpf load' puts them in the kernel`, 2);
      const { obj, name, type } = program.object;
      const isXdp = type === 'xdp';
      const isSkb = SKB_TYPES.has(type);
      if (packet && !isXdp && !isSkb) throw new CliError(`--packet: program '${name}' is of type ${type || 'unknown'}, which takes no packet; use --ctx`, 2);
      const input = packet ?? (isXdp || isSkb ? (ctx ? undefined : new Uint8Array(0)) : undefined);
      const result = obj.run(name, {
        budget,
        mem,
        ctx,
        xdp: isXdp && input ? { packet: input } : undefined,
        skb: isSkb && input ? { packet: input } : undefined,
        onTrace: values.json ? undefined : (line) => process.stderr.write(`trace: ${line}\n`),
      });
      r0 = result.r0;
      instructions = result.instructions;
      trace = result.trace;
    } else if (engine === 'kernel') {
      const insns = decode(program.bytes);
      const mod = (await import('../exec-kernel.js')) as KernelRunner;
      r0 = await mod.runInKernel(insns, mem);
    } else {
      const result = runSync(program.bytes, { mem, budget, onTrace: values.json ? undefined : (line) => process.stderr.write(`trace: ${line}\n`) });
      r0 = result.r0;
      instructions = result.instructions;
      trace = result.trace;
    }
  } catch (e) {
    if (e instanceof InterpError || e instanceof AsmError) throw new CliError(`${file}: ${e.message}`);
    throw e;
  }

  const maps = values.maps && program.object ? [...program.object.obj.maps].map(([name, m]) => dumpMap(name, m)) : undefined;
  if (values.json) {
    printJson({
      file,
      engine,
      ...(program.object ? { program: program.object.name } : {}),
      r0: hex64(r0),
      ...(instructions !== undefined ? { instructions } : {}),
      ...(program.expected !== undefined ? { expected: hex64(program.expected) } : {}),
      ...(trace.length > 0 ? { trace } : {}),
      ...(maps ? { maps } : {}),
    });
  } else {
    process.stdout.write(`${hex64(r0)}\n`);
    for (const d of maps ?? []) process.stdout.write(`${formatMapDump(d).join('\n')}\n`);
  }
  if (values.check) {
    if (program.expected === undefined) throw new CliError(`${file}: --check needs a '-- result' section`, 2);
    if (BigInt.asUintN(64, r0) !== program.expected) {
      process.stderr.write(`${file}: r0 is ${hex64(r0)}, expected ${hex64(program.expected)}\n`);
      return 1;
    }
  }
  return 0;
}
