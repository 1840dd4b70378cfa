/**
 * uprobe/uretprobe links: a function of an ELF binary or library, by path
 * and symbol (or file offset), through the uprobe PMU; and uprobe_multi
 * (one bpf_link on many offsets, BPF_TRACE_UPROBE_MULTI, 6.6+).
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { Attr, AttachType } from '../syscall/layouts.generated.js';
import { nativeCString, NativeBuffer } from '../syscall/memory.js';
import { perfEventOpen } from '../syscall/perf-event.js';
import { bpfCommand } from './bpf-call.js';
import { ElfSymbolError, ElfSymbols } from './elf-symbols.js';
import { LinkError } from './link-error.js';
import { attachToPerfEvent, type PerfEventAttachOptions } from './link-perf-event.js';
import { FdLink, type ProgramLike } from './link.js';
import { dynamicPmuType, retprobeBit } from './tracefs.js';

/** Where a uprobe goes: a binary or library and a symbol (or an offset), optionally one process. */
export interface UprobeTarget {
  /** The binary or shared library: a path, or a bare name looked up in PATH (or the library directories for '*.so*'). */
  path: string;
  /** A function symbol in .symtab/.dynsym; or give `offset`. */
  symbol?: string;
  /** File offset of the probe (added to the symbol's offset when both are given). */
  offset?: bigint;
  /** Only this process (default: every process mapping the file). */
  pid?: number;
}

/** Options of `attachUprobe`: return probe and cookie. */
export interface UprobeOptions extends PerfEventAttachOptions {
  retprobe?: boolean;
}

const symbolCache = new Map<string, { mtimeMs: number; symbols: ElfSymbols }>();

const LIBRARY_DIRS = ['/lib64', '/usr/lib64', '/lib', '/usr/lib', `/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`, `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`];

/**
 * A bare name is looked up as libbpf does: a name with ".so" in
 * LD_LIBRARY_PATH and the usual library directories, any other in PATH.
 * @example
 * resolveBinaryPath('bash');        // '/usr/bin/bash'
 * resolveBinaryPath('libc.so.6');   // '/lib/x86_64-linux-gnu/libc.so.6'
 */
export function resolveBinaryPath(path: string): string {
  if (path.includes('/')) return path;
  const dirs = path.includes('.so')
    ? [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIBRARY_DIRS]
    : (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const dir of dirs) {
    const candidate = `${dir}/${path}`;
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return path;
}

function checkedPath(given: string): string {
  const path = resolveBinaryPath(given);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new LinkError('ENOBINARY', `uprobe target '${path}' does not exist or is not a file`, path, 'give the full path of the binary or library');
  }
  return realpathSync(path);
}

/**
 * The file offset of `symbol` in the ELF file at `path` (cached per file and mtime).
 * @example
 * resolveUprobeOffset('/usr/lib/x86_64-linux-gnu/libc.so.6', 'malloc');   // the file offset, e.g. 0xa5120n
 */
export function resolveUprobeOffset(path: string, symbol: string): bigint {
  const real = checkedPath(path);
  const mtimeMs = statSync(real).mtimeMs;
  let entry = symbolCache.get(real);
  if (!entry || entry.mtimeMs !== mtimeMs) {
    try {
      entry = { mtimeMs, symbols: new ElfSymbols(readFileSync(real), real) };
    } catch (err) {
      if (err instanceof ElfSymbolError) throw new LinkError('ENOBINARY', err.message, path, 'uprobes need an ELF64 executable or shared library', { cause: err });
      throw err;
    }
    symbolCache.set(real, entry);
  }
  const sym = entry.symbols.functions().get(symbol);
  // The hint names the resolved file: nm does not search the library path as the loader does.
  if (!sym) throw new LinkError('ENOSYM', `no function '${symbol}' in ${path}`, `${path}:${symbol}`, 'list them with: nm -D --defined-only ' + real);
  return sym.fileOffset;
}

function targetOffset(t: UprobeTarget): bigint {
  if (t.symbol === undefined && t.offset === undefined) throw new LinkError('EBADARG', 'a uprobe needs a symbol or an offset', t.path);
  return (t.symbol !== undefined ? resolveUprobeOffset(t.path, t.symbol) : 0n) + (t.offset ?? 0n);
}

/**
 * Attaches a BPF_PROG_TYPE_KPROBE program as a uprobe (or uretprobe).
 * @example
 * using link = attachUprobe(prog, { path: 'libc.so.6', symbol: 'malloc' });
 * using one = attachUprobe(prog, { path: '/usr/bin/bash', symbol: 'readline', pid: 1234 }, { retprobe: true });
 */
export function attachUprobe(program: ProgramLike, target: UprobeTarget, options: UprobeOptions = {}): FdLink {
  const real = checkedPath(target.path);
  const offset = targetOffset(target);
  const pmu = dynamicPmuType('uprobe');
  if (pmu === undefined) throw new LinkError('ENOTSUP', 'this kernel has no uprobe PMU (CONFIG_UPROBE_EVENTS)', target.path);
  const kind = options.retprobe ? 'uretprobe' : 'uprobe';
  const label = `${target.path}:${target.symbol ?? ''}${target.offset ? `+0x${target.offset.toString(16)}` : ''}`;
  using path = nativeCString(real);
  const pid = target.pid ?? -1;
  const perfFd = perfEventOpen({
    type: pmu,
    config: options.retprobe ? 1n << BigInt(retprobeBit('uprobe')) : 0n,
    config1: path.address,
    config2: offset,
  }, pid, pid === -1 ? 0 : -1, -1, 0, `perf_event_open ${kind} ${label}`);
  return attachToPerfEvent(program, perfFd, kind, label, options);
}

/**
 * uprobe_multi: one link for many functions of one file. The program must
 * be loaded with expected attach type BPF_TRACE_UPROBE_MULTI.
 * @example
 * using link = attachUprobeMulti(prog, 'libc.so.6', ['malloc', 'free']);   // 6.6+
 */
export function attachUprobeMulti(program: ProgramLike, path: string, symbols: string[], options: { retprobe?: boolean; pid?: number; cookies?: bigint[] } = {}): FdLink {
  if (symbols.length === 0) throw new LinkError('EBADARG', 'uprobe_multi needs at least one symbol', path);
  // The kernel reads uprobe_multi_cnt cookies: one per symbol, no more, no fewer.
  if (options.cookies && options.cookies.length !== symbols.length) {
    throw new LinkError('EBADARG', `uprobe_multi: ${options.cookies.length} cookies for ${symbols.length} symbols (one cookie per symbol)`, path);
  }
  const real = checkedPath(path);
  const offsets = symbols.map((s) => resolveUprobeOffset(real, s));
  using pathStr = nativeCString(real);
  using offs = new NativeBuffer(8 * offsets.length);
  offsets.forEach((o, i) => offs.view.setBigUint64(8 * i, o, true));
  using cookies = new NativeBuffer(8 * offsets.length);
  options.cookies?.forEach((c, i) => cookies.view.setBigUint64(8 * i, c, true));
  const fd = bpfCommand('LINK_CREATE', Attr.linkCreate.size, (a) => {
    a.view.setUint32(Attr.linkCreate.prog_fd, program.fd, true);
    a.view.setUint32(Attr.linkCreate.attach_type, AttachType.TRACE_UPROBE_MULTI, true);
    a.view.setBigUint64(Attr.linkCreate.uprobe_multi_path, pathStr.address, true);
    a.view.setBigUint64(Attr.linkCreate.uprobe_multi_offsets, offs.address, true);
    if (options.cookies) a.view.setBigUint64(Attr.linkCreate.uprobe_multi_cookies, cookies.address, true);
    a.view.setUint32(Attr.linkCreate.uprobe_multi_cnt, offsets.length, true);
    a.view.setUint32(Attr.linkCreate.uprobe_multi_flags, options.retprobe ? 1 : 0, true);
    a.view.setUint32(Attr.linkCreate.uprobe_multi_pid, options.pid ?? 0, true);
  }, `uprobe_multi ${path}`);
  return new FdLink('uprobe-multi', fd, [fd], `${path}:${symbols.join(',')}`);
}
