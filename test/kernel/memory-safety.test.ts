import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { needKernel } from '../support/kernel.js';
import { CHILD_DEADLINE } from '../support/wait.js';

const child = fileURLToPath(new URL('./memory-safety-child.ts', import.meta.url));

/** Runs one scenario of memory-safety-child.ts; the process must exit 0, not die from a signal. */
function survive(scenario: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', child, scenario], { encoding: 'utf8', timeout: CHILD_DEADLINE });
  expect(r.signal, `'${scenario}' killed the process with ${r.signal}\n${r.stderr}`).to.equal(null);
  expect(r.status, r.stderr).to.equal(0);
  const line = r.stdout.split('\n').find((l) => l.startsWith('survived '));
  expect(line, r.stdout).to.be.a('string');
  return JSON.parse(line!.slice('survived '.length)) as Record<string, unknown>;
}

describe('kernel: no public call ends the process with a signal (views onto mapped memory)', function () {
  before(function () {
    needKernel(this);
  });

  it('writing to the views consume() and consumeRaw() hand out is harmless (they are copies)', function () {
    expect(survive('ringbuf consume: write to the view')).to.deep.equal({ seen: 10 });
    expect(survive('ringbuf consumeRaw: write to the bytes')).to.deep.equal({ seen: 10 });
  });

  it('a ring-buffer view kept past close(), and a callback that closes its reader', function () {
    expect(survive('ringbuf: a view kept past close() is written')).to.deep.equal({ kept: 4 });
    expect(survive('ringbuf: the callback closes the reader')).to.deep.equal({ seen: 1 });
  });

  it('a perf-buffer sample view kept past close() is written', function () {
    expect(survive('perf buffer: a sample view kept past close() is written')).to.deep.equal({ kept: 5 });
  });

  it('map.memory() written after map.close(): the view is kept mapped (private memory) until collected', function () {
    expect(survive('map memory(): written after close()')).to.deep.equal({ after: 7 });
  });

  it('memory({ writable: false }) is a copy: writing it changes neither the map nor the process', function () {
    expect(survive('map memory({ writable: false }): written')).to.deep.equal({ before: 9, mapValue: 9 });
  });

  it('memory() of a frozen map is a typed MapMemoryError; the copy is writable', function () {
    expect(survive('map memory() of a frozen map')).to.deep.equal({ error: 'E_MAP_MEMORY', value: 5 });
  });
});
