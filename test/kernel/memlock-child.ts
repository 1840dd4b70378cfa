// Run by memlock.test.ts: with RLIMIT_MEMLOCK at 64 KiB before any bpf() call, creates an 8 MiB map
// (more than the limit allows on kernels that charge it) and reports the limit afterwards.
import { BpfMap } from '../../src/kernel/map.js';
import { getResourceLimit, Rlimit, setResourceLimit } from '../../src/syscall/rlimit.js';

const start = getResourceLimit(Rlimit.MEMLOCK);
setResourceLimit(Rlimit.MEMLOCK, { soft: 65536n, hard: start.hard });
let created: string;
try {
  BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 8, maxEntries: 1 << 20 }).close();
  created = 'yes';
} catch (e) {
  created = String(e);
}
process.stdout.write(`${JSON.stringify({ created, soft: getResourceLimit(Rlimit.MEMLOCK).soft.toString() })}\n`);
