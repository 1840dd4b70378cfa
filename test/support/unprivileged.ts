/**
 * Runs a test's child script as user nobody (65534) with no capabilities.
 *
 * Starting the child as nobody (setpriv) makes Node read tsx and the sources
 * as nobody, which fails from a clone in a directory other users cannot
 * enter (a home directory, /root, a 0700 `mktemp -d`): "Cannot find package
 * 'tsx'". So the child starts as root, loads everything it needs, and drops
 * to nobody itself: its last import is ./drop-privileges.ts.
 */
import { type SpawnSyncReturns, type StdioOptions, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CHILD_DEADLINE } from './wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const NOBODY = 65534;

export function runAsNobody(script: string, options: { args?: string[]; stdio?: StdioOptions } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', 'tsx', script, ...(options.args ?? [])], {
    encoding: 'utf8',
    env: { ...process.env, HOME: '/tmp', TSBPF_TEST_DROP_TO: String(NOBODY) },
    cwd: ROOT,
    timeout: CHILD_DEADLINE,
    ...(options.stdio ? { stdio: options.stdio } : {}),
  });
}
