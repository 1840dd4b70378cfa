// Run by control.test.ts through runAsNobody: `tsbpf module ARGS...` as user nobody.
// The command's code is loaded while still root (the clone may sit where nobody
// cannot enter, and resolving even a loaded module reads the folder), then
// drop-privileges.ts, imported last, drops to nobody.
import { run } from '../../src/cli/commands/module.js';
import { reportError } from '../../src/cli/output.js';
import '../support/drop-privileges.js';

process.exitCode = await run(process.argv.slice(2)).catch(reportError);
