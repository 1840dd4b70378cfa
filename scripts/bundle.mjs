/**
 * The bundles of `npm run build` (and so of `npm install`'s prepare), made
 * with esbuild after tsc, each with the record of what it was made from
 * (src/cli/bundle-record.ts: a bundle whose files changed since is not used).
 *
 * 1. The CLI: dist/cli/tsbpf-cli-<command>.js for each command, and
 *    dist/cli/tsbpf-cli.js for none (--version, --help), each the CLI
 *    (dist/cli/main.js and what it imports) with that one command; bin.js
 *    imports the one it needs instead of dist/ module by module. A command
 *    then loads 3-6 files instead of ~150 ES modules (Node resolves, opens,
 *    reads and compiles each one: most of a cached `tsbpf run`'s start-up
 *    was that; one bundle for all commands, split per command, was still ~30
 *    files for `run`, ~20 ms more). Split at the dynamic imports left
 *    (--splitting): the compiler, loaded on a build-cache miss only, stays a
 *    chunk of its own; without splitting its static import of ts-morph would
 *    become one of the whole CLI. A process loads one bundle, so each module
 *    has one instance. koffi, ts-morph and tsx stay outside. Made from dist/
 *    (tsc's JavaScript, so it runs what the unbundled CLI runs), not minified
 *    (error messages and names stay as written); without source maps (16 of
 *    them would be ~40 MB): with TSBPF_DEBUG=1, when stacks are shown, bin.js
 *    runs dist/ with its source maps instead.
 *
 * 2. dist/cli/compiler-snapshot.cjs: src/cli/compiler-snapshot-entry.ts with
 *    the compiler, ts-morph and TypeScript, the script of the compiler's
 *    start-up snapshot (src/cli/compiler-snapshot.ts), which may require only
 *    Node's own modules. Without whitespace, and with only the lib files
 *    lib.es2022 reaches: the snapshot's size is most of its start-up time and
 *    memory (the bundle's source text stays in the heap). A module naming
 *    another lib (`/// <reference lib=…>`) is compiled by the CLI itself.
 *    Names are not minified: error messages quote code, and renaming saved
 *    1 MB of 116 MB, no CPU. Its record holds its sha256, part of the
 *    snapshot blob's name, so that a build-cache miss need not hash 8 MB again.
 */
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cliDir = join(root, 'dist/cli');
const { writeBundleRecord } = await import(pathToFileURL(join(cliDir, 'bundle-record.js')).href);
const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
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
      if (kept < 10) throw new Error(`ts-morph's lib files changed shape (kept ${kept}): update scripts/bundle.mjs`);
      return { contents, loader: 'js' };
    });
  },
};

/** Builds, then records every file of the package that went in or came out (paths in the metafile are relative to root). */
async function bundle(entry, options) {
  rmSync(`${entry}.inputs.json`, { force: true }); // a record left from an earlier build must never vouch for a new bundle
  const { metafile } = await build({ absWorkingDir: root, bundle: true, platform: 'node', target: 'node20', logLevel: 'warning', metafile: true, ...options });
  const files = [...Object.keys(metafile.inputs), ...Object.keys(metafile.outputs)].filter((f) => !f.startsWith('<')).map((f) => join(root, f));
  writeBundleRecord(entry, files, sha256(entry));
}

// 1. The CLI, a bundle per command. Files of an earlier build are removed first: chunk names change with their content.
const commandsDir = join(cliDir, 'commands');
const commands = readdirSync(commandsDir).filter((f) => /^[a-z]+\.js$/.test(f)).map((f) => f.slice(0, -3));
for (const f of readdirSync(cliDir)) if (/^tsbpf-cli(-[A-Za-z0-9-]+)?\.js(\.map|\.inputs\.json)?$/.test(f)) rmSync(join(cliDir, f));
const MAIN_IMPORT = 'await import(`./commands/${name}.js`)';
/** main.js with its import of a command by name narrowed to `command` (or to none): the bundle holds that command only. */
const onlyCommand = (command) => ({
  name: 'only-command',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]cli[\\/]main\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(MAIN_IMPORT)) throw new Error(`dist/cli/main.js no longer has ${MAIN_IMPORT}: update scripts/bundle.mjs`);
      const notHere = 'Promise.reject(Object.assign(new Error(`commands/${name}: not in this bundle`), { code: "ERR_MODULE_NOT_FOUND" }))';
      const one = command ? `(name === ${JSON.stringify(command)} ? import(${JSON.stringify(`./commands/${command}.js`)}) : ${notHere})` : notHere;
      return { contents: text.replace(MAIN_IMPORT, `await ${one}`), loader: 'js' };
    });
  },
});
await Promise.all([undefined, ...commands].map((command) => {
  const name = command ? `tsbpf-cli-${command}` : 'tsbpf-cli';
  return bundle(join(cliDir, `${name}.js`), {
    entryPoints: { [name]: join(cliDir, 'main.js') },
    outdir: cliDir,
    chunkNames: `${name}-[hash]`,
    format: 'esm',
    splitting: true,
    external: ['koffi', 'ts-morph', 'tsx', 'tsx/*'],
    plugins: [onlyCommand(command)],
  });
}));

// 2. The compiler snapshot's script.
const snapshot = join(cliDir, 'compiler-snapshot.cjs');
rmSync(`${snapshot}.sha256`, { force: true }); // the former name of its hash
await bundle(snapshot, {
  entryPoints: [join(root, 'src/cli/compiler-snapshot-entry.ts')],
  outfile: snapshot,
  format: 'cjs',
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [onlyEs2022Libs],
});
