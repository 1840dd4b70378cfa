/** Reading a command's input file, where '-' means standard input. */
import { readFile } from 'node:fs/promises';

/** The bytes of the file at `path`, or of standard input when `path` is '-'. */
export async function readFileOrStdin(path: string): Promise<Uint8Array> {
  if (path !== '-') return new Uint8Array(await readFile(path));
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}
