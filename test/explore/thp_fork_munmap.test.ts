/**
 * thp-fork-munmap-migrate: four threads on a device-private THP (its migration, a fork whose child
 * reads it, the parent's munmap of its upper half, a write). Its search found three bugs of the
 * model, each also pinned by a direct test in test/mm/huge_device_migrate.test.ts; this test runs
 * the schedules that met them.
 */
import { describe, expect, it } from 'vitest';
import { explore } from '../../src/explore/index.js';

describe('thp-fork-munmap-migrate on test_hmm (four threads)', () => {
  it('its first 320 dpor schedules at 1 preemption are clean: the three model bugs met there are fixed', () => {
    // Schedule 11: the child's fault has collected the device THP (the parent's PMD a migration
    // entry too) when the parent's munmap splits that PMD; the migration restored PMD entries
    // only, and the parent's write waited on a migration entry for ever. Schedule 14: the parent's
    // write faults a PTE of the device THP while the child maps it by its PMD, and split_huge_page
    // refused ("still PMD-mapped"). Schedule 301: the child's fault migrates the device THP while
    // the parent maps it by PTEs, which try_to_migrate left, so the migration never happened.
    const r = explore('thp-fork-munmap-migrate', {
      driver: 'test_hmm',
      strategy: 'dpor',
      preemptions: 1,
      protocol: 'seq',
      schedules: 320,
    });
    expect([r.schedulesExplored, r.violation]).toEqual([320, null]);
  });
});
