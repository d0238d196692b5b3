/**
 * hmm_range_fault (v6.19) beyond the CPU states: the encoding, the request flags, the sticky DMA
 * bits, the -EBUSY restart points, migration waits, mmap_lock, and bad arguments.
 */

import { describe, expect, it } from 'vitest';
import { hex } from '../../../src/core/addr.js';
import { KernelBug } from '../../../src/core/assert.js';
import { ArgumentError, EBUSY, EINVAL } from '../../../src/core/errno.js';
import {
  HMM_PFN_DMA_MAPPED as DMA,
  HMM_PFN_ERROR as ERR,
  HMM_PFN_FLAGS,
  HMM_PFN_INOUT_FLAGS,
  HMM_PFN_ORDER_SHIFT,
  hmmPfnFlags,
  hmmPfnTest,
  hmmPfnToMapOrder,
  hmmPfnToPage,
  hmmPfnToPfn,
  hmmRangeFault,
  HMM_PFN_P2PDMA as P2P,
  HMM_PFN_P2PDMA_BUS as P2P_BUS,
  HMM_PFN_REQ_FAULT as REQ,
  HMM_PFN_REQ_WRITE as REQ_W,
  HMM_PFN_VALID as V,
  HMM_PFN_WRITE as W,
} from '../../../src/hmm/modern/index.js';
import {
  MADV_DONTNEED,
  MmuIntervalNotifier,
  mmuIntervalReadRetry,
  PROT_READ,
  ZERO_PFN,
} from '../../../src/mm/index.js';
import { LockdepBug, type Strategy } from '../../../src/sched/index.js';
import {
  BASE,
  finishMigration,
  mapAt,
  PAGE,
  setDevicePrivate,
  startMigration,
  touch,
  withMmapRead,
} from '../helpers.js';
import { fault, modernWorld, newRange, out, ownedDevice, pfnAt, readBegin } from './helpers.js';

describe('the HMM_PFN_* encoding (kernel bits 63..53 moved down by 11)', () => {
  it('places each flag at its kernel bit minus 11, the order field at 42..46, the pfn below', () => {
    expect([V, W, ERR, DMA, P2P, P2P_BUS]).toEqual([2 ** 52, 2 ** 51, 2 ** 50, 2 ** 49, 2 ** 48, 2 ** 47]);
    expect([REQ, REQ_W, HMM_PFN_ORDER_SHIFT]).toEqual([V, W, 42]);
    expect(HMM_PFN_FLAGS).toBe(2 ** 53 - 2 ** 42);
    expect(HMM_PFN_INOUT_FLAGS).toBe(DMA + P2P + P2P_BUS);
    expect(Number.isSafeInteger(HMM_PFN_FLAGS + 2 ** 42 - 1)).toBe(true);
  });

  it('the helpers split an entry exactly, above bit 31 too', () => {
    const e = 2 ** 40 - 1 + V + W + DMA + 9 * 2 ** 42;
    expect(hmmPfnToPfn(e)).toBe(2 ** 40 - 1);
    expect(hmmPfnToPage(e)).toBe(2 ** 40 - 1);
    expect(hmmPfnToMapOrder(e)).toBe(9);
    expect(hmmPfnFlags(e)).toBe(V + W + DMA + 9 * 2 ** 42);
    expect([V, W, ERR, DMA, P2P, P2P_BUS].map((f) => hmmPfnTest(e, f))).toEqual([
      true,
      true,
      false,
      true,
      false,
      false,
    ]);
    expect(hmmPfnToMapOrder(31 * 2 ** 42 + V)).toBe(31);
  });
});

describe('requests: default_flags, pfn_flags_mask, REQ_WRITE', () => {
  it('REQ_WRITE without REQ_FAULT asks for nothing: nothing is faulted, a none page reads 0', () => {
    const w = modernWorld();
    mapAt(w, BASE, 2);
    touch(w, BASE, [0]);
    w.p.mprotect(BASE, 2 * PAGE, PROT_READ);
    const range = newRange(w, BASE, 2, { defaultFlags: REQ_W });
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([pfnAt(w, BASE) + V, 0]);
  });

  it('pfn_flags_mask 0: per-page request bits are ignored', () => {
    const w = modernWorld();
    mapAt(w, BASE, 2);
    const range = newRange(w, BASE, 2);
    range.hmmPfns.set([REQ + REQ_W, REQ]);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([0, 0]);
    expect(w.p.pte(BASE).kind).toBe('none');
  });

  it('default REQ_FAULT with mask REQ_WRITE: every page readable, the marked page writable', () => {
    const w = modernWorld();
    mapAt(w, BASE, 3);
    w.p.read(BASE, 3 * PAGE); // zero page everywhere: the PTE table exists
    const range = newRange(w, BASE, 3, { defaultFlags: REQ, pfnFlagsMask: REQ_W });
    range.hmmPfns.set([0, REQ_W, 0]);
    expect(fault(w, range)).toBe(-EBUSY); // the COW of page 1 invalidated the range
    range.notifierSeq = readBegin(w);
    expect(fault(w, range)).toBe(0);
    // page 2 was write-faulted too: hmm_vma_fault runs to the end of the PMD span
    expect(out(range)).toEqual([
      ZERO_PFN + V,
      pfnAt(w, BASE + PAGE) + V + W,
      pfnAt(w, BASE + 2 * PAGE) + V + W,
    ]);
  });
});

describe('the sticky DMA bits', () => {
  it('DMA_MAPPED, P2PDMA and P2PDMA_BUS survive into every kind of output; other input bits do not', () => {
    const w = modernWorld();
    const owner = 'dev';
    const dev = ownedDevice(w, owner);
    mapAt(w, BASE, 3);
    touch(w, BASE, [0]);
    setDevicePrivate(w, BASE + PAGE, dev.first, true);
    const range = newRange(w, BASE, 4, { devPrivateOwner: owner }); // page 3: no VMA
    range.hmmPfns.set([DMA + P2P + 77 + V, P2P_BUS + ERR, DMA + W + 5, P2P + DMA + P2P_BUS]);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([
      DMA + P2P + pfnAt(w, BASE) + V + W,
      P2P_BUS + dev.first + V + W,
      DMA, // none PTE: 0 plus the sticky bit
      P2P + DMA + P2P_BUS + ERR,
    ]);
  });
});

describe('-EBUSY and the restart points', () => {
  it('an invalidation after read_begin: -EBUSY before anything is written', () => {
    const w = modernWorld();
    mapAt(w, BASE, 4);
    touch(w, BASE, [0, 1]);
    const range = newRange(w, BASE, 2);
    range.hmmPfns.set([11, 12]);
    w.p.madvise(BASE + 3 * PAGE, PAGE, MADV_DONTNEED);
    expect(w.invalidations.length).toBe(1);
    expect(fault(w, range)).toBe(-EBUSY);
    expect(out(range)).toEqual([11, 12]);
    range.notifierSeq = readBegin(w);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([pfnAt(w, BASE) + V + W, pfnAt(w, BASE + PAGE) + V + W]);
  });

  it('a fault that invalidates: entries before the restart point are outputs, the rest still inputs', () => {
    const w = modernWorld();
    mapAt(w, BASE, 4);
    touch(w, BASE, [0, 1, 3]);
    w.p.read(BASE + 2 * PAGE, 1); // zero page: a write request must COW it
    const range = newRange(w, BASE, 4, { defaultFlags: REQ + REQ_W });
    range.hmmPfns.set([101, 102, 103, 104]);
    expect(fault(w, range)).toBe(-EBUSY);
    expect(w.invalidations.map((r) => [r.start, r.end])).toEqual([[BASE + 2 * PAGE, BASE + 3 * PAGE]]);
    expect(out(range)).toEqual([pfnAt(w, BASE) + V + W, pfnAt(w, BASE + PAGE) + V + W, 103, 104]);
    range.notifierSeq = readBegin(w);
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([0, 1, 2, 3].map((i) => pfnAt(w, BASE + i * PAGE) + V + W));
  });

  it('a migration entry with a fault requested: waits for the migration, then walks again from it', () => {
    const w = modernWorld();
    mapAt(w, BASE, 2);
    touch(w, BASE, [0, 1]);
    const range = newRange(w, BASE, 2, { defaultFlags: REQ });
    const pfn = startMigration(w, BASE);
    let ret: number | null = null;
    const ex = w.sim.executor();
    const driver = withMmapRead(w.mm, () => hmmRangeFault(range));
    ex.spawn(
      'driver',
      (function* () {
        ret = yield* driver;
      })(),
    );
    // The migration finishes only once the walk sleeps on the page lock.
    let waitsSeen = -1;
    function* migrate() {
      while (w.sim.kernel.counters.get('hmm_migration_wait') === 0) yield 'migrate: copy';
      waitsSeen = w.sim.kernel.counters.get('hmm_migration_wait');
      expect(ret).toBe(null);
      finishMigration(w, BASE, pfn, true);
    }
    ex.spawn('migrate', migrate());
    expect(ex.run().status).toBe('done');
    expect([waitsSeen, ret]).toEqual([1, 0]);
    expect(out(range)).toEqual([pfn + V + W, pfnAt(w, BASE + PAGE) + V + W]);
  });

  it('a migration entry not requested reads 0 and is not waited on', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1);
    touch(w, BASE, [0]);
    startMigration(w, BASE);
    const range = newRange(w, BASE, 1);
    range.hmmPfns[0] = 9;
    expect(fault(w, range)).toBe(0);
    expect(out(range)).toEqual([0]);
    expect(w.sim.kernel.counters.get('hmm_migration_wait')).toBe(0);
  });
});

describe('an invalidation during the walk', () => {
  it('behind the walk: hmm_range_fault still returns 0 (no restart, no check), read_retry tells the driver', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1024);
    touch(w, BASE, [0, 600]);
    const stale = pfnAt(w, BASE);
    const range = newRange(w, BASE, 1024);
    // Let the walk reach the second PMD span, then zap page 0, which it has already reported.
    const secondSpan = `hmm_vma_walk_pmd ${hex(BASE + 512 * PAGE)}`;
    const strategy: Strategy = {
      pick(runnable) {
        const walk = runnable.findIndex((t) => t.name === 'walk');
        const zap = runnable.findIndex((t) => t.name === 'zap');
        if (zap >= 0 && (walk < 0 || runnable[walk]?.lastPoint === secondSpan)) return zap;
        return Math.max(walk, 0);
      },
    };
    let ret: number | null = null;
    const ex = w.sim.executor(strategy);
    ex.spawn(
      'walk',
      withMmapRead(w.mm, function* () {
        ret = yield* hmmRangeFault(range);
      }),
    );
    let zappedMidWalk = false;
    ex.spawn(
      'zap',
      (function* () {
        zappedMidWalk = ret === null && (range.hmmPfns[0] as number) !== 0;
        yield* w.p.task.madvise(BASE, PAGE, MADV_DONTNEED);
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect([ret, zappedMidWalk]).toEqual([0, true]);
    expect(range.hmmPfns[0]).toBe(stale + V + W); // stale: the CPU no longer maps it
    expect(w.p.pte(BASE).kind).toBe('none');
    expect(range.hmmPfns[600]).toBe(pfnAt(w, BASE + 600 * PAGE) + V + W);
    expect(mmuIntervalReadRetry(w.sub, range.notifierSeq)).toBe(true);
  });
});

describe('mmap_lock', () => {
  it('is never dropped: the caller still holds it for read after faults', () => {
    const w = modernWorld();
    mapAt(w, BASE, 8);
    const range = newRange(w, BASE, 8, { defaultFlags: REQ + REQ_W });
    const held = w.sim.run(
      'driver',
      (function* () {
        yield* w.mm.mmapSem.downRead();
        const r = yield* hmmRangeFault(range);
        w.mm.mmapSem.assertHeld('read');
        w.mm.mmapSem.upRead();
        return r;
      })(),
    );
    expect(held).toBe(0);
    expect(w.p.rss().anon).toBe(8);
  });

  it('calling it without mmap_lock is a lockdep report (mmap_assert_locked)', () => {
    const w = modernWorld();
    mapAt(w, BASE, 1);
    const range = newRange(w, BASE, 1);
    expect(() => w.sim.run('driver', hmmRangeFault(range))).toThrow(LockdepBug);
  });
});

describe('bad arguments', () => {
  it('-EINVAL for start >= end and for unaligned start or end', () => {
    const w = modernWorld();
    mapAt(w, BASE, 2);
    expect(fault(w, newRange(w, BASE, 0))).toBe(-EINVAL);
    expect(fault(w, { ...newRange(w, BASE + PAGE, 1), end: BASE })).toBe(-EINVAL);
    expect(fault(w, { ...newRange(w, BASE, 1), start: BASE + 1 })).toBe(-EINVAL);
    expect(fault(w, { ...newRange(w, BASE, 2), end: BASE + PAGE + 8 })).toBe(-EINVAL);
  });

  it('typed errors for values hmm_range_fault cannot read, a KernelBug for a notifier never inserted', () => {
    const w = modernWorld();
    mapAt(w, BASE, 2);
    const short = { ...newRange(w, BASE, 2), hmmPfns: new Float64Array(1) };
    expect(() => fault(w, short)).toThrow(ArgumentError);
    expect(() => fault(w, { ...newRange(w, BASE, 1), defaultFlags: -1 })).toThrow(/range\.defaultFlags/);
    expect(() => fault(w, { ...newRange(w, BASE, 1), start: 0.5 })).toThrow(/range\.start/);
    const orphan = { ...newRange(w, BASE, 1), notifier: new MmuIntervalNotifier() };
    expect(() => fault(w, orphan)).toThrow(KernelBug);
  });
});
