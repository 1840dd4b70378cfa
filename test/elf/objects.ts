/** The committed bpf-tests objects, for tests. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const bpfTestsDir = join(dirname(fileURLToPath(import.meta.url)), '../../bpf-tests');

export function bpfTestObjects(): string[] {
  return readdirSync(bpfTestsDir).filter((f) => f.endsWith('.bpf.o')).sort();
}

export function readBpfTestObject(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(bpfTestsDir, name)));
}
