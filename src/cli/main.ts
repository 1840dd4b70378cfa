/**
 * The `tsbpf` command. Each subcommand lives in src/cli/commands/<name>.ts and
 * exports `help` (its usage text) and `run(argv)` (resolving to an exit status);
 * they are imported lazily so that `tsbpf asm` never loads koffi or ts-morph.
 */
import { CliError, indicator, reportError } from './output.js';

interface Command {
  help: string;
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, { summary: string }> = {
  asm: { summary: 'assemble eBPF text (llvm or ubpf syntax) into raw bytes' },
  disasm: { summary: 'disassemble raw bytes or an ELF object' },
  exec: { summary: 'run a program in the interpreter or the kernel and print r0' },
  load: { summary: 'load a BPF ELF object into the kernel and pin it' },
  btf: { summary: 'dump BTF: raw types, a C header (vmlinux.h) or TypeScript declarations' },
  map: { summary: 'list and dump maps' },
  prog: { summary: 'list loaded programs, or show one' },
  link: { summary: 'list, show, pin, update and detach BPF links' },
  net: { summary: 'list the XDP, tc and flow dissector programs on the network, like bpftool net show' },
  feature: { summary: 'probe what the running kernel supports' },
  build: { summary: 'compile a .bpf.ts module to a BPF ELF object' },
  probes: { summary: 'list tracepoints (with their fields) and a binary\'s uprobe functions, like bpftrace -l' },
  run: { summary: 'compile, load and attach a .bpf.ts module, then print its maps' },
  engine: { summary: 'the long-running IO module engine (control socket, replace, chains, metrics)' },
  module: { summary: 'load, replace, unload, list, show and move modules in a running engine' },
};

/** Commands whose module imports the compiler (ts-morph): slow to load the first time. */
const SLOW_TO_LOAD = new Set(['run', 'build']);

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: tsbpf <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n'tsbpf <command> --help' shows a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write('tsbpf 0.1.0\n');
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    process.stderr.write(`tsbpf: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  // run and build load the TypeScript compiler first (seconds, cold): say so at once on a terminal.
  if (SLOW_TO_LOAD.has(name) && !rest.includes('--help') && !rest.includes('-h')) indicator.start(`tsbpf ${name}: loading the compiler…`);
  let command: Command;
  try {
    command = (await import(`./commands/${name}.js`)) as Command;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(e).includes(`commands/${name}`)) {
      process.stderr.write(`tsbpf: '${name}' is not available in this build\n`);
      return 2;
    }
    throw e;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help.endsWith('\n') ? command.help : `${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    return reportError(e);
  } finally {
    indicator.stop();
  }
}

export { CliError, reportError };
