/** Running LLVM 14's tools (llvm-mc, llvm-objdump) as oracles, for tests and the benchmark. */
import { commandRuns } from '../support/tools.js';

/** The first of `names` that runs, or null. */
export function findTool(...names: string[]): string | null {
  return names.find((name) => commandRuns(name, '--version')) ?? null;
}

/** `.quad` lines for raw bytes, so llvm-mc copies them unchanged. */
export function quads(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 8) lines.push(`.quad 0x${view.getBigUint64(at, true).toString(16)}`);
  return `${lines.join('\n')}\n`;
}

/** The instruction text of `llvm-objdump -d` output, without address, hex and `<sym+off>`. */
export function objdumpText(output: string): string[] {
  const out: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^\s*\d+:\t[0-9a-f ]+\t(.*)$/.exec(line);
    if (m) out.push(m[1]!.replace(/ <[^<>]*>$/, ''));
  }
  return out;
}


/** Each section of an `llvm-objdump -d` listing: its bytes (from the hex column) and instruction text. */
export function objdumpSections(output: string): Map<string, { bytes: Uint8Array; text: string[] }> {
  const sections = new Map<string, { hex: string[]; text: string[] }>();
  let current: { hex: string[]; text: string[] } | undefined;
  for (const line of output.split('\n')) {
    const header = /^Disassembly of section (.*):$/.exec(line);
    if (header) {
      current = { hex: [], text: [] };
      sections.set(header[1]!, current);
      continue;
    }
    const m = /^\s*\d+:\t([0-9a-f ]+)\t(.*)$/.exec(line);
    if (m && current) {
      current.hex.push(m[1]!.trim());
      current.text.push(m[2]!.replace(/ <[^<>]*>$/, ''));
    }
  }
  const out = new Map<string, { bytes: Uint8Array; text: string[] }>();
  for (const [name, s] of sections) {
    const bytes = s.hex.join(' ').split(/\s+/).filter(Boolean).map((h) => parseInt(h, 16));
    out.set(name, { bytes: new Uint8Array(bytes), text: s.text });
  }
  return out;
}
