/**
 * Shared CLI output: colour that respects NO_COLOR and non-TTY output, one
 * JSON object per line for --json, progress on stderr, and error reporting.
 */

/**
 * Whether to colour what goes to `stream` (standard output unless said
 * otherwise): FORCE_COLOR (other than 0/false) forces it, as Node's own
 * FORCE_COLOR does; a non-empty NO_COLOR (no-color.org) turns it off;
 * otherwise only when that stream is a terminal (and TERM is not dumb).
 */
export function useColor(stream: { isTTY?: boolean } = process.stdout): boolean {
  const force = process.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  return Boolean(stream.isTTY) && process.env.TERM !== 'dumb';
}

const paint = (code: number, stream: () => { isTTY?: boolean }) => (s: string) => (useColor(stream()) ? `\x1b[${code}m${s}\x1b[0m` : s);
const stdout = () => process.stdout;
const stderr = () => process.stderr;
/** Colours for standard output. */
export const red = paint(31, stdout);
export const green = paint(32, stdout);
export const yellow = paint(33, stdout);
export const bold = paint(1, stdout);
export const dim = paint(2, stdout);
/** The same colours for text written to standard error: decided by stderr, so `tsbpf ... 2>log` stays plain. */
export const errColor = { red: paint(31, stderr), yellow: paint(33, stderr), bold: paint(1, stderr), dim: paint(2, stderr) } as const;

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

/** Prints one JSON document on its own line with bigints as bare numbers, as bpftool -j writes u64 values. */
export function printJsonNumbers(value: unknown): void {
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `\u0000big${v}` : v));
  process.stdout.write(`${text.replace(/"\\u0000big(-?\d+)"/g, '$1')}\n`);
}

/** Prints one JSON object on its own line (bigints as decimal strings). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

/** Progress for long work: on stderr, only when it is a terminal. */
export function progress(message: string): void {
  indicator.stop();
  if (process.stderr.isTTY) process.stderr.write(`${errColor.dim(message)}\n`);
}

/**
 * A running indicator on standard error for work that can take seconds (the
 * first compile loads the TypeScript compiler): one line, a turning mark and
 * the elapsed time, redrawn in place and erased by `stop()`. Only on a
 * terminal; in a pipe or a log it writes nothing. It never keeps the process
 * alive, and anything else the command writes to stderr should come after `stop()`.
 */
class Indicator {
  #timer: NodeJS.Timeout | undefined;
  #message = '';
  #started = 0;
  #frame = 0;

  /** Shows `message` (or replaces the one shown). */
  start(message: string): void {
    if (!process.stderr.isTTY) return;
    this.#message = message;
    if (this.#timer === undefined) {
      this.#started = Date.now();
      this.#timer = setInterval(() => this.#draw(), 100);
      this.#timer.unref();
    }
    this.#draw();
  }

  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    process.stderr.write('\r\x1b[K');
  }

  #draw(): void {
    const mark = '|/-\\'[this.#frame++ % 4];
    const seconds = ((Date.now() - this.#started) / 1000).toFixed(1);
    const line = `${mark} ${this.#message} ${seconds}s`.slice(0, Math.max(10, (process.stderr.columns || 80) - 1));
    process.stderr.write(`\r\x1b[K${errColor.dim(line)}`);
  }
}

/** The command's one running indicator. */
export const indicator = new Indicator();

/** 'error', red when standard error (not standard output) is a terminal: `tsbpf ... 2>log` stays plain. */
const errorLabel = (): string => errColor.red('error');

/**
 * Prints an error for the user and returns the exit status. Errors from the
 * library carry their own position (file:line:col, section+offset); only an
 * unexpected error gets a stack, and only with TSBPF_DEBUG=1.
 */
export function reportError(e: unknown): number {
  indicator.stop();
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
