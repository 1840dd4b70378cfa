/**
 * What every bench module returns, and the pieces they share: one figure
 * measured on both sides, the median of a set of rounds, and the libbpf
 * anchors built with gcc from bench/c/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
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
