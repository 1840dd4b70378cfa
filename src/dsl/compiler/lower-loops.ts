/**
 * C-style loops, `for (let i = …; …; …)`, `while` and `do…while`, once
 * loop-bounds.ts has proved how many times they can run. A short `for`
 * (lower.ts, unrolls) is unrolled as `range()` loops are (the variable is
 * a constant in each copy, so it can index arrays of structs); other loops
 * become the loop the source describes: the condition as written, the body,
 * the step, and a jump back, which the verifier follows to the same bound.
 */
import { type DoStatement, type ForStatement, Node, type WhileStatement } from 'ts-morph';
import { imm, reg } from './ir.js';
import { forInduction, type Induction, LOOP_ADVICE, LoopBoundError, type LoopFacts, whileInduction } from './loop-bounds.js';
import { type FunctionLowering, unrolls, wrapTo } from './lower.js';

function facts(l: FunctionLowering): LoopFacts {
  return {
    declarationOf: (n) => l.cx.declarationOf(n),
    constant: (n, against) => {
      const c = l.tryConstant(n);
      if (!c) return undefined;
      const compareIn = l.commonType({ k: 'int', op: reg(0), t: against }, c);
      return { value: c.literal ? c.op.value : wrapTo(c.op.value, c.t), compareIn };
    },
    localType: (d) => l.localType(d),
  };
}

/** Runs a loop-bound proof, turning its failure into the loop's diagnostic. */
function proved(l: FunctionLowering, prove: () => Induction): Induction {
  try {
    return prove();
  } catch (e) {
    if (!(e instanceof LoopBoundError)) throw e;
    return l.fail(e.node, 'TSBPF_LOOP_BOUND', `the compiler cannot prove this loop ends: ${e.message}; ${LOOP_ADVICE}`);
  }
}

export function lowerFor(l: FunctionLowering, node: ForStatement): void {
  const init = node.getInitializer();
  const list = init && Node.isVariableDeclarationList(init) ? init : undefined;
  const variable = list?.getDeclarations().length === 1 && list.getDeclarationKind() === 'let' ? list.getDeclarations()[0] : undefined;
  if (!variable) return l.fail(init ?? node, 'TSBPF_LOOP_BOUND', `declare one loop variable with let: ${LOOP_ADVICE}`);
  l.declareVariable(variable, false);
  const t = l.localType(variable);
  if (!t) return l.fail(variable, 'TSBPF_LOOP_BOUND', `the loop variable must be an integer; ${LOOP_ADVICE}`);
  const induction = proved(l, () => forInduction(facts(l), node, variable, t));
  const cond = node.getCondition()!;
  const exit = l.newLabel('endloop');
  if (unrolls(induction.trips, node.getStatement())) {
    // The step is one constant: in copy k the variable is start + k·step (the proof says it does not wrap).
    for (let k = 0n, v = induction.start; k < induction.trips; k++, v += induction.step) {
      const next = l.newLabel('next');
      l.bind(variable, { k: 'value', value: { k: 'int', op: imm(v), t } });
      l.branch(cond, exit, false);
      l.loop({ breakLabel: exit, continueLabel: next }, () => l.statement(node.getStatement()));
      l.label(next);
    }
    l.label(exit);
    return;
  }
  const head = l.newLabel('loop');
  const cont = l.newLabel('next');
  l.label(head);
  l.branch(cond, exit, false);
  l.loop({ breakLabel: exit, continueLabel: cont }, () => l.statement(node.getStatement()));
  l.label(cont);
  l.expr(node.getIncrementor()!);
  l.emit({ op: 'jmp', target: head });
  l.label(exit);
}

export function lowerWhile(l: FunctionLowering, node: WhileStatement | DoStatement): void {
  proved(l, () => whileInduction(facts(l), node));
  const head = l.newLabel('loop');
  const exit = l.newLabel('endloop');
  l.label(head);
  if (Node.isWhileStatement(node)) {
    l.branch(node.getExpression(), exit, false);
    l.loop({ breakLabel: exit, continueLabel: head }, () => l.statement(node.getStatement()));
    l.emit({ op: 'jmp', target: head });
  } else {
    const cont = l.newLabel('next');
    l.loop({ breakLabel: exit, continueLabel: cont }, () => l.statement(node.getStatement()));
    l.label(cont);
    l.branch(node.getExpression(), head, true);
  }
  l.label(exit);
}
