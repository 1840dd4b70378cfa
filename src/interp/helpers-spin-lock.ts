/** Spin locks on map values: bpf_spin_lock, bpf_spin_unlock. */
import { InterpError } from './errors.js';
import type { Helper, HelperContext } from './helpers.js';

/**
 * bpf_spin_lock / bpf_spin_unlock on one CPU: the lock word is 1 while held
 * (0 again after the unlock, as user space reads it from the kernel), and
 * taking a held lock or releasing a free one is the program's bug, which a
 * kernel would deadlock on or the verifier refuse.
 */
export const spinLock: Helper = (ctx, lock) => setLock(ctx, lock, true);
export const spinUnlock: Helper = (ctx, lock) => setLock(ctx, lock, false);

function setLock(ctx: HelperContext, lock: bigint, take: boolean): bigint {
  const word = ctx.memory.slice(lock, 4, ctx.pc, true);
  const held = word.some((b) => b !== 0);
  if (held === take) throw new InterpError('E_HELPER', take ? 'bpf_spin_lock: the lock is already held' : 'bpf_spin_unlock: the lock is not held', ctx.pc);
  word.fill(0);
  if (take) word[0] = 1;
  return 0n;
}
