/**
 * The control protocol of `tsbpf engine`, version 1 (docs/engine-protocol.md).
 * One JSON object per line over a Unix stream socket, each way:
 *
 *   → {"v":1,"id":7,"verb":"load","args":{"file":"/abs/m.bpf.ts","iface":"eth0"}}
 *   ← {"v":1,"id":7,"ok":true,"result":{...}}
 *   ← {"v":1,"id":7,"ok":false,"error":{"code":"E_VERIFIER","message":"..."}}
 *
 * Requests are answered in order. A line longer than MAX_MESSAGE_BYTES is
 * answered with E_TOO_LARGE and the connection is closed. Pure: no Node APIs,
 * so the client (the CLI) and the server share it.
 */

export const PROTOCOL_VERSION = 1;
/** Upper bound of one request line (an inline object travels base64-encoded in it). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** The control socket's file name inside the state directory. */
export const SOCKET_NAME = 'control.sock';

export const VERBS = ['ping', 'load', 'replace', 'unload', 'list', 'show', 'move'] as const;
export type Verb = (typeof VERBS)[number];

export type ErrorCode =
  | 'E_BAD_JSON' | 'E_TOO_LARGE' | 'E_VERSION' | 'E_UNKNOWN_VERB' | 'E_BAD_REQUEST' | 'E_PERM'
  | 'E_NO_MODULE' | 'E_EXISTS' | 'E_SOURCE' | 'E_COMPILE' | 'E_VERIFIER' | 'E_LOAD' | 'E_ATTACH' | 'E_UNSUPPORTED' | 'E_INTERNAL';

export interface ProtocolError {
  code: ErrorCode;
  message: string;
  /** Diagnostics of a module that failed to compile, as file:line:col lines. */
  details?: string[];
}

export interface Request {
  v: number;
  id: number | string;
  verb: Verb;
  args?: Record<string, unknown>;
}

export type Response =
  | { v: number; id: number | string | null; ok: true; result: unknown }
  | { v: number; id: number | string | null; ok: false; error: ProtocolError };

/** Where a module comes from: a file the engine reads, or the object's bytes inline. */
export interface ModuleSource {
  /** Absolute path of a .bpf.ts module or a BPF ELF object, read by the engine. */
  file?: string;
  /** A BPF ELF object, base64. */
  object?: string;
}

export interface LoadArgs extends ModuleSource {
  name?: string;
  iface?: string;
  cgroup?: string;
  /** rodata globals set before load. */
  set?: Record<string, string | number>;
  /** Chain position on its hooks: before or after another module. */
  before?: string;
  after?: string;
}

export interface ReplaceArgs extends ModuleSource {
  name: string;
  set?: Record<string, string | number>;
}

/** What a replace did to each map. */
export interface MapOutcome {
  name: string;
  /** carried: the running map was kept (its contents go on); new: created empty; why when new. */
  outcome: 'carried' | 'new';
  reason?: string;
}

/** How a program was put on its hook. */
export interface ProgramOutcome {
  name: string;
  hook: string;
  id: number;
  /** attach, link-update, chain-slot, chain-rebuild, attach-new-detach-old. */
  how: string;
}

export interface LoadResult {
  module: string;
  version: number;
  hash: string;
  programs: ProgramOutcome[];
  maps: MapOutcome[];
  /** Milliseconds: compile (or parse) the source, load into the kernel, swap on the hooks. */
  timings: { prepareMs: number; loadMs: number; swapMs: number };
}

export interface ModuleProgramInfo {
  name: string;
  type: string;
  hook: string;
  id: number;
  /** bpf_link id, when the program has a link of its own. */
  linkId?: number;
  /** run_cnt / run_time_ns from BPF_ENABLE_STATS (null for programs reached by tail call, which the kernel does not count). */
  runCount: string | null;
  runTimeNs: string | null;
}

export interface ModuleMapInfo {
  name: string;
  type: string;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  metric?: string;
}

export interface ModuleInfo {
  name: string;
  version: number;
  hash: string;
  source: string;
  loadedAt: string;
  replacedAt?: string;
  programs: ModuleProgramInfo[];
  maps: ModuleMapInfo[];
  /** Problems found when the engine re-adopted the module. */
  problems?: string[];
}

/** A hook shared by several modules: the XDP dispatcher of an interface. */
export interface ChainInfo {
  hook: string;
  members: string[];
  mode: 'direct' | 'dispatcher';
  linkId: number;
  dispatcherId?: number;
  progArrayId?: number;
}

export interface ListResult {
  modules: ModuleInfo[];
  chains: ChainInfo[];
}

export class EngineProtocolError extends Error {
  override readonly name = 'EngineProtocolError';
  constructor(readonly code: ErrorCode, message: string, readonly details?: string[]) {
    super(message);
  }

  toJSON(): ProtocolError {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

const MODULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** Module names become bpffs directory names: letters, digits, '_' and '-' (bpffs forbids '.'). */
export function checkModuleName(name: unknown, what = 'name'): string {
  if (typeof name !== 'string' || !MODULE_NAME.test(name)) {
    throw new EngineProtocolError('E_BAD_REQUEST', `${what} must be 1-63 letters, digits, '_' or '-' starting with a letter or digit, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** Parses one request line; every problem is an EngineProtocolError saying what is wrong. */
export function parseRequest(line: string): Request {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw new EngineProtocolError('E_BAD_JSON', `the request is not JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new EngineProtocolError('E_BAD_REQUEST', 'a request is a JSON object: {"v":1,"id":1,"verb":"list"}');
  const r = value as Record<string, unknown>;
  if (r.v !== PROTOCOL_VERSION) throw new EngineProtocolError('E_VERSION', `protocol version ${JSON.stringify(r.v)} is not supported; this engine speaks v${PROTOCOL_VERSION}`);
  if (typeof r.id !== 'number' && typeof r.id !== 'string') throw new EngineProtocolError('E_BAD_REQUEST', 'the request needs an "id" (number or string)');
  if (typeof r.verb !== 'string' || !(VERBS as readonly string[]).includes(r.verb)) {
    throw new EngineProtocolError('E_UNKNOWN_VERB', `unknown verb ${JSON.stringify(r.verb)}; verbs: ${VERBS.join(', ')}`);
  }
  if (r.args !== undefined && (r.args === null || typeof r.args !== 'object' || Array.isArray(r.args))) throw new EngineProtocolError('E_BAD_REQUEST', '"args" must be an object');
  return { v: r.v, id: r.id, verb: r.verb as Verb, ...(r.args ? { args: r.args as Record<string, unknown> } : {}) };
}

/** The id of a request line that may not parse, for the error reply. */
export function requestIdOf(line: string): number | string | null {
  try {
    const v = JSON.parse(line) as { id?: unknown };
    return typeof v?.id === 'number' || typeof v?.id === 'string' ? v.id : null;
  } catch {
    return null;
  }
}

/** Argument readers that name the argument in their errors. */
export const arg = {
  string(args: Record<string, unknown> | undefined, key: string, required: boolean): string | undefined {
    const v = args?.[key];
    if (v === undefined) {
      if (required) throw new EngineProtocolError('E_BAD_REQUEST', `missing argument "${key}"`);
      return undefined;
    }
    if (typeof v !== 'string' || v.length === 0 || v.length > 4096) throw new EngineProtocolError('E_BAD_REQUEST', `argument "${key}" must be a non-empty string`);
    return v;
  },
  settings(args: Record<string, unknown> | undefined): Record<string, string | number> | undefined {
    const v = args?.set;
    if (v === undefined) return undefined;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new EngineProtocolError('E_BAD_REQUEST', 'argument "set" must be an object of NAME: value');
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'string' && typeof x !== 'number') throw new EngineProtocolError('E_BAD_REQUEST', `set.${k} must be a number or a string`);
    }
    return v as Record<string, string | number>;
  },
};
