/**
 * The `tsbpf` command as a child process, run from the sources through tsx
 * with colour off, the way a user's shell runs it. Each run starts node and
 * tsx (a second or two): tests keep their number small.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI_BIN = fileURLToPath(new URL('../../src/cli/bin.ts', import.meta.url));

export interface CliRun<Output> {
  /** The exit status; -1 when the process died of a signal or did not start. */
  status: number;
  stdout: Output;
  stderr: string;
}

function runCli(args: string[], input: string | Uint8Array | undefined): CliRun<Buffer> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI_BIN, ...args], { input, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** `tsbpf ...args`, its output as text. */
export function tsbpf(...args: string[]): CliRun<string> {
  const r = runCli(args, undefined);
  return { ...r, stdout: r.stdout.toString() };
}

/** `tsbpf ...args` with `input` on its standard input, its output as bytes (for binary output). */
export function tsbpfBinary(args: string[], input?: string | Uint8Array): CliRun<Buffer> {
  return runCli(args, input);
}
