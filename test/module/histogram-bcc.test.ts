/**
 * bcc's log2 histogram layout (print_log2_hist) from the module's log2
 * buckets: its first slot holds both [0] and [1], and the slots run from
 * 0 -> 1 up to the highest non-empty one, as bcc prints them.
 */
import { expect } from 'chai';
import { bucketOf, formatLog2Bcc } from '../../src/module/index.js';

const log2 = { kind: 'log2' } as const;
const buckets = (counts: Record<number, number>) => Object.entries(counts).map(([i, count]) => ({ ...bucketOf(log2, Number(i)), count }));

describe('module: histograms in bcc\'s format', () => {
  it('folds [0] and [1] into 0 -> 1 and prints every slot up to the highest, stars scaled to 40', () => {
    // [0]: 1, [1]: 1, [4, 8): 4 (bpftrace index 4), [16, 32): 2 (index 6).
    const text = formatLog2Bcc(buckets({ 1: 1, 2: 1, 4: 4, 6: 2 }), 'usecs');
    expect(text).to.equal([
      '     usecs               : count    distribution',
      '         0 -> 1          : 2        |********************                    |',
      '         2 -> 3          : 0        |                                        |',
      '         4 -> 7          : 4        |****************************************|',
      '         8 -> 15         : 0        |                                        |',
      '        16 -> 31         : 2        |********************                    |',
      '',
    ].join('\n'));
  });

  it('an empty histogram is the header and the first slot', () => {
    expect(formatLog2Bcc([], 'msecs').split('\n')[1]).to.equal('         0 -> 1          : 0        |                                        |');
  });
});
