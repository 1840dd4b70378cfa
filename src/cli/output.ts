/**
 * Shared CLI output: colour that respects NO_COLOR and non-TTY output, one
 * JSON object per line for --json, progress on stderr, and error reporting.
 */

/** Whether to colour what goes to `stream` (standard output unless said otherwise). */
export const useColor = (stream: { isTTY?: boolean } = process.stdout): boolean =>
  process.env.NO_COLOR === undefined && process.env.FORCE_COLOR !== '0' && Boolean(stream.isTTY);

const paint = (code: number) => (s: string) => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);
export const red = paint(31);
export const green = paint(32);
export const yellow = paint(33);
export const bold = paint(1);
export const dim = paint(2);

/**
 * Text from outside (module source, verifier logs quoting it, names from an
 * object file) made safe for a terminal: control characters other than
 * newline and tab, DEL and the C1 controls become visible escapes (ESC is
 * `\x1b`), so no byte of it can move the cursor, recolour or retitle the
 * terminal, with or without NO_COLOR.
 */
export function escapeControl(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** An error meant for the user: printed without a stack, with an exit status. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Prints one JSON object on its own line (bigints as decimal strings). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

/** Progress for long work: on stderr, only when it is a terminal. */
export function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`${dim(message)}\n`);
}

/** 'error', red when standard error (not standard output) is a terminal: `tsbpf ... 2>log` stays plain. */
const errorLabel = (): string => (useColor(process.stderr) ? '\x1b[31merror\x1b[0m' : 'error');

/**
 * Prints an error for the user and returns the exit status. Errors from the
 * library carry their own position (file:line:col, section+offset); only an
 * unexpected error gets a stack, and only with TSBPF_DEBUG=1.
 */
export function reportError(e: unknown): number {
  const err = e instanceof Error ? e : new Error(String(e));
  // node:util parseArgs errors (unknown option, missing value) are usage errors: one line, status 2.
  const code = (err as { code?: unknown }).code;
  if (code === 'EPIPE') return 0; // the reader of our output went away (| head): not an error
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    const message = err.message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    process.stderr.write(`${errorLabel()}: ${escapeControl(message)} (see --help)\n`);
    return 2;
  }
  process.stderr.write(`${errorLabel()}: ${escapeControl(err.message)}\n`);
  if (process.env.TSBPF_DEBUG === '1' && err.stack) process.stderr.write(`${err.stack}\n`);
  // By name as well as class: a command module loaded twice (tests, tsx) has its own CliError class.
  const exitCode = (err as { exitCode?: unknown }).exitCode;
  return (err instanceof CliError || err.name === 'CliError') && typeof exitCode === 'number' ? exitCode : 1;
}
