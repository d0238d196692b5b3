import { describe, expect, it } from 'vitest';
import { MMAP_BASE, PMD_SIZE, PUD_SIZE } from '../../src/core/addr.js';
import { KernelBug, KernelWarning } from '../../src/core/assert.js';
import { EAGAIN, EINVAL } from '../../src/core/errno.js';
import { MADV_DONTNEED } from '../../src/mm/madvise.js';
import { MAP_PRIVATE, MAP_SHARED, PROT_READ } from '../../src/mm/mmap.js';
import {
  MmuNotifier,
  type MmuNotifierRange,
  mmuNotifierRegister,
  mmuNotifierRegisterLocked,
  mmuNotifierUnregister,
} from '../../src/mm/mmu_notifier.js';
import { oomReapTaskMm } from '../../src/mm/oom_kill.js';
import { LockdepBug, schedule } from '../../src/sched/index.js';
import {
  ANON,
  bytes,
  type Event,
  fill,
  mmapAt,
  newSim,
  PG,
  RO,
  RW,
  record,
  recorder,
  SHARED_ANON,
  setup,
  starts,
  thrown,
} from './helpers.js';

describe('mm/mmu_notifier: the invalidations each operation issues', () => {
  it('munmap: one UNMAP over the requested range, start then end', () => {
    const { p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    p.write(a, fill(4 * PG, 1));
    const { log } = record(p);
    p.munmap(a + PG, 2 * PG);
    expect(log).toEqual([
      { who: 'mn', what: 'UNMAP', start: a + PG, end: a + 3 * PG, blockable: true },
      { who: 'mn', what: 'end UNMAP', start: a + PG, end: a + 3 * PG },
    ]);
  });

  it('munmap over several VMAs and holes is still one UNMAP over the whole range; nothing mapped, no event', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    const b = p.mmap(PG, RO, ANON);
    const { log } = record(p);
    p.munmap(b - 2 * PG, 4 * PG);
    expect(starts(log)).toEqual([['UNMAP', b - 2 * PG, b + 2 * PG]]);
    expect(a).toBe(b + PG);
    log.length = 0;
    p.munmap(0x1000_0000, PG);
    expect(log).toEqual([]);
  });

  it('mprotect: no PROTECTION_VMA at all while no PMD of the VMA is populated', () => {
    const { p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    const { log } = record(p);
    p.mprotect(a, 4 * PG, PROT_READ);
    expect(log).toEqual([]);
    // same protection: mprotect_fixup returns early, nothing is invalidated
    p.read(a, 1);
    p.mprotect(a, 4 * PG, PROT_READ);
    expect(log).toEqual([]);
    p.mprotect(a + PG, PG, RW);
    expect(starts(log)).toEqual([['PROTECTION_VMA', a + PG, a + 2 * PG]]);
  });

  it('mprotect: the range runs from the first populated PMD to the end of the PUD span', () => {
    const { p } = setup();
    const len = 3 * PMD_SIZE;
    const a = p.mmap(len, RW, ANON);
    expect(a).toBe(MMAP_BASE - len);
    p.write(a + PMD_SIZE + 5 * PG, bytes(1)); // only the middle PMD
    const { log } = record(p);
    p.mprotect(a, len, PROT_READ);
    // the third PMD span is unpopulated but inside the range: v5.3 does not shrink the end
    expect(log).toEqual([
      { who: 'mn', what: 'PROTECTION_VMA', start: a + PMD_SIZE, end: a + len, blockable: true },
      { who: 'mn', what: 'end PROTECTION_VMA', start: a + PMD_SIZE, end: a + len },
    ]);
  });

  it('mprotect: one PROTECTION_VMA per populated PUD span', () => {
    const { p } = setup();
    const pud = 5 * PUD_SIZE;
    const a = mmapAt(p, pud - PMD_SIZE, 3 * PMD_SIZE, RW, ANON);
    expect(a).toBe(pud - PMD_SIZE);
    p.write(a + 7 * PG, bytes(1));
    p.write(pud + PMD_SIZE + PG, bytes(1));
    const { log } = record(p);
    p.mprotect(a, 3 * PMD_SIZE, PROT_READ);
    expect(starts(log)).toEqual([
      ['PROTECTION_VMA', a, pud],
      ['PROTECTION_VMA', pud + PMD_SIZE, pud + 2 * PMD_SIZE],
    ]);
    // only the second span populated
    p.munmap(a, PMD_SIZE);
    log.length = 0;
    p.mprotect(pud, 2 * PMD_SIZE, RW);
    expect(starts(log)).toEqual([['PROTECTION_VMA', pud + PMD_SIZE, pud + 2 * PMD_SIZE]]);
  });

  it('mprotect of part of a VMA: the range is that part (the split VMA), starting mid-PMD', () => {
    const { p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    p.write(a, fill(4 * PG, 1));
    const { log } = record(p);
    p.mprotect(a + PG, 2 * PG, PROT_READ);
    expect(starts(log)).toEqual([['PROTECTION_VMA', a + PG, a + 3 * PG]]);
  });

  it('mprotect after MADV_DONTNEED still notifies (the PTE table remains), after munmap freed the tables it does not', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 1));
    p.madvise(a, 2 * PG, MADV_DONTNEED);
    const { log } = record(p);
    p.mprotect(a, 2 * PG, PROT_READ);
    expect(starts(log)).toEqual([['PROTECTION_VMA', a, a + 2 * PG]]);
    const b = p.mmap(PG, RW, ANON);
    p.write(b, bytes(1));
    p.munmap(a, 2 * PG);
    p.munmap(b, PG);
    const c = p.mmap(PG, RW, ANON);
    log.length = 0;
    p.mprotect(c, PG, PROT_READ);
    expect(log).toEqual([]);
  });

  it('COW: one CLEAR over the faulting page (from a shared page and from the zero page); reuse and first touch issue none', () => {
    const { p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a + PG, bytes(1));
    p.read(a + 2 * PG, 1);
    const child = p.fork();
    const { log } = record(p);
    p.write(a + PG + 17, bytes(2));
    expect(log).toEqual([
      { who: 'mn', what: 'CLEAR', start: a + PG, end: a + 2 * PG, blockable: true },
      { who: 'mn', what: 'end CLEAR', start: a + PG, end: a + 2 * PG },
    ]);
    log.length = 0;
    p.write(a + 2 * PG, bytes(3));
    expect(starts(log)).toEqual([['CLEAR', a + 2 * PG, a + 3 * PG]]);
    log.length = 0;
    p.write(a, bytes(4)); // pte none: do_anonymous_page
    p.write(a + PG, bytes(5)); // writable already
    expect(log).toEqual([]);
    // the child's last mapping of the old page reuses it: no invalidation in the child either
    const c = record(child, 'child');
    child.write(a + PG, bytes(6));
    expect(c.log).toEqual([]);
  });

  it('file faults: do_cow_fault on a none entry issues nothing; COW of a mapped page-cache page issues CLEAR', () => {
    const sim = newSim();
    const f = sim.createFile(2 * PG);
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, RW, MAP_PRIVATE, f);
    const { log } = record(p);
    p.write(a, bytes(1));
    expect(log).toEqual([]);
    p.read(a + PG, 1);
    p.write(a + PG, bytes(1));
    expect(starts(log)).toEqual([['CLEAR', a + PG, a + 2 * PG]]);
  });

  it('MADV_DONTNEED: one CLEAR per VMA part of the range', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    p.mprotect(a + PG, PG, PROT_READ);
    const { log } = record(p);
    p.madvise(a, 2 * PG, MADV_DONTNEED);
    expect(starts(log)).toEqual([
      ['CLEAR', a, a + PG],
      ['CLEAR', a + PG, a + 2 * PG],
    ]);
  });

  it('fork: PROTECTION_PAGE over each copied COW VMA, on the parent; shared and anon_vma-less VMAs issue none', () => {
    const sim = newSim();
    const f = sim.createFile(PG);
    const p = sim.createProcess();
    const cow = p.mmap(4 * PG, RW, ANON);
    p.write(cow + PG, bytes(1));
    const zeroOnly = p.mmap(PG, RO, ANON);
    p.read(zeroOnly, 1);
    const shm = p.mmap(PG, RW, SHARED_ANON);
    p.write(shm, bytes(1));
    const file = p.mmap(PG, RW, MAP_SHARED, f);
    p.write(file, bytes(1));
    const { log } = record(p);
    const child = p.fork();
    expect(log).toEqual([
      { who: 'mn', what: 'PROTECTION_PAGE', start: cow, end: cow + 4 * PG, blockable: true },
      { who: 'mn', what: 'end PROTECTION_PAGE', start: cow, end: cow + 4 * PG },
    ]);
    expect(child.mm.notifiers).toEqual([]);
  });

  it('exit: release is called once, and no invalidation reaches the notifier after it', () => {
    const { sim, p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 1));
    const { log, mn } = record(p);
    p.exit();
    expect(log).toEqual([{ who: 'mn', what: 'release' }]);
    expect(mn.unhashed).toBe(true);
    expect(p.mm.notifiers).toEqual([]);
    // the notifier's mm_count reference keeps the pgd until unregister
    expect(sim.kernel.pt.live).toBe(1);
    sim.run('unreg', mmuNotifierUnregister(mn, p.mm));
    expect(log).toEqual([{ who: 'mn', what: 'release' }]);
    expect(sim.kernel.pt.live).toBe(0);
  });

  it('unregister runs release and detaches the notifier; registering on a dead mm is -EINVAL', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, ANON);
    const { log, mn } = record(p);
    expect(p.mm.count).toBe(2);
    sim.run('unreg', mmuNotifierUnregister(mn, p.mm));
    expect(log).toEqual([{ who: 'mn', what: 'release' }]);
    expect(p.mm.count).toBe(1);
    expect(mn.mm).toBeNull();
    p.munmap(a, PG);
    expect(log).toHaveLength(1);
    p.exit();
    const late = recorder([]);
    expect(sim.run('reg', mmuNotifierRegister(late, p.mm))).toBe(-EINVAL);
  });

  it('the newest registered notifier is called first, for starts and for ends', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    const log: Event[] = [];
    p.sim.run('reg', mmuNotifierRegister(recorder(log, 'A'), p.mm));
    p.sim.run('reg', mmuNotifierRegister(recorder(log, 'B'), p.mm));
    p.munmap(a, PG);
    expect(log.map((e) => `${e.who} ${e.what}`)).toEqual([
      'B UNMAP',
      'A UNMAP',
      'B end UNMAP',
      'A end UNMAP',
    ]);
  });

  it('a blockable callback may sleep (return a generator)', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    const seen: string[] = [];
    const mn = new MmuNotifier({
      *invalidateRangeStart(_mn, r: MmuNotifierRange) {
        yield* schedule('driver lock');
        seen.push(`start ${r.blockable}`);
        return 0;
      },
      *invalidateRangeEnd() {
        yield* schedule('driver unlock');
        seen.push('end');
      },
    });
    p.sim.run('reg', mmuNotifierRegister(mn, p.mm));
    p.munmap(a, PG);
    expect(seen).toEqual(['start true', 'end']);
    expect(p.rss().anon).toBe(0);
  });

  it('a callback that sleeps for a non-blockable range (oomReapTaskMm) fails the run: sleeping in invalid context', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    const mn = new MmuNotifier({
      *invalidateRangeStart() {
        yield* schedule('mutex_lock');
        return 0;
      },
    });
    p.sim.run('reg', mmuNotifierRegister(mn, p.mm));
    const e = thrown(KernelBug, () => p.sim.run('oom_reaper', oomReapTaskMm(p.mm)));
    expect(e.message).toMatch(/^BUG: sleeping function called from invalid context at mutex_lock/);
    expect(e.message).toMatch(/non_block: 1, name: oom_reaper/);
    // the reaper's mmap_sem was released while unwinding
    expect(p.mm.mmapSem.isLocked()).toBe(false);
    expect(p.pte(a).kind).toBe('present');
  });

  it('-EAGAIN for a non-blockable range: oomReapTaskMm returns false and skips that VMA, whose pages remain', () => {
    const { sim, p } = setup();
    const busy = p.mmap(2 * PG, RW, ANON);
    const other = mmapAt(p, 0x5000_0000, 2 * PG, RW, ANON);
    p.write(busy, fill(2 * PG, 1));
    p.write(other, fill(2 * PG, 2));
    expect(p.vmas()).toHaveLength(2);
    const log: Event[] = [];
    const mn = new MmuNotifier({
      invalidateRangeStart(_mn, r) {
        log.push({ who: 'mn', what: 'start', start: r.start, end: r.end, blockable: r.blockable });
        return !r.blockable && r.start < busy + 2 * PG && r.end > busy ? -EAGAIN : 0;
      },
      invalidateRangeEnd(_mn, r) {
        log.push({ who: 'mn', what: 'end', start: r.start, end: r.end });
      },
    });
    sim.run('reg', mmuNotifierRegister(mn, p.mm));
    expect(sim.run('oom_reaper', oomReapTaskMm(p.mm))).toBe(false);
    expect(log).toEqual([
      { who: 'mn', what: 'start', start: other, end: other + 2 * PG, blockable: false },
      { who: 'mn', what: 'end', start: other, end: other + 2 * PG },
      // no end for the range whose start failed
      { who: 'mn', what: 'start', start: busy, end: busy + 2 * PG, blockable: false },
    ]);
    expect(p.pte(busy).kind).toBe('present');
    expect(p.pte(busy + PG).kind).toBe('present');
    expect(p.pte(other).kind).toBe('none');
    expect(p.rss().anon).toBe(2);
    expect(sim.stats().counters.oom_reap_retry).toBe(1);
  });

  it('an error from a blockable invalidation, or any error but -EAGAIN, is a WARN', () => {
    const { sim, p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, fill(2 * PG, 1));
    let ret = -EAGAIN;
    const mn = new MmuNotifier({ invalidateRangeStart: () => ret });
    sim.run('reg', mmuNotifierRegister(mn, p.mm));
    const w = thrown(KernelWarning, () => p.munmap(a, PG));
    expect(w.message).toMatch(/invalidate_range_start callback failed with -11 in blockable context/);
    ret = -EINVAL;
    const w2 = thrown(KernelWarning, () => sim.run('oom_reaper', oomReapTaskMm(p.mm)));
    expect(w2.message).toMatch(/failed with -22 in non-blockable context/);
  });
});

describe('mm/mmu_notifier: registration rules', () => {
  it('mmuNotifierRegisterLocked without mmap_sem held for write is a lockdep report', () => {
    const { sim, p } = setup();
    const mn = recorder([]);
    const e = thrown(LockdepBug, () =>
      sim.run(
        'reg',
        (function* () {
          yield* schedule('x');
          return mmuNotifierRegisterLocked(mn, p.mm);
        })(),
      ),
    );
    expect(e.kind).toBe('LOCKDEP');
    expect(e.message).toMatch(
      /^WARNING: lockdep_assert_held failed: reg does not hold rwsem mmap_sem for write/,
    );
    expect(p.mm.notifiers).toEqual([]);
    // held for read is not enough
    const e2 = thrown(LockdepBug, () =>
      sim.run(
        'reg',
        (function* () {
          yield* p.mm.mmapSem.downRead();
          try {
            return mmuNotifierRegisterLocked(mn, p.mm);
          } finally {
            p.mm.mmapSem.upRead();
          }
        })(),
      ),
    );
    expect(e2.message).toMatch(/for write/);
  });

  it('registering a notifier twice is a BUG; unregistering twice is a WARN', () => {
    const { sim, p } = setup();
    const mn = recorder([]);
    sim.run('reg', mmuNotifierRegister(mn, p.mm));
    expect(thrown(KernelBug, () => sim.run('reg', mmuNotifierRegister(mn, p.mm))).message).toMatch(
      /already registered/,
    );
    sim.run('unreg', mmuNotifierUnregister(mn, p.mm));
    const w = thrown(KernelWarning, () => sim.run('unreg', mmuNotifierUnregister(mn, p.mm)));
    expect(w.kind).toBe('WARNING');
    expect(w.message).toMatch(/double unregister/);
    expect(p.mm.count).toBe(1);
  });
});
