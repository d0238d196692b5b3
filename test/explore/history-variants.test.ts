/**
 * The broken drivers modelled on the HMM users' history (src/drivers/dmirror_broken/, issue 16):
 * each is found by the checker named, in its scenario, within 2000 schedules, under 'seq' and
 * under 'seed' with the seed race allowed; the correct driver (its fixed twin) exhausts the same
 * bound clean.
 */

import { describe, expect, it } from 'vitest';
import { explore } from '../../src/index.js';

const CASES: [variant: string, scenario: string, checker: string, message: RegExp][] = [
  ['close-unregister-first', 'close-vs-cpuread', 'coherence', /a device page that is free/],
  ['unlock-twice-on-retry', 'fault-vs-dontneed', 'rules', /bad unlock balance detected/],
  [
    'ebusy-fatal',
    'fault-vs-dontneed',
    'integrity',
    /a device command failed although the pages stay mapped: dev0: EFAULT/,
  ],
  [
    'vma-lookup-unlocked',
    'fault-vs-munmap',
    'rules',
    /lockdep_assert_held failed: dev0 does not hold rwsem mmap_sem/,
  ],
  ['close-without-clear', 'fault-vs-dontneed', 'coherence', /^dev0 maps /],
  [
    'release-unlocked',
    'exit-vs-devaccess',
    'rules',
    /without the driver's update lock held|lockdep_assert_held/,
  ],
  ['erase-short', 'fault-vs-munmap', 'coherence', /a page that is free \(PG_buddy\)/],
  ['release-keeps-pt', 'exit-vs-devaccess', 'coherence', /a page that is free \(PG_buddy\)/],
];

describe('broken drivers from the HMM users’ history', () => {
  for (const [variant, scenario, checker, message] of CASES) {
    it(`${variant}: found by ${checker} in ${scenario}, under 'seq' and under 'seed' with the seed race allowed`, () => {
      const seq = explore(scenario, { driver: variant, protocol: 'seq', schedules: 2000 });
      expect(seq.violation?.checker).toBe(checker);
      expect(seq.violation?.message).toMatch(message);
      const seed = explore(scenario, { driver: variant, allow: ['seed-race'], schedules: 2000 });
      expect(seed.violation).not.toBeNull();
      expect(seed.violations.some((d) => !d.allowed)).toBe(true);
    });
  }

  it('their fixed twin, the reference dmirror, exhausts each bound clean', () => {
    const twins = [...new Set(CASES.map((c) => c[1]))].map((scenario) => {
      const r = explore(scenario, { protocol: 'seq' });
      return [scenario, r.violation === null && r.complete ? r.schedulesExplored : -1];
    });
    expect(Object.fromEntries(twins)).toEqual({
      'close-vs-cpuread': 47,
      'fault-vs-dontneed': 32,
      'fault-vs-munmap': 30,
      'exit-vs-devaccess': 20,
    });
  });
});
