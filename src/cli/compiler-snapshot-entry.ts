/**
 * The script of the compiler's start-up snapshot (bundled into one CommonJS
 * file, dist/cli/compiler-snapshot.cjs, since a snapshot's script may require
 * only Node's own modules). Built with `node --build-snapshot`, it loads
 * TypeScript and compiles a small module once, so that the snapshot holds
 * TypeScript's code and the parsed and bound lib and DSL declarations.
 * Started from the snapshot, it compiles the module a request on stdin names
 * and writes the answer on stdout as one JSON text (see SnapshotAnswer).
 */
import { readFileSync } from 'node:fs';
import { startupSnapshot } from 'node:v8';
import { compile, type CompileHost, openModule } from '../dsl/compiler/compile.js';
import { CompileError } from '../dsl/compiler/diagnostics.js';
import { findTracefs } from '../kernel/mount-table.js';
import { serializeModule } from './compiled-module-json.js';
import { recordingReads } from './file-hashes.js';
import type { SnapshotAnswer, SnapshotDsl, SnapshotRequest } from './compiler-snapshot-protocol.js';
import { isTracepointName, readSourceFile, readTracepointFormat } from './tracepoint-format.js';

/** Compiles as the CLI's build cache does: the same host, every file read recorded with its hash. */
function serve(req: SnapshotRequest): SnapshotAnswer {
  const files: Record<string, string> = {};
  let fallback: string | undefined;
  let tracefs: string | undefined | null = null; // looked up at the first tracepoint, not at each
  const recorded = recordingReads(readSourceFile, files);
  const host: CompileHost = {
    readFile(p) {
      const t = recorded(p);
      // The bundle keeps only the libs lib.es2022 reaches (the others are most of its size).
      if (t !== undefined && /<reference\s+lib\s*=/.test(t)) fallback = `${p} names a lib`;
      return t;
    },
    tracepointFormat(group, name) {
      if (!isTracepointName(group, name)) return undefined;
      if (tracefs === null) tracefs = findTracefs();
      const root = tracefs;
      // Mounting tracefs needs the syscall layer: the CLI compiles such a module itself.
      if (root === undefined) {
        fallback = 'tracefs is not mounted';
        return undefined;
      }
      return readTracepointFormat(root, group, name);
    },
  };
  try {
    const module = compile({ entry: req.entry, host, dslRoot: req.dslRoot, dslAliases: req.dslAliases });
    return fallback ? { fallback } : { module: serializeModule(module), files };
  } catch (e) {
    if (fallback) return { fallback };
    if (e instanceof CompileError) return { diagnostics: e.diagnostics, files };
    return { fallback: `compiler failed: ${(e as Error).message}` };
  }
}

const WARM_ENTRY = '/nonexistent/tsbpf-snapshot/warm.bpf.ts';
const WARM_MODULE = `import { bpf, type CStr, hashMap, ringbuf, tracepoint, type u32, type u64 } from 'tsbpf/dsl';
export const counts = hashMap<CStr<16>, u64>({ maxEntries: 64 });
export const events = ringbuf<{ pid: u32; comm: CStr<16> }>({ size: 4096 });
export const onExec = tracepoint('syscalls/sys_enter_execve', (ctx) => {
  let comm!: CStr<16>;
  bpf.currentComm(comm);
  counts.increment(comm);
  const e = events.reserve();
  if (e) { e.pid = bpf.currentPid(); e.comm = comm; events.submit(e); }
  return ctx.filename ? 0 : 1;
});
`;
const WARM_FORMAT = `name: sys_enter_execve
ID: 1
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:const char * filename;\toffset:16;\tsize:8;\tsigned:0;
`;

/** Loads TypeScript and the declarations: a compile of a small module (its result does not matter), then an empty project again. */
function warm(dsl: SnapshotDsl): void {
  const host: CompileHost = {
    readFile: (p) => (p === WARM_ENTRY ? WARM_MODULE : p === `${WARM_ENTRY}.empty.ts` ? '' : readSourceFile(p)),
    tracepointFormat: () => WARM_FORMAT,
  };
  try {
    compile({ entry: WARM_ENTRY, host, ...dsl });
  } catch {
    // the warm-up's diagnostics do not matter
  }
  // Leaves only the declarations in the project, parsed and bound; the warm-up's checker is garbage.
  openModule({ entry: `${WARM_ENTRY}.empty.ts`, host, ...dsl });
}

if (startupSnapshot.isBuildingSnapshot()) {
  warm(JSON.parse(process.env.TSBPF_SNAPSHOT_DSL ?? '') as SnapshotDsl);
  startupSnapshot.setDeserializeMainFunction(() => {
    const cpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const ready = cpu();
    const req = JSON.parse(readFileSync(0, 'utf8')) as SnapshotRequest;
    const answer = serve(req);
    process.stdout.write(JSON.stringify(req.timing ? { ...answer, cpuMs: { ready, compiled: cpu() } } : answer));
  });
} else {
  process.stderr.write('compiler-snapshot.cjs is the script of a start-up snapshot: node --snapshot-blob FILE --build-snapshot compiler-snapshot.cjs\n');
  process.exitCode = 2;
}
