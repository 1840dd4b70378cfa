// Run by tracefs-nobody.test.ts: compiles a tracepoint module as user nobody and reports the error.
// Every file the compiler needs is read before the drop: the clone may sit where nobody cannot enter.
import { readFileSync } from 'node:fs';
import { dslRoot, nodeHost } from '../../src/cli/dsl-host.js';
import { compile, type CompileHost } from '../../src/dsl/compiler/compile.js';

const files = new Map<string, string>([
  [`${dslRoot}/index.ts`, readFileSync(`${dslRoot}/index.ts`, 'utf8')],
  [`${dslRoot}/net.ts`, readFileSync(`${dslRoot}/net.ts`, 'utf8')],
  ['/virtual/m.bpf.ts', `import { tracepoint } from '${dslRoot}/index.js';\nexport const p = tracepoint('sched/sched_switch', (ctx) => ctx.prev_pid > 0 ? 1 : 0);\n`],
]);
const host: CompileHost = { readFile: (p) => files.get(p), tracepointFormat: nodeHost.tracepointFormat! };
await import('../support/drop-privileges.js');
try {
  compile({ entry: '/virtual/m.bpf.ts', host, dslRoot });
  process.stdout.write(`${JSON.stringify({ uid: process.getuid?.(), message: 'compiled' })}\n`);
} catch (e) {
  process.stdout.write(`${JSON.stringify({ uid: process.getuid?.(), message: (e as Error).message })}\n`);
}
