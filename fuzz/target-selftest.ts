/**
 * selftest: proves the runner itself: inputs that pass, are rejected,
 * throw an untyped error, hang, or die of a signal. Not a real target.
 */
import type { Gen } from './random.js';
import { asText, type FuzzInput, type FuzzTarget, type Outcome } from './target.js';

const KINDS = ['ok', 'ok', 'ok', 'rejected', 'throw', 'hang', 'signal'] as const;

function generate(g: Gen): FuzzInput {
  return { variant: 'txt', data: g.pick(KINDS) };
}

function execute(input: FuzzInput): Outcome {
  const kind = asText(input.data);
  if (kind === 'throw') throw new TypeError('selftest: an untyped error');
  if (kind === 'hang') for (;;);
  if (kind === 'signal') process.kill(process.pid, 'SIGSEGV');
  return kind === 'rejected' ? 'rejected' : 'ok';
}

export const selftestTarget: FuzzTarget = { name: 'selftest', timeoutMs: 500, chunk: 1000, generate, execute };
