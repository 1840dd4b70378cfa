#!/usr/bin/env node
/**
 * The `tsbpf` executable. The built package runs the CLI from its bundle
 * (dist/cli/tsbpf-cli.js, made by `npm run build`: a few files instead of
 * ~150 ES modules, most of a cached `tsbpf run`'s start-up) while the bundle
 * is current, else module by module from ./main.js, as from src/ under tsx.
 * TSBPF_CLI_BUNDLE=0 turns the bundle off.
 */
import { fileURLToPath } from 'node:url';
import { currentBundle } from './bundle-record.js';

type Cli = typeof import('./main.js');

const bundle = new URL('./tsbpf-cli.js', import.meta.url);
const useBundle = process.env.TSBPF_CLI_BUNDLE !== '0' && currentBundle(fileURLToPath(bundle)) !== undefined;
// Stacks are shown with TSBPF_DEBUG=1: the bundle's source maps lead them back to src/.
if (useBundle && process.env.TSBPF_DEBUG === '1') process.setSourceMapsEnabled(true);
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
