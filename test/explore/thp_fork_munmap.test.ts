/**
 * Four threads on a device-private THP: its migration, a fork whose child reads it, a munmap of its
 * upper half and a CPU write, on today's test_hmm. Not a built-in: its search meets a gap of the
 * model at schedule 301 (docs/fidelity.md, "try_to_migrate of a large folio mapped by PTEs
 * elsewhere"); this test pins the two bugs it found before that.
 */
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/core/addr.js';
import { explore } from '../../src/explore/index.js';
import type { Scenario } from '../../src/explore/scenario.js';
import { scenarioByName } from '../../src/explore/scenarios.js';

const THP_SIZE = 512 * PAGE_SIZE;

describe('a fork, a munmap of half a THP and a write, racing its migration (four threads)', () => {
  it('its first 20 schedules are clean: the two model bugs it found there are fixed', () => {
    const fork = scenarioByName('thp-fork-vs-migrate') as Scenario<{ p: never; a: number }>;
    const fourWay: Scenario<{ p: never; a: number }> = {
      ...fork,
      name: 'thp-fork-munmap-migrate',
      threads: (s, ctx) => [
        ...fork.threads(s, ctx),
        { name: 'munmap-half', body: ctx.cpu(s.p).munmap(s.a + THP_SIZE / 2, THP_SIZE / 2) },
      ],
    };
    const r = explore(fourWay, {
      driver: 'test_hmm',
      strategy: 'dpor',
      preemptions: 1,
      protocol: 'seq',
      schedules: 20,
    });
    // Schedule 11: the child's fault has collected the device THP (the parent's PMD a migration
    // entry too) when the parent's munmap splits that PMD; the migration restored PMD entries only,
    // and the parent's write waited on a migration entry for ever ("still faulting after 64
    // faults"). Schedule 14: the parent's write faults a PTE of the device THP while the child
    // still maps it by its PMD, and split_huge_page refused ("still PMD-mapped") where the kernel's
    // unmap_folio splits every PMD mapping. Both fixed; the search now runs to schedule 301
    // (docs/fidelity.md: try_to_migrate of a large folio another mm maps by PTEs).
    expect([r.schedulesExplored, r.violation]).toEqual([20, null]);
  });
});
