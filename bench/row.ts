/**
 * What every bench module returns, and the pieces they share: one figure
 * measured on both sides, the median of a set of rounds, and the libbpf
 * anchors built with gcc from bench/c/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchRow {
  name: string;
  ours: number;
  anchor: number;
  ratio: number;
  unit: string;
  /** What the anchor is, e.g. 'libbpf btf__parse'. */
  anchorName?: string;
  /** The target, e.g. '<= 1.0'. */
  target?: string;
}

/** The middle value (the mean of the middle two for an even count); NaNs are ignored, none left is NaN. */
export function median(values: number[]): number {
  const s = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const benchDir = fileURLToPath(new URL('.', import.meta.url));

/** Builds bench/build/NAME from bench/c/NAME.c (gcc -O2 -lbpf) when missing or stale; returns its path. */
export function libbpfAnchor(name: string): string {
  const src = join(benchDir, 'c', `${name}.c`);
  const bin = join(benchDir, 'build', name);
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(join(benchDir, 'build'), { recursive: true });
    execFileSync('gcc', ['-O2', '-Wall', src, '-lbpf', '-o', bin], { stdio: 'inherit' });
  }
  return bin;
}

/**
 * The argv prefix that runs a command and, when it exits, writes to `file`
 * `USER_S SYS_S WALL_S` and to `${file}.rss` its peak memory in KB. CPU time
 * is the whole process tree's, from wait4 in microseconds (GNU time prints
 * hundredths of a second, too coarse for bpftool's ~10 ms); wall time runs
 * from the spawn to the exit, so the wrapper's own start-up is not counted;
 * peak memory is GNU time's %M (maximum RSS of the tree's largest process),
 * as a process forked from the Python wrapper would inherit its ~13 MB
 * high-water mark. `${file}.start` gets the CLOCK_MONOTONIC nanoseconds
 * (process.hrtime's clock) of the spawn as soon as it happens. The wrapper
 * ignores SIGINT, so Ctrl-C to the process group reaches only the command.
 */
export function rusageWrapper(file: string): string[] {
  const code = [
    'import os, signal, sys, time',
    'signal.signal(signal.SIGINT, signal.SIG_IGN)',
    'start = time.monotonic_ns()',
    'pid = os.posix_spawn("/usr/bin/time", ["time", "-f", "%M", "-o", sys.argv[1] + ".rss"] + sys.argv[2:], os.environ, setsigdef=[signal.SIGINT])',
    'open(sys.argv[1] + ".start", "w").write("%d\\n" % start)',
    '_, _, r = os.wait4(pid, 0)',
    'wall = (time.monotonic_ns() - start) / 1e9',
    'open(sys.argv[1], "w").write("%.6f %.6f %.6f\\n" % (r.ru_utime, r.ru_stime, wall))',
  ].join('\n');
  return ['python3', '-c', code, file];
}

/** What rusageWrapper wrote: CPU ms (user + system), peak RSS in MB, wall ms from spawn to exit. */
export function readRusage(file: string): { cpu: number; peakMb: number; wall: number } {
  const [user, sys, wall] = readFileSync(file, 'utf8').trim().split(' ').map(Number);
  const rss = Number(readFileSync(`${file}.rss`, 'utf8').trim().split('\n').pop());
  return { cpu: (user! + sys!) * 1000, peakMb: rss / 1024, wall: wall! * 1000 };
}

/** When the command under rusageWrapper was forked, on process.hrtime's clock (ns); undefined until then. */
export function forkedAt(file: string): bigint | undefined {
  try {
    return BigInt(readFileSync(`${file}.start`, 'utf8').trim());
  } catch {
    return undefined;
  }
}
