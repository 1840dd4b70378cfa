// Run by link-unprivileged.test.ts as user nobody with no capabilities. The parent passes
// loaded TRACEPOINT program as fd 3 and a PERF_EVENT program as fd 4; this child tries to
// attach them and reports each error as one JSON line.
import { attachPerfEvent, attachTracepoint } from '../../src/kernel/index.js';
// Last: everything above is loaded before the script becomes nobody (see test/support/unprivileged.ts).
import '../support/drop-privileges.js';

const report = (what: string, fn: () => unknown): void => {
  try {
    fn();
    process.stdout.write(`${JSON.stringify({ what, name: 'none' })}\n`);
  } catch (e) {
    const err = e as Error & { code?: string };
    process.stdout.write(`${JSON.stringify({ what, uid: process.getuid?.(), name: err.name, code: err.code, message: err.message })}\n`);
  }
};

report('tracepoint', () => attachTracepoint({ fd: 3 }, 'syscalls/sys_enter_getpid'));
report('perf', () => attachPerfEvent({ fd: 4 }));
