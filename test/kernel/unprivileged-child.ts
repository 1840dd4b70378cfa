// Run by lifetime.test.ts; drops to user nobody with no capabilities: try to create a map and report the error.
import { BpfMap } from '../../src/kernel/index.js';
// Last: everything above is loaded before the script becomes nobody (see test/support/unprivileged.ts).
import '../support/drop-privileges.js';

try {
  BpfMap.create({ type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1 }).close();
  process.stdout.write(`${JSON.stringify({ uid: process.getuid?.(), name: 'none' })}\n`);
} catch (e) {
  const err = e as Error & { code?: string };
  process.stdout.write(`${JSON.stringify({ uid: process.getuid?.(), name: err.name, code: err.code, message: err.message })}\n`);
}
