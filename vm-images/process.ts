/** Running host tools: found on PATH first, so a missing one is a clear error. */
import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { VmError } from './errors.js';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of a program on PATH, or null. */
export function which(program: string): string | null {
  if (program.includes('/')) return isExecutable(program) ? program : null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, program);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/** Like which(), but a missing tool is a VmError naming the Debian package. */
export function requireTool(program: string, debianPackage: string): string {
  const found = which(program);
  if (found === null) {
    const code = program.startsWith('qemu-system') ? 'NO_QEMU' : 'NO_TOOL';
    throw new VmError(code, `'${program}' is not installed or not on PATH (apt-get install ${debianPackage})`);
  }
  return found;
}

export interface Captured {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a short command and captures its output. */
export function capture(program: string, args: string[], env?: NodeJS.ProcessEnv): Captured {
  const r = spawnSync(program, args, { encoding: 'utf8', env: env ?? process.env, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new VmError('NO_TOOL', `cannot run ${program}: ${r.error.message}`);
  return { status: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command whose output goes to our stderr (so it shows its own progress), resolving to its status. */
export function runVisible(program: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  const stdio: StdioOptions = ['ignore', process.stderr, process.stderr];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program, args, { stdio, cwd: options.cwd, env: options.env ?? process.env });
    child.on('error', (e) => reject(new VmError('NO_TOOL', `cannot run ${program}: ${e.message}`)));
    child.on('close', (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)));
  });
}
