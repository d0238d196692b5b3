import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { DMIRROR_VARIANT_NAMES } from '../../src/drivers/dmirror/variants.js';
import { TEST_HMM_BROKEN } from '../../src/drivers/test_hmm_broken/index.js';
import { correctDmirror, ExploreDrivers, explore } from '../../src/index.js';

describe('explorer-owned driver registries', () => {
  it("hold the simulator registry's built-in drivers, and a name registered in one is not in another", () => {
    const mine = new ExploreDrivers();
    const other = new ExploreDrivers();
    const modern = Object.keys(TEST_HMM_BROKEN);
    expect(mine.names()).toEqual([...DMIRROR_VARIANT_NAMES, 'test_hmm', ...modern]);
    mine.register('mine-only', correctDmirror);
    expect(mine.names()).toContain('mine-only');
    expect(other.names()).not.toContain('mine-only');
    expect(new ExploreDrivers().names()).not.toContain('mine-only');
    expect(() => other.byName('mine-only')).toThrow(/unknown driver 'mine-only'/);
  });

  it('explore() looks the driver name up in its `drivers` option', () => {
    const mine = new ExploreDrivers();
    mine.register('mine-only', correctDmirror);
    const r = explore('fault-vs-dontneed', {
      driver: 'mine-only',
      drivers: mine,
      schedules: 3,
      strategy: 'random',
      // the seed protocol's race is found at random schedule 2: only 'seq' runs all three
      protocol: 'seq',
    });
    expect(r.driver).toBe('mine-only');
    expect(r.schedulesExplored).toBe(3);
    expect(() => explore('fault-vs-dontneed', { driver: 'mine-only' })).toThrow(ArgumentError);
    expect(() => explore('fault-vs-dontneed', { drivers: {} as never })).toThrow(/'drivers'/);
  });
});
