/**
 * The compiler's start-up snapshot: a V8 heap holding TypeScript and the
 * parsed and bound lib and DSL declarations, built once with `node
 * --build-snapshot` from dist/cli/compiler-snapshot.cjs (src/cli/
 * compiler-snapshot-entry.ts, bundled at build time). A build-cache miss
 * compiles in `node --snapshot-blob` instead of loading TypeScript into this
 * process: most of a cold compile was loading TypeScript and parsing, binding
 * and checking the declarations.
 *
 * The blob lives in the user's cache directory under <cache>/snapshot,
 * named by a hash of Node's version and binary, the bundle and the DSL
 * declarations, so a changed package or Node never uses an old one. It is
 * trusted as build-cache entries are (the current user's, no one else can
 * write it). A missing blob is built in the background and this compile
 * goes the normal way; a blob that fails to start or answers nonsense is
 * removed (to be rebuilt once: <blob>.broken; a second failure, or a failed
 * build, leaves <blob>.failed and no snapshot for that key), and the compile
 * goes the normal way. A bundle older than the sources it was made from
 * (src/ edited or rebuilt by tsc alone since `npm run build`: its record,
 * bundle-record.ts, says so) is not used either: it would compile with the
 * compiler as it was.
 * TSBPF_COMPILER_SNAPSHOT=0 turns it off.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, openSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentBundle } from './bundle-record.js';
import { prepareCacheDir, untrusted } from './cache-trust.js';
import type { SnapshotAnswer, SnapshotDsl, SnapshotRequest } from './compiler-snapshot-protocol.js';
import { sha256 } from './file-hashes.js';
import { readSourceFile } from './tracepoint-format.js';

/** The bundled snapshot script; it exists next to the built CLI only (dist/cli), so the CLI run from src/ compiles in-process. */
export const SNAPSHOT_BUNDLE = join(dirname(fileURLToPath(import.meta.url)), 'compiler-snapshot.cjs');
/**
 * V8 flags of the snapshot's processes, the same at build and at run (V8
 * refuses a snapshot built with other flags). --no-opt: a compile is too
 * short for TurboFan to pay back; without it the process peaks 5 MB lower.
 */
export const SNAPSHOT_NODE_FLAGS = ['--no-opt'];
/** A build lock older than this belongs to a builder that died. */
const STALE_LOCK_MS = 10 * 60_000;
const MAX_ANSWER_BYTES = 512 * 1024 * 1024;

/** The blob's path for this Node, this bundle and these declarations; undefined when there is no bundle or it is older than the compiler's sources (bundle-record.ts). */
export function snapshotBlobPath(cacheDir: string, dsl: SnapshotDsl): string | undefined {
  const bundle = currentBundle(SNAPSHOT_BUNDLE)?.sha256;
  if (bundle === undefined || !/^[0-9a-f]{64}$/.test(bundle)) return undefined;
  const declarations = ['index', 'net', 'kernel'].map((m) => readSourceFile(`${dsl.dslRoot}/${m}.ts`) ?? readSourceFile(`${dsl.dslRoot}/${m}.d.ts`) ?? '');
  const key = sha256([process.version, process.arch, process.execPath, ...SNAPSHOT_NODE_FLAGS, bundle, JSON.stringify(dsl), ...declarations.map((d) => sha256(d))].join('\0'));
  return join(cacheDir, 'snapshot', `compiler-${key.slice(0, 40)}.blob`);
}

/**
 * Compiles a module in the start-up snapshot: its answer (the module or its
 * diagnostics, with the files read), or undefined when the caller must
 * compile it itself (no snapshot yet, turned off, refused, or it failed).
 */
export function compileInSnapshot(req: SnapshotRequest, cacheDir: string, warn: (message: string) => void): Exclude<SnapshotAnswer, { fallback: string }> | undefined {
  if (process.env.TSBPF_COMPILER_SNAPSHOT === '0') return undefined;
  const blob = snapshotBlobPath(cacheDir, { dslRoot: req.dslRoot, dslAliases: req.dslAliases });
  if (!blob) return undefined;
  try {
    if (prepareCacheDir(dirname(blob)) !== null) return undefined;
  } catch {
    return undefined;
  }
  let st;
  try {
    st = lstatSync(blob);
  } catch {
    buildInBackground(blob, req);
    return undefined;
  }
  const why = st.isFile() ? untrusted(st, `compiler snapshot ${blob}`) : `compiler snapshot ${blob} is not a regular file`;
  if (why) {
    warn(`not using ${why}`);
    return undefined;
  }
  const child = spawnSync(process.execPath, [...SNAPSHOT_NODE_FLAGS, '--snapshot-blob', blob], { input: JSON.stringify(req), encoding: 'utf8', maxBuffer: MAX_ANSWER_BYTES, env: snapshotEnv() });
  const answer = child.status === 0 ? parseAnswer(child.stdout) : undefined;
  if (!answer) {
    // Stopped from outside (Ctrl-C reaches the whole process group): nothing is wrong with the blob.
    if (child.signal === 'SIGINT' || child.signal === 'SIGTERM' || child.signal === 'SIGHUP') return undefined;
    const how = child.error ? child.error.message : child.signal ? `signal ${child.signal}` : child.status !== 0 ? `exit status ${child.status}` : 'an answer that is not one';
    // A blob that fails is rebuilt once; if the rebuilt one fails too, this Node and package get no snapshot.
    const again = existsSync(`${blob}.broken`);
    warn(`the compiler snapshot failed (${how}); compiling without it${again ? ', and not using one again for this Node and package' : ', and it will be rebuilt'}`);
    try {
      writeFileSync(`${blob}.${again ? 'failed' : 'broken'}`, `${how}\n`, { mode: 0o600 });
      unlinkSync(blob);
    } catch {
      // someone else removed it
    }
    return undefined;
  }
  if (child.stderr) process.stderr.write(child.stderr); // TSBPF_DEBUG's traces
  return 'fallback' in answer ? undefined : answer;
}

function parseAnswer(text: string): SnapshotAnswer | undefined {
  try {
    const a = JSON.parse(text) as SnapshotAnswer;
    if (a && typeof a === 'object') {
      if ('fallback' in a && typeof a.fallback === 'string') return a;
      if ('module' in a && typeof a.module === 'string' && a.files && typeof a.files === 'object') return a;
      if ('diagnostics' in a && Array.isArray(a.diagnostics) && a.files && typeof a.files === 'object') return a;
    }
  } catch {
    // not JSON: a snapshot that crashed half-way
  }
  return undefined;
}

/**
 * The builder run in the background: `node --build-snapshot` into a
 * temporary name, made 0600 and renamed into place; older blobs removed.
 * argv: bundle, blob, lock, the V8 flags as JSON.
 */
const BUILDER = `
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const [bundle, blob, lock, flags] = process.argv.slice(1);
const tmp = blob + '.' + process.pid + '.tmp';
try {
  require('node:os').setPriority(10);
  const r = spawnSync(process.execPath, [...JSON.parse(flags), '--snapshot-blob', tmp, '--build-snapshot', bundle], { stdio: 'ignore' });
  if (r.status === 0) {
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, blob);
    const dir = path.dirname(blob);
    const name = path.basename(blob);
    for (const f of fs.readdirSync(dir)) if (/^compiler-[0-9a-f]+\\.blob(\\.broken|\\.failed)?$/.test(f) && f !== name && f !== name + '.broken') fs.rmSync(path.join(dir, f), { force: true });
  } else if (r.status) {
    fs.writeFileSync(blob + '.failed', 'node --build-snapshot: ' + (r.error ? r.error.message : r.signal || 'exit status ' + r.status) + '\\n', { mode: 0o600 });
  }
} finally {
  fs.rmSync(tmp, { force: true });
  fs.rmSync(lock, { force: true });
}
`;

/** The environment of the snapshot's processes: without NODE_OPTIONS, since V8 refuses a snapshot built with other flags and preloads have no place in it. */
function snapshotEnv(): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _, ...env } = process.env;
  return env;
}

/** Starts building the blob, unless a builder is at it already or building it failed before. */
function buildInBackground(blob: string, dsl: SnapshotDsl): void {
  if (existsSync(`${blob}.failed`)) return;
  const lock = `${blob}.lock`;
  try {
    if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) unlinkSync(lock);
  } catch {
    // no lock
  }
  try {
    closeSync(openSync(lock, 'wx', 0o600));
  } catch {
    return; // being built
  }
  try {
    const env = { ...snapshotEnv(), TSBPF_SNAPSHOT_DSL: JSON.stringify({ dslRoot: dsl.dslRoot, dslAliases: dsl.dslAliases }) };
    spawn(process.execPath, ['-e', BUILDER, SNAPSHOT_BUNDLE, blob, lock, JSON.stringify(SNAPSHOT_NODE_FLAGS)], { detached: true, stdio: 'ignore', env }).unref();
  } catch {
    try {
      unlinkSync(lock);
    } catch {
      // gone
    }
  }
}
