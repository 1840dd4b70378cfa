/**
 * Optional oracle tools (bpftool, clang, LLVM 14): whether one runs here. A
 * test whose oracle is missing skips; that is not the kernel's fault, so it
 * is a plain skip even under TSBPF_REQUIRE_KERNEL=1.
 */
import { spawnSync } from 'node:child_process';

const answers = new Map<string, boolean>();

/** Whether `command ...args` runs and exits 0, e.g. `commandRuns('clang', '--version')`; asked once per process. */
export function commandRuns(command: string, ...args: string[]): boolean {
  const key = [command, ...args].join(' ');
  let runs = answers.get(key);
  if (runs === undefined) {
    runs = spawnSync(command, args, { stdio: 'ignore' }).status === 0;
    answers.set(key, runs);
  }
  return runs;
}

export const haveBpftool = (): boolean => commandRuns('bpftool', 'version');
