/**
 * Bundles src/cli/compiler-snapshot-entry.ts with the compiler, ts-morph and
 * TypeScript into dist/cli/compiler-snapshot.cjs: the script of the
 * compiler's start-up snapshot (src/cli/compiler-snapshot.ts), which may
 * require only Node's own modules. Part of `npm run build` (and so of
 * `npm install`'s prepare).
 *
 * Without whitespace, and with only the lib files lib.es2022 reaches: the
 * snapshot's size is most of its start-up time and memory (the bundle's
 * source text stays in the heap). A module naming another lib (`/// <reference
 * lib=…>`) is compiled by the CLI itself. Names are not minified: error
 * messages quote code, and renaming saved 1 MB of 116 MB, no CPU.
 *
 * Next to it, compiler-snapshot.cjs.sha256: the bundle's hash, part of the
 * snapshot blob's name, so that a build-cache miss need not hash 8 MB again.
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist/cli/compiler-snapshot.cjs');
const KEPT_LIB = /^lib\.(es5|es20(1[5-9]|2[0-2])(\.[a-z.]+)?|decorators(\.legacy)?)\.d\.ts$/;

/** ts-morph's in-memory lib files, the ones lib.es2022 does not reach emptied. */
const onlyEs2022Libs = {
  name: 'only-es2022-libs',
  setup(b) {
    b.onLoad({ filter: /@ts-morph[\\/]common[\\/]dist[\\/]ts-morph-common\.js$/ }, (args) => {
      let kept = 0;
      const contents = readFileSync(args.path, 'utf8').replace(/\{\s*fileName: "(lib\.[^"]+)",\s*text: "(?:[^"\\]|\\.)*"\s*\}/g, (m, name) => {
        if (!KEPT_LIB.test(name)) return `{ fileName: "${name}", text: "" }`;
        kept++;
        return m;
      });
      if (kept < 10) throw new Error(`ts-morph's lib files changed shape (kept ${kept}): update scripts/bundle-compiler-snapshot.mjs`);
      return { contents, loader: 'js' };
    });
  },
};

// A hash left from an earlier build must never name a new bundle (were this build to stop half-way).
rmSync(`${outfile}.sha256`, { force: true });
await build({
  entryPoints: [join(root, 'src/cli/compiler-snapshot-entry.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  plugins: [onlyEs2022Libs],
});
writeFileSync(`${outfile}.sha256`, `${createHash('sha256').update(readFileSync(outfile)).digest('hex')}\n`);
