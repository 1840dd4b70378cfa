/**
 * The DSL's declarations under another directory (the package's dist/dsl
 * next to src/dsl): a module importing them by a relative or an absolute
 * path compiles as one importing `tsbpf/dsl`. The alias's files join the
 * compiler's project only when a module imports from it, as parsing and
 * binding the declarations (kernel types above all) is most of a cold compile.
 */
import { expect } from 'chai';
import { dslRoot, nodeHost } from '../../src/cli/dsl-host.js';
import { compile, openModule, type CompileHost } from '../../src/dsl/compiler/compile.js';
import { MODULE_DIR } from './support/harness.js';

const ALIAS = '/virtual/pkg/dist/dsl';

/** Modules under MODULE_DIR; the alias directory holds no .ts files on disk (as dist/ holds only .js and .d.ts). */
function hostWith(files: Record<string, string>): CompileHost {
  return {
    readFile: (path) => (path.startsWith(`${MODULE_DIR}/`) ? files[path.slice(MODULE_DIR.length + 1)] : path.startsWith(`${ALIAS}/`) ? (path.endsWith('.js') ? '// js' : undefined) : nodeHost.readFile(path)),
    tracepointFormat: nodeHost.tracepointFormat!,
  };
}

const body = `export const hits = hashMap<u32, u64>({ maxEntries: 4 });
export const onGetppid = tracepoint('syscalls/sys_enter_getppid', () => {
  hits.increment(0);
  return 0;
});
`;
const options = (source: string) => ({ entry: `${MODULE_DIR}/m.bpf.ts`, host: hostWith({ 'm.bpf.ts': source }), dslRoot, dslAliases: [ALIAS] });

describe('dsl aliases', () => {
  it('the alias is not in the project until a module imports from it', () => {
    const files = (source: string) => openModule(options(source)).project.getSourceFiles().map((f) => f.getFilePath());
    // First: the project is shared by compiles with the same DSL directories, and the tests below add the alias to it.
    expect(files(`import { hashMap, tracepoint, type u32, type u64 } from 'tsbpf/dsl';\n${body}`).filter((f) => f.startsWith(ALIAS))).to.deep.equal([]);
  });

  for (const [how, spec] of [
    ['tsbpf/dsl', 'tsbpf/dsl'],
    ['a relative path into the alias', '../pkg/dist/dsl/index.js'],
    ['an absolute path into the alias', `${ALIAS}/index.js`],
  ] as const) {
    it(`a module importing the DSL through ${how} compiles`, () => {
      const mod = compile(options(`import { hashMap, tracepoint, type u32, type u64 } from '${spec}';\n${body}`));
      expect(mod.programs.map((p) => p.name)).to.deep.equal(['onGetppid']);
      expect(mod.maps.map((m) => m.name)).to.deep.equal(['hits']);
    });
  }

});
