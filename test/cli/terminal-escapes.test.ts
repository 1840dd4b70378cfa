/**
 * Bytes from a module's source never reach the terminal raw: code frames,
 * diagnostics and verifier logs (which quote the source) escape control
 * characters, with or without NO_COLOR.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeControl } from '../../src/cli/output.js';
import { tsbpf } from '../support/cli.js';
import { needKernel } from '../support/kernel.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const ESC = '\x1b';
/** Clears the screen and sets the window title, if a terminal ever sees it. */
const HOSTILE = `${ESC}[2J${ESC}]0;pwned\x07\r`;

describe('cli: control characters from a module never reach the terminal', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-esc-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('escapeControl keeps newlines and tabs and makes every other control visible', () => {
    expect(escapeControl(`a\tb\nc${HOSTILE}\x9b`)).to.equal('a\tb\nc\\x1b[2J\\x1b]0;pwned\\x07\\x0d\\x9b');
  });

  it('tsbpf build: the code frame of a diagnostic on a line holding ESC bytes', () => {
    const mod = join(dir, 'bad.bpf.ts');
    writeFileSync(mod, `import { xdp, XdpAction } from '${join(ROOT, 'src/dsl/index.js')}';\nexport const p = xdp(() => { const s = '${HOSTILE}'; return s.length > 0 ? XdpAction.PASS : XdpAction.DROP; });\n`);
    const r = tsbpf('build', mod, '-o', join(dir, 'bad.o'));
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(`${mod}:2:`);
    expect(r.stderr).to.not.include(ESC);
    expect(r.stderr).to.not.include('\r');
    expect(r.stderr).to.include('\\x1b[2J\\x1b]0;pwned\\x07');
  });

  it('tsbpf run: a verifier rejection quoting a source line with ESC bytes', function () {
    needKernel(this);
    const mod = join(dir, 'reject.bpf.ts');
    writeFileSync(mod, `import { tracepoint, bpf } from '${join(ROOT, 'src/dsl/index.js')}';\nexport const p = tracepoint('syscalls/sys_enter_getppid', () => {\n  return bpf.unsafeLoad(64, 4) > 0 ? 1 : 0; // ${HOSTILE}\n});\n`);
    const r = tsbpf('run', mod, '--duration', '1', '--no-cache');
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(`${mod}:3:10`);
    expect(r.stderr).to.not.include(ESC);
    expect(r.stderr).to.include('// \\x1b[2J');
  });
});
