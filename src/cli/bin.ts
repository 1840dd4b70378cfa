#!/usr/bin/env node
import { main } from './main.js';
import { reportError } from './output.js';

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
