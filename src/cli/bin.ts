#!/usr/bin/env node
/**
 * The `tsbpf` executable. The built package runs the CLI from a bundle made
 * by `npm run build` (scripts/bundle.mjs): dist/cli/tsbpf-cli-<command>.js
 * holds the CLI with that one command, dist/cli/tsbpf-cli.js with none
 * (--version, --help): 3-6 files instead of ~150 ES modules, most of a
 * cached `tsbpf run`'s start-up. A bundle is used while it is current
 * (bundle-record.ts), else the CLI runs module by module from ./main.js, as
 * from src/ under tsx; so it does with TSBPF_DEBUG=1 (stacks are shown then,
 * and dist/'s source maps lead them to src/) or TSBPF_CLI_BUNDLE=0.
 */
import { fileURLToPath } from 'node:url';
import { currentBundle } from './bundle-record.js';

type Cli = typeof import('./main.js');

const command = process.argv[2] ?? '';
const bundleName = command === '' || command.startsWith('-') || command === 'help' ? 'tsbpf-cli' : /^[a-z]+$/.test(command) ? `tsbpf-cli-${command}` : undefined;
const bundle = bundleName === undefined ? undefined : new URL(`./${bundleName}.js`, import.meta.url);
const debug = process.env.TSBPF_DEBUG === '1';
const useBundle = bundle !== undefined && !debug && process.env.TSBPF_CLI_BUNDLE !== '0' && currentBundle(fileURLToPath(bundle)) !== undefined;
if (debug) process.setSourceMapsEnabled(true);
const { main, reportError } = (await (useBundle ? import(bundle.href) : import('./main.js'))) as Cli;

// `tsbpf ... | head`: once the reader is gone there is nothing left to say; stop quietly, as cat does.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = reportError(e);
  },
);
