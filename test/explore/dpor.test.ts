/**
 * DPOR soundness on the explorer's scenarios: strategy 'dpor' finds every violation 'dfs' finds
 * within the same bound, with the same checker and (after shrinking) the same replay string, for
 * every built-in scenario and every driver variant, seed and modern; an unbounded search of both
 * ends in the same set of terminal states where it is small enough to exhaust; the footprint check
 * (checkFootprints) passes on every run but test_hmm's broken variants', so no step touched what it
 * declared it would not.
 */

import { describe, expect, it } from 'vitest';
import { DMIRROR_VARIANT_NAMES } from '../../src/drivers/dmirror/variants.js';
import { TEST_HMM_BROKEN } from '../../src/drivers/test_hmm_broken/index.js';
import {
  type ExploreResult,
  explore,
  MODERN_SCENARIOS,
  MULTI_SCENARIOS,
  SCENARIOS,
} from '../../src/index.js';

function both(
  scenario: string,
  driver: string,
  protocol: 'seed' | 'seq',
  preemptions = 2,
  checkFootprints = true,
) {
  const dfs = explore(scenario, { strategy: 'dfs', driver, protocol, preemptions });
  const dpor = explore(scenario, { strategy: 'dpor', driver, protocol, preemptions, checkFootprints });
  return { dfs, dpor };
}

function expectSameFinding(dfs: ExploreResult, dpor: ExploreResult): void {
  expect(dpor.violation?.checker ?? null).toBe(dfs.violation?.checker ?? null);
  expect(dpor.violation?.replay ?? null).toBe(dfs.violation?.replay ?? null);
  if (dfs.violation === null) {
    expect(dpor.complete).toBe(true);
    expect(dpor.terminalStates).toBe(dfs.terminalStates);
  }
  expect(dpor.schedulesExplored).toBeLessThanOrEqual(dfs.schedulesExplored);
}

describe('dpor finds what dfs finds (2 preemptions)', () => {
  for (const protocol of ['seed', 'seq'] as const) {
    it(`every built-in scenario on the correct driver, ${protocol}`, () => {
      for (const sc of SCENARIOS) {
        const { dfs, dpor } = both(sc.name, 'correct', protocol);
        expectSameFinding(dfs, dpor);
      }
    });
  }

  // the scenario that catches each broken variant (test/explore/variants.test.ts); the others run
  // each variant through every schedule of the bound, minutes for all of them: bench territory
  const CATCHES: Record<string, string> = {
    'no-valid-check': 'fault-vs-dontneed',
    'unlocked-valid-check': 'fault-vs-munmap',
    'no-lock-in-sync': 'fault-vs-munmap',
    'sleep-nonblockable': 'fault-vs-oomreap',
    'map-after-unregister': 'fault-vs-munmap',
    'no-write-erase': 'fault-vs-munmap',
    'free-mapped-page': 'migrate-vs-cpufault',
    'ignore-ebusy': 'fault-vs-dontneed',
    'no-tlb-flush': 'kernel-vs-munmap',
    // modelled on HMM users' fixed bugs (issue 16; test/explore/history-variants.test.ts)
    'close-unregister-first': 'close-vs-cpuread',
    'unlock-twice-on-retry': 'fault-vs-dontneed',
    'ebusy-fatal': 'fault-vs-dontneed',
    'vma-lookup-unlocked': 'fault-vs-munmap',
    'close-without-clear': 'fault-vs-dontneed',
    'release-unlocked': 'exit-vs-devaccess',
    'erase-short': 'fault-vs-munmap',
    'release-keeps-pt': 'exit-vs-devaccess',
    'close-keeps-owner': 'close-vs-cpuread',
    'vma-kept-unlocked': 'fault-vs-munmap',
  };
  it('every broken dmirror variant, on the scenario that catches it (seq)', () => {
    expect(Object.keys(CATCHES).sort()).toEqual(DMIRROR_VARIANT_NAMES.filter((x) => x !== 'correct').sort());
    for (const [v, scenario] of Object.entries(CATCHES)) {
      const { dfs, dpor } = both(scenario, v, 'seq');
      expect(dfs.violation).not.toBeNull();
      expectSameFinding(dfs, dpor);
    }
  });

  it("today's test_hmm and its broken variants on every scenario they run", () => {
    // the footprint check on the correct driver only: a broken variant's steps are the correct
    // driver's with a line missing, and the check costs most of this test's time
    for (const driver of ['test_hmm', ...Object.keys(TEST_HMM_BROKEN)]) {
      for (const sc of [...SCENARIOS, ...MODERN_SCENARIOS]) {
        const { dfs, dpor } = both(sc.name, driver, 'seq', 1, driver === 'test_hmm');
        expectSameFinding(dfs, dpor);
      }
    }
  });

  it("today's three-thread scenario on test_hmm, and the two variants it catches (1 preemption)", () => {
    const { dfs, dpor } = both('exclusive-migrate-cpuwrite', 'test_hmm', 'seq', 1);
    expect([dfs.violation, dfs.complete, dfs.schedulesExplored, dfs.terminalStates]).toEqual([
      null,
      true,
      130,
      26,
    ]);
    expect([dpor.violation, dpor.complete, dpor.schedulesExplored, dpor.terminalStates]).toEqual([
      null,
      true,
      128,
      26,
    ]);
    expectSameFinding(dfs, dpor);
    for (const driver of ['test_hmm.exclusive-unlock-early', 'test_hmm.keep-migrated-entries']) {
      const r = both('exclusive-migrate-cpuwrite', driver, 'seq', 1, false);
      expect([driver, r.dpor.violation?.checker]).toEqual([driver, 'coherence']);
      expectSameFinding(r.dfs, r.dpor);
    }
  });

  it("today's device-private THP scenario on test_hmm, and the two variants it catches (1 preemption)", () => {
    // the footprint check on: a THP's collect, split and folio copy declare what they touch
    const { dfs, dpor } = both('thp-migrate-vs-munmap-half', 'test_hmm', 'seq', 1);
    const counts = (r: ExploreResult) => [r.violation, r.complete, r.schedulesExplored, r.terminalStates];
    expect(counts(dfs)).toEqual([null, true, 46, 8]);
    expect(counts(dpor)).toEqual([null, true, 46, 8]);
    expectSameFinding(dfs, dpor);
    for (const driver of ['test_hmm.erase-head-only', 'test_hmm.keep-migrated-entries']) {
      const r = both('thp-migrate-vs-munmap-half', driver, 'seq', 1, false);
      expect([driver, r.dpor.violation?.checker]).toEqual([driver, 'coherence']);
      expectSameFinding(r.dfs, r.dpor);
    }
  });

  it('a fork racing a device-private THP migration on test_hmm (1 preemption): clean, and both erase bugs caught', () => {
    // found remove_migration_pmd taking the child's anon_vma (test/mm/huge_device_migrate.test.ts)
    const { dfs, dpor } = both('thp-fork-vs-migrate', 'test_hmm', 'seq', 1, false);
    const counts = (r: ExploreResult) => [r.violation, r.complete, r.schedulesExplored, r.terminalStates];
    expect(counts(dfs)).toEqual([null, true, 59, 12]);
    expect(counts(dpor)).toEqual([null, true, 59, 12]);
    for (const driver of ['test_hmm.erase-head-only', 'test_hmm.keep-migrated-entries']) {
      const r = both('thp-fork-vs-migrate', driver, 'seq', 1, false);
      expect([driver, r.dpor.violation?.checker, r.dpor.schedulesExplored]).toEqual([driver, 'coherence', 7]);
      expectSameFinding(r.dfs, r.dpor);
    }
  });

  it('the three- and four-thread scenarios (1 preemption, seed protocol)', () => {
    for (const sc of MULTI_SCENARIOS) {
      const { dfs, dpor } = both(sc.name, 'correct', 'seed', 1);
      expectSameFinding(dfs, dpor);
    }
  });
});

describe('unbounded: the same terminal states', () => {
  const SMALL: Record<string, [number, number, number]> = {
    // [dfs schedules, dpor schedules, terminal states]
    // dpor with memory footprints by object (src/explore/footprint_mem.ts); 63, 63, 7 and 29 when
    // memory was one object. fault-vs-oomreap: 6 until hmm_range_fault's validity test read the
    // range and sequence objects (src/hmm/seed/footprint.ts): it read nothing recorded, so its order
    // against the OOM reaper's invalidation was never reversed
    'fault-vs-munmap': [82, 18, 2],
    'fault-vs-mprotect': [82, 8, 2],
    'fault-vs-oomreap': [7, 7, 2],
    'exit-vs-devaccess': [29, 5, 3],
  };
  for (const [name, [nDfs, nDpor, states]] of Object.entries(SMALL)) {
    it(`${name}: every schedule vs dpor`, () => {
      const dfs = explore(name, { strategy: 'dfs', protocol: 'seq', preemptions: Number.POSITIVE_INFINITY });
      const dpor = explore(name, {
        strategy: 'dpor',
        protocol: 'seq',
        preemptions: Number.POSITIVE_INFINITY,
      });
      expect([dfs.complete, dfs.schedulesExplored, dfs.terminalStates]).toEqual([true, nDfs, states]);
      expect([dpor.complete, dpor.schedulesExplored, dpor.terminalStates]).toEqual([true, nDpor, states]);
      expect(dpor.preemptions).toBe(Number.POSITIVE_INFINITY);
    });
  }

  it('kernel-vs-munmap: 30 dpor schedules, 2 of them sleep-set blocked, so 28 traces; no other strategy reports any', () => {
    const opts = { protocol: 'seq', preemptions: Number.POSITIVE_INFINITY } as const;
    const dpor = explore('kernel-vs-munmap', { ...opts, strategy: 'dpor' });
    expect([dpor.complete, dpor.schedulesExplored, dpor.sleepBlocked, dpor.terminalStates]).toEqual([
      true,
      30,
      2,
      2,
    ]);
    const dfs = explore('kernel-vs-munmap', { ...opts, strategy: 'dfs', schedules: 500 });
    expect(dfs.sleepBlocked).toBe(0);
    expect(explore('kernel-vs-munmap', { strategy: 'random', schedules: 20 }).sleepBlocked).toBe(0);
  });

  it('an unbounded bound is refused for pct and random, and a non-integer for dpor', () => {
    expect(() =>
      explore('fault-vs-munmap', { strategy: 'pct', preemptions: Number.POSITIVE_INFINITY }),
    ).toThrow(/preemptions/);
    expect(() => explore('fault-vs-munmap', { strategy: 'dpor', preemptions: 1.5 })).toThrow(/preemptions/);
  });
});
