// Run by control.test.ts through runAsNobody: `tsbpf ARGS...` as user nobody.
// The command's code is loaded while still root (the clone may sit where
// nobody cannot enter), then drop-privileges.ts, imported last, drops to nobody.
import { main } from '../../src/cli/main.js';
import '../../src/cli/commands/module.js';
import '../support/drop-privileges.js';

process.exitCode = await main(process.argv.slice(2));
