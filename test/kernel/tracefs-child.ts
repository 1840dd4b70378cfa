// Run by pin-mounts.test.ts in a mount namespace without tracefs: finds a tracepoint id (which mounts tracefs).
import { isMounted } from '../../src/kernel/fs-mounts.js';
import { tracepointId } from '../../src/kernel/tracefs.js';

const before = isMounted('/sys/kernel/tracing', 'tracefs');
const id = tracepointId('syscalls', 'sys_enter_getppid');
process.stdout.write(`${JSON.stringify({ before, id, after: isMounted('/sys/kernel/tracing', 'tracefs') })}\n`);
