/**
 * The invalidation protocol (§2.2, §6 #3, #4): range->valid, the mm-wide in-flight count, the
 * overlap rule, mirror callbacks (every mirror, newest first, only at start), the non-blockable
 * -EAGAIN path through the OOM reaper, hmm_range_wait_until_valid in virtual time, and -EBUSY when
 * an invalidation starts during a walk.
 */

import { describe, expect, it } from 'vitest';
import {
  HMM_UPDATE_INVALIDATE,
  hmmMirrorUnregister,
  hmmRangeFault,
  hmmRangeRegister,
  hmmRangeValid,
  hmmRangeWaitUntilValid,
  mmHmm,
} from '../../src/hmm/seed/index.js';
import { EAGAIN, EBUSY, KernelWarning, MADV_DONTNEED } from '../../src/index.js';
import {
  MMU_NOTIFY_CLEAR,
  type MmStruct,
  mmuNotifierInvalidateRangeEnd,
  mmuNotifierInvalidateRangeStart,
  notifierRange,
  oomReapTaskMm,
} from '../../src/mm/index.js';
import { Completion, current, type Strategy, type Task } from '../../src/sched/index.js';
import {
  BASE,
  E,
  mapAt,
  mirrorAndRange,
  NONE,
  newRange,
  out,
  PAGE,
  recorder,
  recordingMirror,
  registerMirror,
  registerRange,
  snapshot,
  touch,
  V,
  W,
  world,
} from './helpers.js';

/** invalidate_range_start over [start, end), then `between`, then invalidate_range_end. */
function* invalidate(mm: MmStruct, start: number, end: number, between: () => void = () => {}): Task<number> {
  const r = notifierRange(mm, start, end, MMU_NOTIFY_CLEAR);
  const rc = yield* mmuNotifierInvalidateRangeStart(r);
  between();
  if (rc === 0) yield* mmuNotifierInvalidateRangeEnd(r);
  return rc;
}

describe('§2.2 the overlap rule', () => {
  const S = BASE + 4 * PAGE;
  const End = BASE + 8 * PAGE;
  it.each([
    ['ends exactly at range.start (v5.3 counts it)', false, S - 2 * PAGE, S],
    ['ends one page before range.start', true, S - 2 * PAGE, S - PAGE],
    ['lies inside', false, S + PAGE, S + 2 * PAGE],
    ['covers the last page', false, End - PAGE, End + PAGE],
    ['starts exactly at range.end', true, End, End + PAGE],
  ])('an update that %s: valid during it = %s', (_what, validDuring, us, ue) => {
    const w = world();
    mapAt(w, BASE, 12);
    const { range } = mirrorAndRange(w, S, 4);
    let seen: boolean | null = null;
    w.sim.run(
      'inv',
      invalidate(w.mm, us, ue, () => {
        seen = range.valid;
      }),
    );
    expect(seen).toBe(validDuring);
    expect(range.valid).toBe(true);
  });
});

describe('§2.2 the in-flight count', () => {
  it('every range becomes valid again only when the last invalidation ends, overlapping or not', () => {
    const w = world();
    mapAt(w, BASE, 32);
    const { mirror, range: a } = mirrorAndRange(w, BASE, 4);
    const b = newRange(4);
    expect(registerRange(w, b, mirror, BASE + 16 * PAGE, BASE + 20 * PAGE)).toBe(0);
    const seen: string[] = [];
    const c = newRange(4);
    const show = (name: string) =>
      `${name}: a=${a.valid} b=${b.valid} c=${c.valid} n=${mmHmm(w.mm)!.notifiers}`;
    w.sim.run(
      'nested',
      (function* () {
        const r1 = notifierRange(w.mm, BASE, BASE + PAGE, MMU_NOTIFY_CLEAR);
        const r2 = notifierRange(w.mm, BASE + 24 * PAGE, BASE + 25 * PAGE, MMU_NOTIFY_CLEAR);
        yield* mmuNotifierInvalidateRangeStart(r1);
        seen.push(show('start a-area'));
        yield* mmuNotifierInvalidateRangeStart(r2);
        // a range registered while invalidations are in flight starts invalid, wherever it is
        expect(hmmRangeRegister(c, mirror, BASE + 28 * PAGE, BASE + 32 * PAGE, 12)).toBe(0);
        seen.push(show('start elsewhere + register c'));
        yield* mmuNotifierInvalidateRangeEnd(r1);
        seen.push(show('end 1'));
        yield* mmuNotifierInvalidateRangeEnd(r2);
        seen.push(show('end 2'));
      })(),
    );
    expect(seen).toEqual([
      'start a-area: a=false b=true c=false n=1',
      'start elsewhere + register c: a=false b=true c=false n=2',
      'end 1: a=false b=true c=false n=1',
      'end 2: a=true b=true c=true n=0',
    ]);
  });

  it('the pfns are not cleared by an invalidation', () => {
    const w = world();
    mapAt(w, BASE, 4);
    touch(w, BASE, [0, 1, 2, 3]);
    const { range } = mirrorAndRange(w, BASE, 4);
    expect(snapshot(w, range)).toBe(4);
    const before = out(range);
    w.sim.run('inv', invalidate(w.mm, BASE, BASE + 4 * PAGE));
    expect(out(range)).toEqual(before);
  });

  it('§6 #3: an invalidation that starts and ends after the walk goes unseen (stale pfns, valid)', () => {
    const w = world();
    mapAt(w, BASE, 2);
    touch(w, BASE, [0, 1]);
    const { range } = mirrorAndRange(w, BASE, 2);
    expect(snapshot(w, range)).toBe(2);
    const pfn = range.pfns[0]!;
    w.p.madvise(BASE, PAGE, MADV_DONTNEED);
    expect(w.p.pte(BASE).kind).toBe('none');
    // the driver's locked check passes, and pfns[0] still names the page that was unmapped
    expect(hmmRangeValid(range)).toBe(true);
    expect(range.pfns[0]).toBe(pfn);
  });
});

describe('§2.2 mirror callbacks', () => {
  it('every mirror, newest first, once per invalidation (at start only), whatever range it mirrors', () => {
    const w = world();
    mapAt(w, BASE, 8);
    touch(w, BASE, [0, 1, 2, 3]);
    const rec = recorder();
    for (const name of ['m1', 'm2', 'm3']) expect(registerMirror(w, recordingMirror(name, rec))).toBe(0);
    w.p.madvise(BASE + PAGE, 2 * PAGE, MADV_DONTNEED);
    expect(rec.log).toEqual(['m3:sync', 'm2:sync', 'm1:sync']);
    expect(rec.updates[0]).toEqual({
      start: BASE + PAGE,
      end: BASE + 3 * PAGE,
      event: HMM_UPDATE_INVALIDATE,
      blockable: true,
    });
  });

  it('a nonzero return from a blockable invalidation is a WARN (after every mirror was called)', () => {
    const w = world();
    mapAt(w, BASE, 4);
    const rec = recorder();
    registerMirror(w, recordingMirror('old', rec));
    registerMirror(
      w,
      recordingMirror('new', rec, () => -EAGAIN),
    );
    expect(() => w.sim.run('inv', invalidate(w.mm, BASE, BASE + PAGE))).toThrow(KernelWarning);
    expect(rec.log).toEqual(['new:sync', 'old:sync']);
  });

  it('an invalidation waits for mirrors_sem when a mirror is being unregistered, and the reverse', () => {
    const w = world();
    mapAt(w, BASE, 4);
    const gate = new Completion('gate');
    const trace: string[] = [];
    const rec = recorder();
    const slow = recordingMirror('slow', rec, () =>
      (function* () {
        trace.push('slow: sync starts');
        yield* gate.waitForCompletion();
        trace.push('slow: sync done');
        return 0;
      })(),
    );
    const other = recordingMirror('other', rec);
    registerMirror(w, other);
    registerMirror(w, slow);
    const ex = w.sim.executor();
    ex.spawn('cpu', invalidate(w.mm, BASE, BASE + PAGE));
    ex.spawn(
      'driver',
      (function* () {
        yield 'driver';
        trace.push('driver: unregister other');
        yield* hmmMirrorUnregister(other);
        trace.push('driver: unregistered');
      })(),
    );
    ex.spawn(
      'later',
      (function* () {
        yield 'later';
        trace.push('later: complete');
        gate.complete();
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(trace).toEqual([
      'slow: sync starts',
      'driver: unregister other',
      'later: complete',
      'slow: sync done',
      'driver: unregistered',
    ]);
    // other was still registered while the invalidation ran, so it was called
    expect(rec.log).toEqual(['slow:sync', 'other:sync']);
  });
});

describe('§2.2 non-blockable invalidations (the OOM reaper)', () => {
  function reaperWorld(newRc: number, oldRc: number) {
    const w = world();
    mapAt(w, BASE, 4);
    touch(w, BASE, [0, 1, 2, 3]);
    const rec = recorder();
    const old = recordingMirror('old', rec, (_m, u) => (u.blockable ? 0 : oldRc));
    registerMirror(w, old);
    // registers mirror 'm' (between 'old' and 'new'), which logs to its own recorder
    const { range, rec: mRec } = mirrorAndRange(w, BASE, 4);
    registerMirror(
      w,
      recordingMirror('new', rec, (_m, u) => (u.blockable ? 0 : newRc)),
    );
    return { w, rec, mRec, range };
  }

  it('-EAGAIN from the newest mirror stops the loop; the count is undone; the reaper skips the VMA', () => {
    const { w, rec, mRec, range } = reaperWorld(-EAGAIN, 0);
    // the range's mm_users reference does not stop the reaper: it works on a live mm
    expect(w.sim.run('oom_reaper', oomReapTaskMm(w.mm))).toBe(false);
    expect(rec.log).toEqual(['new:sync']);
    expect(mRec.log).toEqual([]);
    expect(rec.updates[0]!.blockable).toBe(false);
    expect(mmHmm(w.mm)!.notifiers).toBe(0);
    expect(range.valid).toBe(true);
    expect(w.p.pte(BASE).kind).toBe('present');
  });

  it('-EAGAIN from an older mirror: the newer ones were called, the result is still -EAGAIN', () => {
    const { w, rec, mRec } = reaperWorld(0, -EAGAIN);
    expect(w.sim.run('oom_reaper', oomReapTaskMm(w.mm))).toBe(false);
    expect(rec.log).toEqual(['new:sync', 'old:sync']);
    expect(mRec.log).toEqual(['m:sync']);
    expect(mmHmm(w.mm)!.notifiers).toBe(0);
  });

  it('all mirrors succeed: the reaper zaps and the range is valid again', () => {
    const { w, rec, mRec, range } = reaperWorld(0, 0);
    expect(w.sim.run('oom_reaper', oomReapTaskMm(w.mm))).toBe(true);
    expect(rec.log).toEqual(['new:sync', 'old:sync']);
    expect(mRec.log).toEqual(['m:sync']);
    expect(w.p.pte(BASE).kind).toBe('none');
    expect(range.valid).toBe(true);
  });

  it('mirrors_sem contended: only trylocked, -EAGAIN with no callback and the count undone', () => {
    const w = world();
    mapAt(w, BASE, 4);
    touch(w, BASE, [0]);
    const { rec, range } = mirrorAndRange(w, BASE, 4);
    const hmm = mmHmm(w.mm)!;
    const gate = new Completion('gate');
    const results: boolean[] = [];
    const ex = w.sim.executor();
    ex.spawn(
      'holder',
      (function* () {
        yield* hmm.mirrorsSem.downWrite();
        yield* gate.waitForCompletion();
        hmm.mirrorsSem.upWrite();
      })(),
    );
    ex.spawn(
      'oom_reaper',
      (function* () {
        results.push(yield* oomReapTaskMm(w.mm));
        results.push(range.valid);
        gate.complete();
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(results).toEqual([false, true]);
    expect(rec.log).toEqual([]);
    expect(hmm.notifiers).toBe(0);
  });

  it('a mirror that sleeps when not blockable is reported', () => {
    const w = world();
    mapAt(w, BASE, 2);
    touch(w, BASE, [0]);
    const rec = recorder();
    registerMirror(
      w,
      recordingMirror('sleepy', rec, () =>
        (function* () {
          yield 'mutex_lock driver->update';
          return 0;
        })(),
      ),
    );
    expect(() => w.sim.run('oom_reaper', oomReapTaskMm(w.mm))).toThrow(
      /sleeping function called from invalid context/,
    );
  });
});

describe('hmm_range_wait_until_valid (virtual time)', () => {
  it('times out after the timeout of virtual time, then succeeds once the invalidation ends', () => {
    const w = world();
    mapAt(w, BASE, 4);
    const gate = new Completion('gate');
    const rec = recorder();
    const mirror = recordingMirror('m', rec, () =>
      current().name === 'cpu'
        ? (function* () {
            yield* gate.waitForCompletion();
            return 0;
          })()
        : 0,
    );
    registerMirror(w, mirror);
    const range = newRange(4);
    const trace: string[] = [];
    const ex = w.sim.executor();
    ex.spawn('cpu', invalidate(w.mm, BASE, BASE + PAGE));
    ex.spawn(
      'driver',
      (function* () {
        expect(hmmRangeRegister(range, mirror, BASE, BASE + 4 * PAGE, 12)).toBe(0);
        trace.push(`registered valid=${range.valid}`);
        const ok = yield* hmmRangeWaitUntilValid(range, 5);
        trace.push(`wait 5ms: ${ok} at ${current().executor.nowNs / 1e6} ms`);
        gate.complete();
        const ok2 = yield* hmmRangeWaitUntilValid(range, 1000);
        trace.push(`wait 1000ms: ${ok2} at ${current().executor.nowNs / 1e6} ms`);
        const ok3 = yield* hmmRangeWaitUntilValid(range, 0);
        trace.push(`already valid: ${ok3}`);
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(trace).toEqual([
      'registered valid=false',
      'wait 5ms: false at 5 ms',
      'wait 1000ms: true at 5 ms',
      'already valid: true',
    ]);
  });
});

describe('-EBUSY: an invalidation that starts while hmm_range_fault is faulting', () => {
  it('the fault loop ends with -EBUSY, entries from the cursor on become NONE; the retry succeeds', () => {
    const w = world();
    mapAt(w, BASE, 8);
    const gate = new Completion('gate');
    const rec = recorder();
    const mirror = recordingMirror('m', rec, () =>
      current().name === 'cpu'
        ? (function* () {
            yield* gate.waitForCompletion();
            return 0;
          })()
        : 0,
    );
    registerMirror(w, mirror);
    const range = newRange(8, { defaultFlags: V | W });
    expect(registerRange(w, range, mirror, BASE, BASE + 8 * PAGE)).toBe(0);
    range.pfns.fill(0x55 * 64);

    // The driver runs until its first handle_mm_fault; then the CPU thread starts an invalidation
    // of the range's last pages and blocks in the mirror callback; then the driver goes on.
    let switched = false;
    const strategy: Strategy = {
      pick(runnable) {
        const d = runnable.findIndex((t) => t.name === 'driver');
        const c = runnable.findIndex((t) => t.name === 'cpu');
        if (!switched && d >= 0 && runnable[d]!.lastPoint.startsWith('hmm_vma_do_fault')) switched = true;
        if (switched && c >= 0) return c;
        return Math.max(d, 0);
      },
    };
    const trace: string[] = [];
    const mm = w.mm;
    const ex = w.sim.executor(strategy);
    ex.spawn(
      'driver',
      (function* () {
        yield* mm.mmapSem.downRead();
        const r1 = yield* hmmRangeFault(range, true);
        trace.push(`first: ${r1} valid=${range.valid} ${JSON.stringify(out(range))}`);
        gate.complete();
        mm.mmapSem.upRead();
        trace.push(`wait: ${yield* hmmRangeWaitUntilValid(range, 1000)}`);
        yield* mm.mmapSem.downRead();
        const r2 = yield* hmmRangeFault(range, true);
        mm.mmapSem.upRead();
        trace.push(`second: ${r2}`);
      })(),
    );
    ex.spawn('cpu', w.p.task.madvise(BASE + 6 * PAGE, 2 * PAGE, MADV_DONTNEED));
    const res = ex.run();
    expect(res.status).toBe('done');
    expect(trace).toEqual([
      `first: ${-EBUSY} valid=false ${JSON.stringify(new Array(8).fill(NONE))}`,
      'wait: true',
      'second: 8',
    ]);
    for (let i = 0; i < 8; i++) expect(range.pfns[i]).toBe(E(w.p.pte(BASE + i * PAGE).pfn, W));
  });
});
