/** A program the verifier rejected, with its log. */
import { SyscallError } from '../syscall/bpf.js';
import { hintFor } from '../syscall/hints.js';

/** How many lines of the log the message shows. */
const SHOWN_LINES = 20;

/**
 * The verifier rejected a program: the errno, the whole verifier log (`log`), its last lines in the message, and whether the log was cut short (`truncated`, ENOSPC at the largest buffer).
 * @example
 * try {
 *   Program.load({ type: 'xdp', instructions });
 * } catch (e) {
 *   if (e instanceof VerifierError) console.error(e.errnoName, e.lastLines.join('\n'));
 * }
 */
export class VerifierError extends SyscallError {
  override readonly name: string = 'VerifierError';
  /** The complete verifier log. */
  readonly log: string;
  /** The log's last non-empty lines (the verdict is at the end). */
  readonly lastLines: string[];
  /** True when the log still did not fit at the maximum size. */
  readonly truncated: boolean;

  constructor(
    /** The name the program was loaded under. */
    readonly program: string,
    errno: number,
    log: string,
    truncated = false,
  ) {
    super(`BPF_PROG_LOAD (${program})`, errno, hintFor('PROG_LOAD', errno), log);
    this.log = log;
    this.truncated = truncated;
    const lines = log.split('\n').filter((l) => l.trim() !== '');
    this.lastLines = lines.slice(-SHOWN_LINES);
    const shown = this.lastLines.length
      ? `\nverifier log${truncated ? ' (truncated)' : ''}, last ${this.lastLines.length} of ${lines.length} lines:\n  ${this.lastLines.join('\n  ')}`
      : '\n(the verifier wrote no log)';
    this.message = `${this.message}${shown}`;
  }

  override get code(): string {
    return 'E_VERIFIER';
  }
}
