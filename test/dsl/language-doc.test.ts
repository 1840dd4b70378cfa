/**
 * docs/language.md and the compiler cannot drift: every diagnostic code the
 * compiler has is documented with an example module, each example gives
 * exactly its diagnostic at the line and column the document names, and the
 * document's whole-module examples compile.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dslRoot } from '../../src/cli/dsl-host.js';
import { compile, type CompileHost } from '../../src/dsl/compiler/compile.js';
import { CompileError, type DslDiagnostic } from '../../src/dsl/compiler/diagnostics.js';
import { MODULE_DIR, memoryHost } from './support/harness.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DOC = readFileSync(join(ROOT, 'docs/language.md'), 'utf8');
const COMPILER_DIR = join(ROOT, 'src/dsl/compiler');

/** A fixed format so the tracepoint examples do not depend on this machine's tracefs. */
const SCHED_SWITCH_FORMAT = `name: sched_switch
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;
`;

function host(source: string): CompileHost {
  const base = memoryHost({ 'm.bpf.ts': source });
  return { readFile: base.readFile, tracepointFormat: (g, n) => (g === 'sched' && n === 'sched_switch' ? SCHED_SWITCH_FORMAT : undefined) };
}

function diagnostics(source: string, entry = `${MODULE_DIR}/m.bpf.ts`): DslDiagnostic[] {
  try {
    compile({ entry, host: host(source), dslRoot });
    return [];
  } catch (e) {
    if (e instanceof CompileError) return e.diagnostics;
    throw e;
  }
}

interface Example {
  code: string;
  line: number;
  column: number;
  missingEntry: boolean;
  source: string;
}

/** Fenced blocks whose info string is `ts CODE LINE:COL [missing]`. */
const EXAMPLES: Example[] = [...DOC.matchAll(/^```ts (TSBPF_[A-Z0-9_]+) (\d+):(\d+)( missing)?\n([\s\S]*?)^```$/gm)].map((m) => ({
  code: m[1]!, line: Number(m[2]), column: Number(m[3]), missingEntry: m[4] !== undefined, source: m[5]!,
}));

/** Plain `ts` blocks that are whole modules. */
const MODULES = [...DOC.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).filter((s) => s.includes("from 'tsbpf/dsl'"));

/** Every TSBPF_ code the compiler's sources give (quoted codes; TSBPF_DEBUG is an environment variable). */
function compilerCodes(): Set<string> {
  const codes = new Set<string>();
  for (const f of readdirSync(COMPILER_DIR)) {
    if (!f.endsWith('.ts')) continue;
    for (const m of readFileSync(join(COMPILER_DIR, f), 'utf8').matchAll(/['"`](TSBPF_[A-Z0-9_]+)['"`]/g)) codes.add(m[1]!);
  }
  return codes;
}

const DOCUMENTED = new Set([...DOC.matchAll(/^#### `(TSBPF_[A-Z0-9_]+)`$/gm)].map((m) => m[1]!));
/** Codes that cannot have an example module. */
const NO_EXAMPLE = new Set(['TSBPF_INTERNAL']);

describe('docs/language.md', function () {

  it('documents every diagnostic code of the compiler, with an example', () => {
    const codes = compilerCodes();
    expect(codes.size).to.be.greaterThan(50);
    const undocumented = [...codes].filter((c) => !DOCUMENTED.has(c));
    expect(undocumented, 'codes the compiler has but docs/language.md does not').to.deep.equal([]);
    const withExample = new Set(EXAMPLES.map((e) => e.code));
    const noExample = [...codes].filter((c) => !withExample.has(c) && !NO_EXAMPLE.has(c));
    expect(noExample, 'codes without an example').to.deep.equal([]);
    const stale = [...DOCUMENTED].filter((c) => !codes.has(c));
    expect(stale, 'codes the document names but the compiler no longer has').to.deep.equal([]);
  });

  for (const ex of EXAMPLES) {
    it(`${ex.code}: the example gives exactly this diagnostic at ${ex.line}:${ex.column}`, () => {
      const ds = ex.missingEntry ? diagnostics(ex.source, `${MODULE_DIR}/missing.bpf.ts`) : diagnostics(ex.source);
      const shown = ds.map((d) => `${d.code} ${d.line}:${d.column} ${d.message}`);
      expect(shown, 'diagnostics').to.have.length(1);
      expect({ code: ds[0]!.code, line: ds[0]!.line, column: ds[0]!.column }, shown[0]).to.deep.equal({ code: ex.code, line: ex.line, column: ex.column });
    });
  }

  it('compiles the whole-module examples without diagnostics', () => {
    expect(MODULES.length).to.be.greaterThan(0);
    for (const m of MODULES) expect(diagnostics(m), m).to.deep.equal([]);
  });
});
