import { describe, expect, it } from 'vitest';
import { TASK_SIZE } from '../../src/core/addr.js';
import { KernelBug, KernelWarning } from '../../src/core/assert.js';
import { ArgumentError, EAGAIN, EOVERFLOW } from '../../src/core/errno.js';
import { MADV_DONTNEED } from '../../src/mm/madvise.js';
import type { MmStruct } from '../../src/mm/mm.js';
import * as itn from '../../src/mm/mmu_interval_notifier.js';
import {
  MmuIntervalNotifier,
  type MmuIntervalNotifierOps,
  type MmuNotifierSubscriptions,
  mmItreeSubscriptions,
  mmuIntervalNotifierInsert,
  mmuIntervalSetSeq,
  ULONG_MAX,
} from '../../src/mm/mmu_interval_notifier.js';
import {
  MMU_NOTIFY_EVENT_NAMES,
  MMU_NOTIFY_EXCLUSIVE,
  MMU_NOTIFY_MIGRATE,
  MMU_NOTIFY_RELEASE,
  type MmuNotifierRange,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  mmuNotifierRangeInitOwner,
  mmuNotifierUnregister,
  notifierRange,
} from '../../src/mm/mmu_notifier.js';
import { oomReapTaskMm } from '../../src/mm/oom_kill.js';
import { DfsStrategy, RunToCompletion, schedule, type Task, WaitQueue } from '../../src/sched/index.js';
import type { Process } from '../../src/sim/process.js';
import { Simulator } from '../../src/sim/simulator.js';
import { ANON, type Event, fill, PG, RO, RW, record, setup, thrown } from './helpers.js';

interface Call {
  who: string;
  event: string;
  start: number;
  end: number;
  blockable: boolean;
  owner: unknown;
  seq: number;
}

/** An interval driver that records each call; by default it stores cur_seq and returns true. */
function recorder(
  calls: Call[],
  who = 'sub',
  opts: { setSeq?: boolean; ret?: boolean; sleep?: () => Task } = {},
): MmuIntervalNotifierOps {
  return {
    invalidate(sub, r: MmuNotifierRange, curSeq) {
      calls.push({
        who,
        event: MMU_NOTIFY_EVENT_NAMES[r.event] as string,
        start: r.start,
        end: r.end,
        blockable: r.blockable,
        owner: r.owner ?? null,
        seq: curSeq,
      });
      if (opts.setSeq !== false) mmuIntervalSetSeq(sub, curSeq);
      const sleep = opts.sleep;
      if (sleep === undefined) return opts.ret ?? true;
      return (function* () {
        yield* sleep();
        return true;
      })();
    },
  };
}

function insert(
  p: Process,
  sub: MmuIntervalNotifier,
  start: number,
  length: number,
  ops: MmuIntervalNotifierOps,
): number {
  return p.sim.run('insert', mmuIntervalNotifierInsert(sub, p.mm, start, length, ops));
}

function subsOf(mm: MmStruct): MmuNotifierSubscriptions {
  const s = mmItreeSubscriptions(mm);
  expect(s).not.toBeNull();
  return s as MmuNotifierSubscriptions;
}

/** A process with n anonymous pages mapped read-write at a, all written. */
function mapped(n: number): { sim: Simulator; p: Process; a: number } {
  const { sim, p } = setup();
  const a = p.mmap(n * PG, RW, ANON);
  p.write(a, fill(n * PG, 1));
  return { sim, p, a };
}

/** A thread body that runs fn in one step: it never sleeps. */
// biome-ignore lint/correctness/useYield: one atomic step, by design
function* step<T>(fn: () => T): Task<T> {
  return fn();
}

/** A gate a sleeping callback waits on, so a test decides when the invalidation may finish. */
function gate(): { wq: WaitQueue; open: () => void; wait: () => Task } {
  const wq = new WaitQueue('test gate');
  let opened = false;
  return {
    wq,
    open() {
      opened = true;
      wq.wakeUpAll();
    },
    *wait() {
      yield* wq.waitEvent(() => opened);
    },
  };
}

describe('mm/mmu_interval_notifier: sequence counts', () => {
  it('a fresh subscription: the mm count is 2, the sub holds 1 (odd, not current); read_begin returns 1 at once', () => {
    const { p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    const sub = new MmuIntervalNotifier();
    const count = p.mm.count;
    expect(insert(p, sub, a, 4 * PG, recorder([]))).toBe(0);
    const subs = subsOf(p.mm);
    expect([subs.invalidateSeq, subs.activeInvalidateRanges, sub.invalidateSeq]).toEqual([2, 0, 1]);
    expect([sub.start, sub.last]).toEqual([a, a + 4 * PG - 1]);
    expect(p.mm.count).toBe(count + 1);
    const seq = p.sim.run('begin', itn.mmuIntervalReadBegin(sub));
    expect(seq).toBe(1);
    expect(itn.mmuIntervalReadRetry(sub, seq)).toBe(false);
    expect(itn.mmuIntervalCheckRetry(sub, seq)).toBe(false);
  });

  it('an overlapping munmap: invalidate gets the odd count 3 while the mm is invalidating, the end makes it 4', () => {
    const { p, a } = mapped(4);
    const sub = new MmuIntervalNotifier();
    const seen: number[] = [];
    const ops: MmuIntervalNotifierOps = {
      invalidate(s, _r, cur) {
        const subs = subsOf(p.mm);
        seen.push(cur, subs.invalidateSeq, subs.activeInvalidateRanges);
        mmuIntervalSetSeq(s, cur);
        return true;
      },
    };
    insert(p, sub, a, 4 * PG, ops);
    const seq = p.sim.run('begin', itn.mmuIntervalReadBegin(sub));
    p.munmap(a + PG, PG);
    expect(seen).toEqual([3, 3, 1]);
    const subs = subsOf(p.mm);
    expect([subs.invalidateSeq, subs.activeInvalidateRanges, sub.invalidateSeq]).toEqual([4, 0, 3]);
    expect(itn.mmuIntervalReadRetry(sub, seq)).toBe(true);
    expect(itn.mmuIntervalCheckRetry(sub, seq)).toBe(true);
    // the next read starts from the count the invalidation stored, and does not sleep: 3 != 4
    const again = p.sim.run('begin', itn.mmuIntervalReadBegin(sub));
    expect(again).toBe(3);
    expect(itn.mmuIntervalReadRetry(sub, again)).toBe(false);
  });

  it('an invalidate that does not call set_seq leaves read_retry false: the driver’s store is the whole protocol', () => {
    const { p, a } = mapped(2);
    const sub = new MmuIntervalNotifier();
    const calls: Call[] = [];
    insert(p, sub, a, 2 * PG, recorder(calls, 'sub', { setSeq: false }));
    const seq = p.sim.run('begin', itn.mmuIntervalReadBegin(sub));
    p.munmap(a, PG);
    expect(calls.length).toBe(1);
    expect(itn.mmuIntervalReadRetry(sub, seq)).toBe(false);
    expect(subsOf(p.mm).invalidateSeq).toBe(4);
  });

  it('a non-overlapping invalidation calls nothing and leaves the count even (no bump), but is counted in flight', () => {
    const { p, a } = mapped(4);
    const sub = new MmuIntervalNotifier();
    const calls: Call[] = [];
    insert(p, sub, a, 2 * PG, recorder(calls));
    const seq = p.sim.run('begin', itn.mmuIntervalReadBegin(sub));
    const { log } = record(p);
    let during: number[] = [];
    p.mm.notifiers[0]!.ops.invalidateRangeStart = () => {
      const subs = subsOf(p.mm);
      during = [subs.invalidateSeq, subs.activeInvalidateRanges];
      return 0;
    };
    p.munmap(a + 2 * PG, 2 * PG);
    expect(calls).toEqual([]);
    expect(during).toEqual([2, 1]);
    expect([subsOf(p.mm).invalidateSeq, subsOf(p.mm).activeInvalidateRanges]).toEqual([2, 0]);
    expect(itn.mmuIntervalReadRetry(sub, seq)).toBe(false);
    expect(log.map((e) => e.what)).toEqual(['end UNMAP']);
  });

  it('the interval [start, start+length) is half-open: a munmap starting at its end does not hit it', () => {
    const { p, a } = mapped(4);
    const calls: Call[] = [];
    insert(p, new MmuIntervalNotifier(), a, 2 * PG, recorder(calls));
    p.munmap(a + 2 * PG, PG);
    expect(calls).toEqual([]);
    p.munmap(a + PG, PG);
    expect(calls.map((c) => [c.start, c.end])).toEqual([[a + PG, a + 2 * PG]]);
  });

  it('overlapping subscriptions are called in tree order: by start, equal starts in insertion order', () => {
    const { p, a } = mapped(8);
    const calls: Call[] = [];
    insert(p, new MmuIntervalNotifier(), a + 4 * PG, 4 * PG, recorder(calls, 'high'));
    insert(p, new MmuIntervalNotifier(), a, 8 * PG, recorder(calls, 'low1'));
    insert(p, new MmuIntervalNotifier(), a, PG, recorder(calls, 'low2'));
    insert(p, new MmuIntervalNotifier(), a + 2 * PG, PG, recorder(calls, 'miss'));
    p.munmap(a, 8 * PG);
    expect(calls.map((c) => c.who)).toEqual(['low1', 'low2', 'miss', 'high']);
    expect(new Set(calls.map((c) => c.seq))).toEqual(new Set([3]));
  });
});

describe('mm/mmu_interval_notifier: sleeping readers, deferred insert and remove', () => {
  /** A munmap whose invalidate sleeps on a gate; returns the executor and the shared log. */
  function blockedMunmap() {
    const { sim, p, a } = mapped(4);
    const sub = new MmuIntervalNotifier();
    const g = gate();
    const calls: Call[] = [];
    insert(p, sub, a, 4 * PG, recorder(calls, 'sub', { sleep: g.wait }));
    const log: string[] = [];
    const ex = sim.executor(new RunToCompletion());
    ex.spawn(
      'munmap',
      (function* () {
        yield* p.task.munmap(a, PG);
        log.push(`munmap done, seq ${subsOf(p.mm).invalidateSeq}`);
      })(),
    );
    return { sim, p, a, sub, g, calls, log, ex };
  }

  it('read_begin sleeps while an overlapping invalidation runs and returns its count once it ended', () => {
    const { p, sub, g, log, ex } = blockedMunmap();
    ex.spawn(
      'reader',
      (function* () {
        log.push(`reader begins, sub ${sub.invalidateSeq}, mm ${subsOf(p.mm).invalidateSeq}`);
        const seq = yield* itn.mmuIntervalReadBegin(sub);
        log.push(`reader got ${seq}, retry ${itn.mmuIntervalReadRetry(sub, seq)}`);
      })(),
    );
    ex.spawn(
      'opener',
      step(() => {
        log.push(`opener: ${subsOf(p.mm).wq.waiting} asleep on the subscriptions`);
        g.open();
      }),
    );
    expect(ex.run().status).toBe('done');
    expect(log).toEqual([
      'reader begins, sub 3, mm 3',
      'opener: 1 asleep on the subscriptions',
      'munmap done, seq 4',
      'reader got 3, retry false',
    ]);
  });

  it('a reader that began before the invalidation does not sleep but must retry', () => {
    const { p, sub, g, log, ex } = blockedMunmap();
    const before = p.sim.run('begin', itn.mmuIntervalReadBegin(sub));
    ex.spawn(
      'reader',
      step(() => {
        log.push(`retry during: ${itn.mmuIntervalReadRetry(sub, before)}`);
        g.open();
      }),
    );
    expect(ex.run().status).toBe('done');
    expect(before).toBe(1);
    expect(log).toEqual(['retry during: true', 'munmap done, seq 4']);
  });

  it('remove during the invalidation is deferred: remove waits for the end, then the tree is empty', () => {
    const { p, sub, g, calls, log, ex } = blockedMunmap();
    const count = p.mm.count;
    ex.spawn(
      'remover',
      (function* () {
        yield* itn.mmuIntervalNotifierRemove(sub);
        const subs = subsOf(p.mm);
        log.push(`removed: tree ${subs.itree.size}, deferred ${subs.deferredList.length}`);
      })(),
    );
    ex.spawn(
      'opener',
      step(() => {
        const subs = subsOf(p.mm);
        log.push(
          `opener: tree ${subs.itree.size}, deferred ${subs.deferredList.length}, asleep ${subs.wq.waiting}`,
        );
        g.open();
      }),
    );
    expect(ex.run().status).toBe('done');
    expect(log).toEqual([
      'opener: tree 1, deferred 1, asleep 1',
      'munmap done, seq 4',
      'removed: tree 0, deferred 0',
    ]);
    expect(p.mm.count).toBe(count - 1);
    p.munmap(p.vmas()[0]!.start, PG);
    expect(calls.length).toBe(1);
  });

  it('insert during the invalidation is deferred: the new sub holds the odd count and enters the tree at the end', () => {
    const { p, a, g, log, ex } = blockedMunmap();
    const late = new MmuIntervalNotifier();
    const lateCalls: Call[] = [];
    ex.spawn(
      'inserter',
      (function* () {
        const r = yield* mmuIntervalNotifierInsert(late, p.mm, a, PG, recorder(lateCalls, 'late'));
        const subs = subsOf(p.mm);
        log.push(
          `insert ${r}: seq ${late.invalidateSeq}, tree ${subs.itree.size}, deferred ${subs.deferredList.length}`,
        );
        g.open();
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(log).toEqual(['insert 0: seq 3, tree 1, deferred 1', 'munmap done, seq 4']);
    expect(subsOf(p.mm).itree.size).toBe(2);
    expect(lateCalls).toEqual([]);
    expect(p.sim.run('begin', itn.mmuIntervalReadBegin(late))).toBe(3);
    p.munmap(a + PG, PG);
    expect(lateCalls.length).toBe(0);
    p.munmap(a + 2 * PG, PG);
    expect(subsOf(p.mm).invalidateSeq).toBe(8);
  });

  it('remove of a deferred insert while still invalidating forgets the insert and does not wait', () => {
    const { p, a, g, log, ex } = blockedMunmap();
    const late = new MmuIntervalNotifier();
    ex.spawn(
      'churn',
      (function* () {
        yield* mmuIntervalNotifierInsert(late, p.mm, a, PG, recorder([]));
        yield* itn.mmuIntervalNotifierRemove(late);
        const subs = subsOf(p.mm);
        log.push(`removed at once: seq ${subs.invalidateSeq}, deferred ${subs.deferredList.length}`);
        g.open();
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(log).toEqual(['removed at once: seq 3, deferred 0', 'munmap done, seq 4']);
    expect(subsOf(p.mm).itree.size).toBe(1);
  });

  it('insert while an invalidation that hit nothing is in flight goes straight in the tree and makes the count odd', () => {
    const { p, a } = mapped(4);
    insert(p, new MmuIntervalNotifier(), a + 3 * PG, PG, recorder([]));
    const late = new MmuIntervalNotifier();
    const { mn } = record(p);
    const seen: number[] = [];
    mn.ops.invalidateRangeStart = () =>
      (function* () {
        const subs = subsOf(p.mm);
        seen.push(subs.invalidateSeq);
        yield* mmuIntervalNotifierInsert(late, p.mm, a, PG, recorder([]));
        seen.push(subs.invalidateSeq, late.invalidateSeq, subs.itree.size, subs.deferredList.length);
        return 0;
      })();
    p.munmap(a + PG, PG);
    expect(seen).toEqual([2, 3, 3, 2, 0]);
    expect(subsOf(p.mm).invalidateSeq).toBe(4);
  });

  it('remove when idle takes the sub out at once and drops its mm reference; removing twice is a WARN', () => {
    const { p, a } = mapped(2);
    const sub = new MmuIntervalNotifier();
    const calls: Call[] = [];
    const count = p.mm.count;
    insert(p, sub, a, 2 * PG, recorder(calls));
    p.sim.run('remove', itn.mmuIntervalNotifierRemove(sub));
    expect(p.mm.count).toBe(count);
    expect(subsOf(p.mm).itree.size).toBe(0);
    p.munmap(a, 2 * PG);
    expect(calls).toEqual([]);
    thrown(KernelBug, () => p.sim.run('remove', itn.mmuIntervalNotifierRemove(sub)));
  });
});

describe('mm/mmu_interval_notifier: arguments and misuse', () => {
  it('length 0 is -EOVERFLOW; a non-integer or unsafe one is an ArgumentError naming it', () => {
    const { p } = setup();
    expect(insert(p, new MmuIntervalNotifier(), 0, 0, recorder([]))).toBe(-EOVERFLOW);
    expect(
      thrown(ArgumentError, () => insert(p, new MmuIntervalNotifier(), 0, 2 ** 53, recorder([]))).argument,
    ).toBe('length');
    expect(
      thrown(ArgumentError, () => insert(p, new MmuIntervalNotifier(), 1.5, PG, recorder([]))).argument,
    ).toBe('start');
    expect(
      thrown(ArgumentError, () => insert(p, new MmuIntervalNotifier(), 0, -1, recorder([]))).argument,
    ).toBe('length');
  });

  it('inserting one subscription twice is a bug; insert_locked without mmap_lock held for write is caught', () => {
    const { p } = setup();
    const sub = new MmuIntervalNotifier();
    insert(p, sub, 0x10000, PG, recorder([]));
    expect(thrown(KernelBug, () => insert(p, sub, 0x10000, PG, recorder([]))).message).toMatch(
      /already inserted/,
    );
    expect(() =>
      p.sim.run(
        'locked',
        step(() => {
          return itn.mmuIntervalNotifierInsertLocked(new MmuIntervalNotifier(), p.mm, 0, PG, recorder([]));
        }),
      ),
    ).toThrow(/mmap/);
  });

  it('insert_locked under mmap_lock for write works and creates the tree', () => {
    const { p } = setup();
    const r = p.sim.run(
      'locked',
      (function* () {
        yield* p.mm.mmapSem.downWrite();
        try {
          return itn.mmuIntervalNotifierInsertLocked(
            new MmuIntervalNotifier(),
            p.mm,
            0x20000,
            PG,
            recorder([]),
          );
        } finally {
          p.mm.mmapSem.upWrite();
        }
      })(),
    );
    expect(r).toBe(0);
    expect(subsOf(p.mm).itree.size).toBe(1);
  });

  it('an invalidate returning false for a blockable range is a WARN', () => {
    const { p, a } = mapped(1);
    insert(p, new MmuIntervalNotifier(), a, PG, recorder([], 'sub', { ret: false }));
    expect(thrown(KernelWarning, () => p.munmap(a, PG)).message).toMatch(/false for a blockable range/);
  });
});

describe('mm/mmu_interval_notifier: the event and owner each operation passes', () => {
  function oneSub(p: Process, a: number, len: number): Call[] {
    const calls: Call[] = [];
    insert(p, new MmuIntervalNotifier(), a, len, recorder(calls));
    return calls;
  }
  const short = (c: Call) => [c.event, c.start, c.end, c.blockable, c.owner];

  it('munmap UNMAP, mprotect PROTECTION_VMA, MADV_DONTNEED CLEAR, all blockable with no owner', () => {
    const { p, a } = mapped(4);
    const calls = oneSub(p, a, 4 * PG);
    p.mprotect(a, 4 * PG, RO);
    p.madvise(a, PG, MADV_DONTNEED);
    p.munmap(a + 3 * PG, PG);
    expect(calls.map(short)).toEqual([
      ['PROTECTION_VMA', a, calls[0]!.end, true, null],
      ['CLEAR', a, a + PG, true, null],
      ['UNMAP', a + 3 * PG, a + 4 * PG, true, null],
    ]);
    expect(calls[0]!.end).toBeGreaterThanOrEqual(a + 4 * PG);
  });

  it('fork write-protects the parent with PROTECTION_PAGE; the COW break that follows is a CLEAR of one page', () => {
    const { p, a } = mapped(2);
    const calls = oneSub(p, a, 2 * PG);
    const child = p.fork();
    expect(calls.map(short)).toEqual([['PROTECTION_PAGE', a, a + 2 * PG, true, null]]);
    p.write(a + PG, fill(1, 2));
    expect(calls.map(short).slice(1)).toEqual([['CLEAR', a + PG, a + 2 * PG, true, null]]);
    child.exit();
  });

  it('the seed migrate_vma passes CLEAR with no owner (v5.3 behaviour; today’s migrate_vma_setup passes MIGRATE)', () => {
    const sim = new Simulator({ ramPages: 256 });
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 1));
    const calls = oneSub(p, a, 2 * PG);
    sim.openDevice(0, p).migrate(a, 2);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.map((c) => [c.event, c.owner])).toEqual(calls.map(() => ['CLEAR', null]));
    expect(calls[0]!.start).toBe(a);
  });

  it('a MIGRATE or EXCLUSIVE range built with mmuNotifierRangeInitOwner reaches the sub with its owner', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    const calls = oneSub(p, a, PG);
    const owner = { device: 0 };
    for (const ev of [MMU_NOTIFY_MIGRATE, MMU_NOTIFY_EXCLUSIVE]) {
      const r = mmuNotifierRangeInitOwner(ev, p.mm, a, a + PG, owner);
      p.sim.run(
        'inv',
        (function* () {
          expect(yield* mmuNotifierInvalidateRangeStart(r)).toBe(0);
          yield* mmuNotifierInvalidateRangeEnd(r);
        })(),
      );
    }
    expect(calls.map((c) => [c.event, c.owner])).toEqual([
      ['MIGRATE', owner],
      ['EXCLUSIVE', owner],
    ]);
    expect(notifierRange(p.mm, 0, PG, MMU_NOTIFY_RELEASE).owner).toBeNull();
  });

  it('the OOM reaper is non-blockable: true goes on; false fails that VMA with -EAGAIN, ends the itree, skips the classic notifier', () => {
    const { sim, p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    const b = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 1));
    p.write(b, fill(2 * PG, 1));
    // keep the two VMAs apart: merged, the reaper would see one VMA and fail all of it
    p.mprotect(b, 2 * PG, RO);
    expect(p.vmas().length).toBe(2);
    const calls: Call[] = [];
    insert(p, new MmuIntervalNotifier(), a, 2 * PG, recorder(calls, 'busy', { ret: false }));
    insert(p, new MmuIntervalNotifier(), b, 2 * PG, recorder(calls, 'ok'));
    const { log } = record(p);
    expect(sim.run('oom_reaper', oomReapTaskMm(p.mm))).toBe(false);
    expect(calls.map((c) => [c.who, c.event, c.blockable])).toEqual([
      ['ok', 'CLEAR', false],
      ['busy', 'CLEAR', false],
    ]);
    // b (the lower VMA) was reaped with the classic notifier called; a failed before reaching it
    expect(b).toBeLessThan(a);
    expect(log.filter((e: Event) => !e.what.startsWith('end')).map((e) => [e.what, e.start])).toEqual([
      ['CLEAR', b],
    ]);
    const subs = subsOf(p.mm);
    expect([subs.invalidateSeq, subs.activeInvalidateRanges]).toEqual([6, 0]);
    expect(p.rss().anon).toBe(2);
  });
});

describe('mm/mmu_interval_notifier: sleeping where it must not', () => {
  it('an invalidate that sleeps for the OOM reaper’s non-blockable range is reported where it sleeps', () => {
    const { sim, p, a } = mapped(1);
    insert(p, new MmuIntervalNotifier(), a, PG, recorder([], 'sub', { sleep: () => schedule() }));
    expect(thrown(KernelBug, () => sim.run('oom_reaper', oomReapTaskMm(p.mm))).message).toMatch(
      /non_block: 1/,
    );
  });

  it('the same sleeping invalidate is fine for a blockable munmap', () => {
    const { p, a } = mapped(1);
    const calls: Call[] = [];
    insert(p, new MmuIntervalNotifier(), a, PG, recorder(calls, 'sub', { sleep: () => schedule() }));
    p.munmap(a, PG);
    expect(calls.map((c) => [c.event, c.blockable])).toEqual([['UNMAP', true]]);
  });
});

describe('mm/mmu_interval_notifier: beside classic notifiers, and at exit', () => {
  it('a classic notifier and an interval notifier on one mm are both invalidated, the interval one first', () => {
    const { p, a } = mapped(2);
    const order: string[] = [];
    insert(p, new MmuIntervalNotifier(), a, 2 * PG, {
      invalidate(s, r, cur) {
        order.push(`interval ${MMU_NOTIFY_EVENT_NAMES[r.event]}`);
        mmuIntervalSetSeq(s, cur);
        return true;
      },
    });
    const { log } = record(p);
    const orig = p.mm.notifiers[0]!.ops.invalidateRangeStart!;
    p.mm.notifiers[0]!.ops.invalidateRangeStart = (mn, r) => {
      order.push(`classic ${MMU_NOTIFY_EVENT_NAMES[r.event]}`);
      return orig(mn, r);
    };
    p.munmap(a, PG);
    expect(order).toEqual(['interval UNMAP', 'classic UNMAP']);
    expect(log.map((e) => e.what)).toEqual(['UNMAP', 'end UNMAP']);
  });

  it('a seed-API mirror (dmirror on hmm_mirror) and an interval notifier on one process: munmap invalidates both', () => {
    const sim = new Simulator({ ramPages: 256 });
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 1));
    const fd = sim.openDevice(0, p);
    fd.read(a, 2);
    expect(fd.dmirror.pt.size).toBe(2);
    const calls: Call[] = [];
    insert(p, new MmuIntervalNotifier(), a, 2 * PG, recorder(calls));
    expect(p.mm.notifiers.length).toBe(1);
    p.munmap(a, PG);
    expect(calls.map((c) => [c.event, c.start, c.end])).toEqual([['UNMAP', a, a + PG]]);
    expect(fd.dmirror.pt.mappings().map((m) => m.vpn * PG)).toEqual([a + PG]);
  });

  it('exit: the interval sub sees RELEASE over everything then exit_mmap’s UNMAP; the classic one gets release; remove then frees the mm', () => {
    const { sim, p, a } = mapped(2);
    const sub = new MmuIntervalNotifier();
    const calls: Call[] = [];
    insert(p, sub, a, 2 * PG, recorder(calls));
    const { log, mn } = record(p);
    const mm = p.mm;
    p.exit();
    expect(calls.map((c) => [c.event, c.start, c.end, c.blockable, c.seq])).toEqual([
      ['RELEASE', 0, ULONG_MAX, true, 3],
      ['UNMAP', 0, TASK_SIZE, true, 5],
    ]);
    expect(log.map((e) => e.what)).toEqual(['release']);
    expect(mm.dead).toBe(true);
    expect(subsOf(mm).itree.size).toBe(1);
    expect(sim.kernel.mms.has(mm)).toBe(true);
    // the driver still holds mm_count through the sub (and the classic notifier); removing both frees the mm
    sim.run('remove', itn.mmuIntervalNotifierRemove(sub));
    sim.run('unreg', mmuNotifierUnregister(mn, mm));
    expect(sim.kernel.mms.has(mm)).toBe(false);
  });

  it('exit of an mm with no VMA left: RELEASE only, no UNMAP (exit_mmap stops before unmap_vmas)', () => {
    const { sim, p, a } = mapped(1);
    const calls: Call[] = [];
    insert(p, new MmuIntervalNotifier(), a, PG, recorder(calls));
    p.munmap(a, PG);
    p.exit();
    expect(calls.map((c) => c.event)).toEqual(['UNMAP', 'RELEASE']);
    expect(sim.stats().counters.exit_mmap).toBe(1);
  });

  it('kernel quirk kept: a classic -EAGAIN under the OOM reaper leaves the itree invalidation counted in flight', () => {
    const { sim, p, a } = mapped(2);
    const sub = new MmuIntervalNotifier();
    insert(p, sub, a, 2 * PG, recorder([]));
    const { mn } = record(p);
    mn.ops.invalidateRangeStart = (_mn, r) => (r.blockable ? 0 : -EAGAIN);
    expect(sim.run('oom_reaper', oomReapTaskMm(p.mm))).toBe(false);
    // mn_itree_invalidate succeeded (count odd, one range in flight); the hlist failed, and the
    // caller must not call invalidate_range_end, so nothing ends it (mm/mmu_notifier.c as it is)
    const subs = subsOf(p.mm);
    expect([subs.invalidateSeq, subs.activeInvalidateRanges, sub.invalidateSeq]).toEqual([3, 1, 3]);
    p.munmap(a, PG);
    expect([subs.invalidateSeq, subs.activeInvalidateRanges]).toEqual([3, 1]);
  });
});

describe('mm/mmu_interval_notifier: under the explorer', () => {
  it('every interleaving of a reader and a munmap: read_retry is false only if no invalidation overlapped the read', () => {
    const dfs = new DfsStrategy(2);
    const outcomes = new Set<string>();
    while (dfs.nextExecution()) {
      const { sim, p, a } = mapped(2);
      const sub = new MmuIntervalNotifier();
      let started = 0;
      let ended = 0;
      insert(p, sub, a, 2 * PG, {
        invalidate(s, _r, cur) {
          return (function* () {
            started++;
            mmuIntervalSetSeq(s, cur);
            yield* schedule();
            return true;
          })();
        },
      });
      // a classic notifier's end runs in the same atomic step as mn_itree_inv_end: it marks the end
      const { mn } = record(p);
      mn.ops.invalidateRangeEnd = () => {
        ended++;
      };
      const ex = sim.executor(dfs);
      ex.spawn('munmap', p.task.munmap(a, PG));
      ex.spawn(
        'reader',
        (function* () {
          const seq = yield* itn.mmuIntervalReadBegin(sub);
          const [s0, e0] = [started, ended];
          yield* schedule();
          const retry = itn.mmuIntervalReadRetry(sub, seq);
          // no retry means: nothing was in progress when the read began and nothing started since
          if (!retry) expect([s0 === e0, started === s0]).toEqual([true, true]);
          outcomes.add(retry ? 'retry' : started === 0 ? 'clean before' : 'clean after');
        })(),
      );
      expect(ex.run().status).toBe('done');
      expect([started, ended]).toEqual([1, 1]);
    }
    expect(outcomes).toEqual(new Set(['retry', 'clean before', 'clean after']));
    expect(dfs.executions).toBeGreaterThan(2);
  });
});
