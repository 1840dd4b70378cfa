/**
 * `tsbpf asm`: assemble LLVM-syntax or ubpf-syntax text into raw
 * little-endian 8-byte instruction slots.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { assemble } from '../../asm/index.js';
import { hex } from '../../btf/values.js';
import { readFileOrStdin } from '../input-file.js';
import { CliError, printJson } from '../output.js';

export const help = `usage: tsbpf asm [--syntax llvm|ubpf] IN [-o OUT] [--json]

Assembles eBPF text into raw bytes (little-endian 8-byte slots).

  IN                    the source file, or - for standard input
  --syntax llvm|ubpf    llvm: what llvm-mc -triple bpf reads and llvm-objdump prints
                        (r0 = *(u32 *)(r1 + 4), if r1 > 5 goto +2); ubpf: the
                        bpf_conformance syntax (ldxw %r0, [%r1+4]). Default: ubpf
                        when the text uses %rN registers, else llvm.
  -o, --output OUT      where to write the bytes (default: standard output)
  --json                print {"instructions":N,"bytes":N,"output":OUT} when writing
                        to a file, or {"instructions":N,"bytes":N,"hex":"b7 00 .."}
                        instead of the raw bytes without -o

Errors name file:line:col.
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      syntax: { type: 'string' },
      output: { type: 'string', short: 'o' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new CliError(`expected one input file\n\n${help}`, 2);
  const syntax = values.syntax;
  if (syntax !== undefined && syntax !== 'llvm' && syntax !== 'ubpf') throw new CliError(`--syntax must be llvm or ubpf, not '${syntax}'`, 2);
  const input = positionals[0]!;
  let source: string;
  try {
    source = new TextDecoder('utf-8', { ignoreBOM: true }).decode(await readFileOrStdin(input));
  } catch (e) {
    throw new CliError(`cannot read ${input}: ${(e as Error).message}`);
  }
  const chosen = syntax ?? (/%r\d/.test(source) ? 'ubpf' : 'llvm');
  const { bytes, instructions } = assemble(source, { syntax: chosen, file: input === '-' ? '<stdin>' : input });
  if (values.output !== undefined && values.output !== '-') {
    try {
      await writeFile(values.output, bytes);
    } catch (e) {
      throw new CliError(`cannot write ${values.output}: ${(e as Error).message}`);
    }
    if (values.json) printJson({ instructions: instructions.length, bytes: bytes.length, output: values.output });
  } else if (values.json) {
    // Raw bytes are not a JSON line: give them as hex, in the form exec --mem reads.
    printJson({ instructions: instructions.length, bytes: bytes.length, hex: hex(bytes) });
  } else {
    await new Promise<void>((resolve, reject) => process.stdout.write(bytes, (e) => (e ? reject(e) : resolve())));
  }
  return 0;
}
