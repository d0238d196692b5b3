/**
 * The explorer against the catalogue of broken dmirror drivers (src/drivers/dmirror/variants.ts),
 * by name, with protocol 'seq' (where the correct driver passes everything): which built-in scenario
 * catches each variant first, with which checker, within the DfsStrategy(2) budget, shrunk, and
 * reproduced by its replay string.
 */

import { describe, expect, it } from 'vitest';
import { DMIRROR_VARIANT_NAMES } from '../../src/drivers/dmirror/variants.js';
import { ExploreDrivers, explore, replay } from '../../src/index.js';

/** [scenario, checker, schedules explored until found, preemptions after shrinking]. */
const CAUGHT: Record<string, [string, string, number, number]> = {
  'no-valid-check': ['fault-vs-dontneed', 'coherence', 6, 1],
  'unlocked-valid-check': ['fault-vs-munmap', 'rules', 1, 0],
  'no-lock-in-sync': ['fault-vs-munmap', 'rules', 1, 0],
  'sleep-nonblockable': ['fault-vs-oomreap', 'rules', 1, 0],
  'map-after-unregister': ['fault-vs-munmap', 'rules', 1, 0],
  'no-write-erase': ['fault-vs-munmap', 'coherence', 1, 0],
  'free-mapped-page': ['migrate-vs-cpufault', 'coherence', 17, 1],
  // READ fails with EBUSY after DMIRROR_POPULATE_RETRIES_MAX stale retries: the pages stayed mapped
  'ignore-ebusy': ['fault-vs-dontneed', 'integrity', 6, 1],
  // modelled on the HMM users' history (issue 16; test/explore/history-variants.test.ts)
  'close-unregister-first': ['close-vs-cpuread', 'coherence', 2, 1],
  'unlock-twice-on-retry': ['fault-vs-dontneed', 'rules', 6, 1],
  'ebusy-fatal': ['fault-vs-dontneed', 'integrity', 6, 1],
  'vma-lookup-unlocked': ['fault-vs-munmap', 'rules', 1, 0],
  'close-without-clear': ['fault-vs-dontneed', 'coherence', 2, 0],
  'release-unlocked': ['exit-vs-devaccess', 'rules', 1, 0],
  'erase-short': ['fault-vs-munmap', 'coherence', 1, 0],
  'release-keeps-pt': ['exit-vs-devaccess', 'coherence', 1, 0],
  // a device kernel's TLB (src/explore/scenarios_multi.ts): the ioctls never use it
  'no-tlb-flush': ['kernel-vs-munmap', 'coherence', 67, 0],
  // object lifetimes: the kasan checker (test/check/kasan.test.ts)
  'close-keeps-owner': ['close-vs-cpuread', 'kasan', 1, 0],
  'vma-kept-unlocked': ['fault-vs-munmap', 'kasan', 2, 1],
};

describe('dmirror variants by name', () => {
  it('every variant is a registered driver, and every broken one is caught below', () => {
    expect(new ExploreDrivers().names()).toEqual(expect.arrayContaining([...DMIRROR_VARIANT_NAMES]));
    expect(Object.keys(CAUGHT).sort()).toEqual(DMIRROR_VARIANT_NAMES.filter((v) => v !== 'correct').sort());
  });

  for (const [variant, [scenario, checker, schedules, preemptions]] of Object.entries(CAUGHT)) {
    it(`${variant}: ${scenario} finds it (${checker})`, () => {
      const r = explore(scenario, { driver: variant, protocol: 'seq' });
      expect(r.driver).toBe(variant);
      expect(r.schedulesExplored).toBe(schedules);
      const v = r.violation!;
      expect(v.checker).toBe(checker);
      expect(v.preemptions).toBe(preemptions);
      expect(v.replay.startsWith(`hmmx3:${scenario}:${variant}:seq:1:0.1.0:${v.checker}:`)).toBe(true);
      const again = replay(v.replay);
      expect(again.violation?.checker).toBe(checker);
      expect(again.violation?.message).toBe(v.message);
    });
  }
});
