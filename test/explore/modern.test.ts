/**
 * The explorer on today's API: test_hmm (src/drivers/test_hmm) runs every built-in scenario clean
 * on v6.19 machines, and each broken modern driver of src/drivers/test_hmm_broken is caught by the
 * first scenario that can see its bug, shrunk, and reproduced by its replay string — except
 * ignore-ebusy, which today's sequence count makes harmless (an exhaustive DFS finds nothing).
 */

import { describe, expect, it } from 'vitest';
import { TEST_HMM_BROKEN } from '../../src/drivers/test_hmm_broken/index.js';
import { ExploreDrivers, explore, MODERN_SCENARIOS, replay, SCENARIOS } from '../../src/index.js';

/** [scenario, checker, schedules explored until found, preemptions after shrinking]. */
const CAUGHT: Record<string, [string, string, number, number]> = {
  'test_hmm.no-set-seq': ['fault-vs-munmap', 'coherence', 5, 1],
  'test_hmm.unlocked-read-retry': ['fault-vs-munmap', 'coherence', 5, 1],
  'test_hmm.program-after-unlock': ['fault-vs-munmap', 'rules', 1, 0],
  'test_hmm.sleep-nonblockable': ['fault-vs-oomreap', 'rules', 1, 0],
  'test_hmm.keep-migrated-entries': ['migrate-vs-cpufault', 'coherence', 1, 0],
  'test_hmm.erase-head-only': ['thp-migrate-vs-munmap-half', 'coherence', 5, 0],
  'test_hmm.exclusive-unlock-early': ['exclusive-vs-cpuwrite', 'coherence', 10, 1],
  'test_hmm.skip-foreign-migrate': ['fault-vs-migrate', 'coherence', 1, 0],
  'test_hmm.ebusy-fatal': ['fault-vs-dontneed', 'integrity', 8, 1],
  'test_hmm.free-before-evict': ['unbind-vs-cpufault', 'integrity', 1, 0],
  'test_hmm.exclusive-keep-locked': ['exclusive-vs-cpuwrite', 'kernel', 1, 0],
  // object lifetimes (kasan): test_hmm before commit 744dd97752ef
  'test_hmm.close-no-evict': ['close-vs-cpuread', 'kasan', 1, 0],
};

/** Today's scenarios and the schedules test_hmm runs clean in each (DFS, 2 preemptions). */
const MODERN_DFS2: Record<string, number> = {
  'exclusive-vs-cpuwrite': 76,
  'release-vs-devfault': 75,
  'remove-vs-invalidate': 7,
  'unbind-vs-cpufault': 22,
};

describe("the explorer on today's test_hmm", () => {
  it('knows test_hmm and every broken modern driver by name', () => {
    expect(new ExploreDrivers().names()).toEqual(
      expect.arrayContaining(['test_hmm', ...Object.keys(TEST_HMM_BROKEN)]),
    );
    expect([...Object.keys(CAUGHT), 'test_hmm.ignore-ebusy'].sort()).toEqual(
      Object.keys(TEST_HMM_BROKEN).sort(),
    );
  });

  it('test_hmm passes every built-in scenario, every schedule with up to two preemptions', () => {
    for (const s of SCENARIOS) {
      const r = explore(s.name, { driver: 'test_hmm' });
      expect([s.name, r.violation]).toEqual([s.name, null]);
      expect(r.complete).toBe(true);
    }
  });

  it("migrate-cpufault-fork: a page the fork keeps shared is restored by test_hmm's own migration, which it need not be told of", () => {
    // The CPU fault's migrate_to_ram collects the device page (a migration entry, under test_hmm's
    // own MIGRATE invalidation, which it skips), then try_to_migrate yields in the child's
    // invalidation before migrate_device_unmap restores the page it cannot move: the migration's
    // owner holds the page from the collection on (the checker once learned it only after the unmap).
    const r = explore('migrate-cpufault-fork', { driver: 'test_hmm', protocol: 'seq', preemptions: 0 });
    expect([r.violation, r.schedulesExplored, r.terminalStates, r.complete]).toEqual([null, 6, 6, true]);
  });

  it("passes today's scenarios (EXCLUSIVE vs a CPU write, RELEASE vs a device fault, notifier removal vs munmap, unbind vs a CPU fault)", () => {
    expect(MODERN_SCENARIOS.map((s) => s.name)).toEqual(Object.keys(MODERN_DFS2));
    for (const s of MODERN_SCENARIOS) {
      const r = explore(s.name, { driver: 'test_hmm' });
      expect([s.name, r.violation, r.complete, r.schedulesExplored]).toEqual([
        s.name,
        null,
        true,
        MODERN_DFS2[s.name],
      ]);
    }
  });

  it("refuses today's scenarios on a seed-API driver, naming the driver", () => {
    expect(() => explore('release-vs-devfault', { driver: 'correct' })).toThrow(
      /'driver'.*not a modern-API driver/,
    );
    expect(() => explore('exclusive-migrate-cpuwrite', { driver: 'correct' })).toThrow(
      /'driver'.*not a modern-API driver/,
    );
  });

  it('the fault scenarios explore as many schedules as they do on v6.19 (27, 27, 29)', () => {
    const counts = ['fault-vs-munmap', 'fault-vs-mprotect', 'fault-vs-dontneed'].map(
      (s) => explore(s, { driver: 'test_hmm' }).schedulesExplored,
    );
    expect(counts).toEqual([27, 27, 29]);
  });

  for (const [variant, [scenario, checker, schedules, preemptions]] of Object.entries(CAUGHT)) {
    it(`${variant}: ${scenario} finds it (${checker})`, () => {
      const r = explore(scenario, { driver: variant });
      expect(r.schedulesExplored).toBe(schedules);
      const v = r.violation!;
      expect(v.checker).toBe(checker);
      expect(v.preemptions).toBe(preemptions);
      expect(v.replay.startsWith(`hmmx3:${scenario}:${variant}:`)).toBe(true);
      const again = replay(v.replay);
      expect(again.violation?.message).toBe(v.message);
    });
  }

  it('ignore-ebusy is harmless on today’s API: -EBUSY means read_retry fails too, and no schedule breaks', () => {
    for (const s of SCENARIOS) {
      const r = explore(s.name, { driver: 'test_hmm.ignore-ebusy' });
      expect([s.name, r.violation, r.complete]).toEqual([s.name, null, true]);
    }
  });
});
