/**
 * Lock assertions where the kernel has them: find_vma (mmap_assert_locked) and the seed HMM walker
 * (walk_page_range's lockdep_assert_held) report a caller without mmap_lock at the call, as a
 * LockdepBug; the explorer classes it as a 'rules' violation.
 */

import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/core/addr.js';
import { explore, LockdepBug, type Scenario, Simulator } from '../../src/index.js';
import { findVmaUnlockedDriver } from './fixtures.js';

describe('mmap_assert_locked in find_vma', () => {
  it('fires on an unlocked find_vma inside a thread, naming the thread and the lock', () => {
    const sim = new Simulator({ seed: 1 });
    const p = sim.createProcess();
    const a = p.mmap(2 * PAGE_SIZE, 0x3, 0x22);
    const mm = p.mm;
    let caught: unknown = null;
    try {
      sim.run(
        'lookup',
        (function* () {
          yield 'before';
          mm.findVma(a);
        })(),
      );
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(LockdepBug);
    expect((caught as Error).message).toMatch(
      /^WARNING: lockdep_assert_held failed: lookup does not hold rwsem mmap_sem at /,
    );
  });

  it('passes under mmap_sem for read, and outside any thread (checkers and tests inspect freely)', () => {
    const sim = new Simulator({ seed: 1 });
    const p = sim.createProcess();
    const a = p.mmap(2 * PAGE_SIZE, 0x3, 0x22);
    const mm = p.mm;
    const vma = sim.run(
      'lookup',
      (function* () {
        yield* mm.mmapSem.downRead();
        try {
          return mm.findVma(a);
        } finally {
          mm.mmapSem.upRead();
        }
      })(),
    );
    expect(vma?.start).toBe(a);
    expect(mm.findVma(a)?.start).toBe(a);
  });

  it('the explorer reports a driver that looks a VMA up without the lock, at the call', () => {
    const sc: Scenario<{ run: () => Generator<string, void> }> = {
      name: 'unlocked-lookup',
      description: 'a driver thread looks up a VMA without mmap_lock',
      setup: (_sim, ctx) => {
        const p = ctx.createProcess();
        const a = ctx.anonymous(p, 1);
        return { run: () => findVmaUnlockedDriver(p.mm, a) };
      },
      threads: (s) => [{ name: 'dev0-migrate', body: s.run() }],
    };
    const r = explore(sc, { schedules: 1 });
    expect(r.violation?.checker).toBe('rules');
    expect(r.violation?.message).toMatch(
      /^dev0-migrate: WARNING: lockdep_assert_held failed: dev0-migrate does not hold rwsem mmap_sem/,
    );
  });
});
