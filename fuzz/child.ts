/**
 * A fuzz worker process: runs inputs [start, end) of one target and seed,
 * telling its parent (over the IPC channel) before each input which one it
 * is, so a hang or a signal is pinned to its input. Untyped errors are
 * reported and the run goes on.
 */
import { inputRandom } from './random.js';
import { loadTarget } from './targets.js';
import type { ChildMessage } from './runner.js';

const [name, seedText, startText, endText] = process.argv.slice(2);
const target = await loadTarget(name!);
const seed = Number(seedText);
const send = (m: ChildMessage) => new Promise<void>((resolve) => process.send!(m, () => resolve()));

let ok = 0;
let rejected = 0;
let slowest = { index: -1, ms: 0 };
for (let i = Number(startText); i < Number(endText); i++) {
  await send({ kind: 'start', index: i, ok, rejected }); // delivered before the input runs
  const t0 = performance.now();
  try {
    const input = target.generate(inputRandom(seed, i));
    if (target.execute(input) === 'ok') ok++;
    else rejected++;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const cause = err.cause instanceof Error ? `\ncaused by: ${err.cause.stack ?? err.cause.message}` : '';
    await send({ kind: 'crash', index: i, error: `${err.name}: ${err.message}`, stack: `${err.stack ?? ''}${cause}` });
  }
  const ms = performance.now() - t0;
  if (ms > slowest.ms) slowest = { index: i, ms };
}
await send({ kind: 'done', ok, rejected, slowest });
process.disconnect();
