import { describe, expect, it } from 'vitest';
import { parseOptions } from '../../src/cli/sweep.js';

describe('hmmsim sweep --policy', () => {
  it('a key=value item continues the policy with parameters before it', () => {
    const { spec } = parseOptions({
      policy: 'uvm:access_counters=on,ac_threshold=64,ac_granularity=64K,page,block:4',
    });
    expect(spec.policies).toEqual([
      'uvm:access_counters=on,ac_threshold=64,ac_granularity=64K',
      'page',
      'block:4',
    ]);
    expect(parseOptions({ policy: 'kfd:granularity=4,xnack=off,uvm' }).spec.policies).toEqual([
      'kfd:granularity=4,xnack=off',
      'uvm',
    ]);
  });

  it('a parameter with no policy before it stays an item of its own', () => {
    expect(parseOptions({ policy: 'page,ac_threshold=64' }).spec.policies).toEqual([
      'page',
      'ac_threshold=64',
    ]);
  });
});
