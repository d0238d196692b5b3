/**
 * The lifecycle scenarios (src/explore/scenarios_lifecycle.ts) on the reference drivers, and the
 * close-order fix of dmirror: a close that unregisters the mirror before it clears the device page
 * table leaves the device mapping a page a CPU fault migrated back and freed.
 */

import { describe, expect, it } from 'vitest';
import { LIFECYCLE_SCENARIOS } from '../../src/explore/scenarios_lifecycle.js';
import { correctDmirror, explore, scenarioByName } from '../../src/index.js';

describe('close-vs-cpuread', () => {
  it('the reference dmirror clears its table before it unregisters: clean over every schedule', () => {
    const r = explore('close-vs-cpuread', { protocol: 'seq' });
    expect(r.violation).toBeNull();
    expect(r.complete).toBe(true);
    expect(r.schedulesExplored).toBe(47);
  });
});

describe('close-vs-cpuread on test_hmm: a use after free that commit 744dd97752ef leaves', () => {
  it('release evicts the pages, but a CPU fault already in dmirror_devmem_fault holds its page locked', () => {
    // The eviction's migrate_device_range trylocks each page and skips the faulting one; release
    // then kfrees the dmirror the fault took from zone_device_data, and the fault's erase uses it.
    const r = explore('close-vs-cpuread', { driver: 'test_hmm', protocol: 'seq' });
    const v = r.violation!;
    expect(v.checker).toBe('kasan');
    expect(v.preemptions).toBe(1);
    expect(r.schedulesExplored).toBe(6);
    expect(v.message).toBe(
      'BUG: KASAN: slab-use-after-free: read of .doUpdate of struct dmirror hmm_dmirror0.0 by task cpu ' +
        "[step 9, after 'mutex_lock dmirror.mutex']; freed in dmirror_fops_release by task dev0-close " +
        "[step 8, after 'mutex_lock dmirror.mutex']; allocated in dmirror_fops_open outside any task",
    );
  });
});

describe('the lifecycle scenarios on the reference drivers', () => {
  const names = LIFECYCLE_SCENARIOS.map((s) => s.name);

  it('are found by name', () => {
    for (const n of names) expect(scenarioByName(n)?.name).toBe(n);
  });

  it("dmirror and test_hmm run clean under 'seq' over every schedule with <= 2 preemptions", () => {
    const counts: Record<string, number> = {};
    for (const driver of ['correct', 'test_hmm']) {
      for (const n of names) {
        if (n === 'migrate-vs-migrate' && driver === 'correct') continue;
        // test_hmm's residual close race: its own test below
        if (n === 'close-vs-cpuread' && driver === 'test_hmm') continue;
        const r = explore(n, { driver, protocol: 'seq' });
        expect(r.violation, `${n} on ${driver}`).toBeNull();
        expect(r.complete).toBe(true);
        counts[`${n}/${driver}`] = r.schedulesExplored;
      }
    }
    // the holes-* scenarios fault untouched pages: a run of first touches is one scheduling point
    // (hmm_range_fault's doAnonymousPages), not one per page, so fewer schedules exist
    expect(counts).toEqual({
      'holes-devwrite-vs-cpuread/correct': 71,
      'holes-fault-vs-munmap/correct': 38,
      'fault-vs-invalidations/correct': 115,
      'close-vs-cpuread/correct': 47,
      'exit-vs-migrate/correct': 11,
      'kvm-fault-vs-munmap/correct': 30,
      'holes-devwrite-vs-cpuread/test_hmm': 62,
      'holes-fault-vs-munmap/test_hmm': 32,
      'fault-vs-invalidations/test_hmm': 86,
      'exit-vs-migrate/test_hmm': 9,
      'migrate-vs-migrate/test_hmm': 42,
      'kvm-fault-vs-munmap/test_hmm': 27,
    });
  });

  it('migrate-vs-migrate finds the seed design’s window: a migration’s invalidation starts before its walk', () => {
    // v5.3 migrate_vma_collect calls invalidate_range_start, then walks: a second device that
    // migrates and maps the pages in between is never told of the first one's collection.
    const r = explore('migrate-vs-migrate', { protocol: 'seq' });
    const v = r.violation!;
    expect(v.checker).toBe('coherence');
    expect(v.preemptions).toBe(1);
    expect(v.message).toMatch(
      /^dev1 maps 0x[0-9a-f]+ \(mm 1\) to pfn \d+ writable, but the CPU has a migration entry there/,
    );
  });
});

describe("the teardown's leak check covers a user driver's own device memory", () => {
  it('reports pages its devicePagesInUse() still counts after every device closed', () => {
    const leaky = Object.assign(
      (sim: Parameters<typeof correctDmirror>[0], n: number, p: Parameters<typeof correctDmirror>[2]) => ({
        ...correctDmirror(sim, n, p),
        devicePagesInUse: () => 3,
      }),
      { kernel: 'v5.3' as const },
    );
    Object.defineProperty(leaky, 'name', { value: 'leaky' });
    const r = explore('fault-vs-munmap', { driver: leaky, protocol: 'seq', schedules: 1 });
    expect(r.violation?.checker).toBe('accounting');
    expect(r.violation?.message).toBe(
      "dev0: 3 page(s) of the driver's own device memory still in use after teardown",
    );
  });
});
