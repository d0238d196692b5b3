/**
 * Broken test_hmm drivers that follow fixed kernel bugs (issue 16), each against its fixed twin,
 * today's test_hmm: the variant is found on its scenario under 'seq', and under 'seed' with the
 * seed race allowed; the twin exhausts the same bound clean. The commits are in each driver's file
 * (src/drivers/test_hmm_broken/) and in docs/explorer.md.
 */

import { describe, expect, it } from 'vitest';
import { explore } from '../../src/index.js';

/** [variant, scenario, checker, first failing schedule, the twin's schedules at 2 preemptions]. */
const FOLLOWS: [string, string, string, number, number][] = [
  ['test_hmm.skip-foreign-migrate', 'fault-vs-migrate', 'coherence', 1, 58],
  ['test_hmm.ebusy-fatal', 'fault-vs-dontneed', 'integrity', 8, 29],
  ['test_hmm.free-before-evict', 'unbind-vs-cpufault', 'integrity', 1, 22],
  ['test_hmm.exclusive-keep-locked', 'exclusive-vs-cpuwrite', 'kernel', 1, 76],
];

describe('broken test_hmm drivers from the kernel history, against their fixed twin', () => {
  for (const [variant, scenario, checker, schedule, twin] of FOLLOWS) {
    it(`${variant}: found by ${scenario} (${checker}), the twin explores clean`, () => {
      const seq = explore(scenario, { driver: variant, protocol: 'seq', schedules: 2000 });
      expect([seq.violation?.checker, seq.schedulesExplored]).toEqual([checker, schedule]);
      const seed = explore(scenario, {
        driver: variant,
        protocol: 'seed',
        schedules: 2000,
        allow: ['seed-race'],
      });
      expect([seed.violation?.checker, seed.schedulesExplored]).toEqual([checker, schedule]);
      const fixed = explore(scenario, { driver: 'test_hmm', protocol: 'seq', schedules: 2000 });
      expect([fixed.violation, fixed.complete, fixed.schedulesExplored]).toEqual([null, true, twin]);
    });
  }

  it('exclusive-keep-locked: the CPU fault sleeps for ever on the page lock EXCLUSIVE kept', () => {
    const r = explore('exclusive-vs-cpuwrite', { driver: 'test_hmm.exclusive-keep-locked', protocol: 'seq' });
    expect(r.violation?.message).toMatch(
      /^deadlock: .*\n {2}cpu is blocked at step 12 in 'wait_event page_waitqueue\(1\)'/,
    );
  });

  it('unbind with pages resident: memory released before the eviction loses the data the CPU wrote', () => {
    const r = explore('unbind-vs-cpufault', { driver: 'test_hmm.free-before-evict', protocol: 'seq' });
    expect(r.violation?.message).toBe(
      "CPU (pid 1) read 0x00 at 0x7effffffe000 (mm 1), but the last write there stored 0x10 [after cpu's step 6 at 'load']",
    );
  });
});
