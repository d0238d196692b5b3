/**
 * Four threads on a device-private THP: its migration, a fork whose child reads it, a munmap of its
 * upper half and a CPU write, on today's test_hmm. Not a built-in: its search stops at a gap of the
 * model (docs/fidelity.md, "split_folio of a THP another mm maps with a PMD"), and this test pins
 * where, and that the livelock before it is gone.
 */
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/core/addr.js';
import { explore } from '../../src/explore/index.js';
import type { Scenario } from '../../src/explore/scenario.js';
import { scenarioByName } from '../../src/explore/scenarios.js';

const THP_SIZE = 512 * PAGE_SIZE;

describe('a fork, a munmap of half a THP and a write, racing its migration (four threads)', () => {
  it('remove_migration_ptes restores the PTE migration entries of a PMD split since the collect', () => {
    const fork = scenarioByName('thp-fork-vs-migrate') as Scenario<{ p: never; a: number }>;
    const fourWay: Scenario<{ p: never; a: number }> = {
      ...fork,
      name: 'thp-fork-munmap-migrate',
      threads: (s, ctx) => [
        ...fork.threads(s, ctx),
        { name: 'munmap-half', body: ctx.cpu(s.p).munmap(s.a + THP_SIZE / 2, THP_SIZE / 2) },
      ],
    };
    const r = explore(fourWay, { driver: 'test_hmm', strategy: 'dpor', preemptions: 1, protocol: 'seq' });
    // Schedule 11: the child's fault has collected the device THP (the parent's PMD a migration
    // entry too) when the parent's munmap splits that PMD; the migration then restored PMDs only,
    // and the parent's write waited on a migration entry forever ("still faulting after 64 faults").
    // Now the search gets to schedule 14, where the parent's write faults the device THP back while
    // the child still maps it with a PMD: the model's split_huge_page asks its caller to have split
    // every PMD mapping first, where the kernel's unmap_folio splits them (TTU_SPLIT_HUGE_PMD).
    expect([r.schedulesExplored, r.violation?.checker, r.violation?.message]).toEqual([
      14,
      'kernel',
      'cpu: split_huge_page: pfn 2560 still PMD-mapped',
    ]);
  });
});
