/**
 * tsbpf/eval/node: the reference evaluator for a module file on disk
 * (the DSL and relative imports resolved as `tsbpf build` resolves them).
 *
 *   const ev = openModuleEvaluator('counter.bpf.ts');
 *   const r = ev.run('count', { packet, state: ev.newState() });
 */
import { ModuleEvaluator } from '../dsl/eval/index.js';
import { nodeCompileOptions } from './dsl-host.js';

export { ModuleEvaluator, EvalState, EvalError, type RunInput, type RunResult } from '../dsl/eval/index.js';

export function openModuleEvaluator(path: string): ModuleEvaluator {
  return ModuleEvaluator.open(nodeCompileOptions(path));
}
