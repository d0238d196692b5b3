/**
 * Today's test_hmm READ and WRITE (dmirror_fault on hmm_range_fault, v6.19) through
 * sim.openDevice(n, p, { api: 'modern' }): exact cpages, fault rounds and bytes.
 */

import { describe, expect, it } from 'vitest';
import { checkCoherence } from '../../../src/check/index.js';
import { PAGE_SIZE } from '../../../src/core/addr.js';
import { EINVAL, HmmError } from '../../../src/core/errno.js';
import type { TestHmmDmirror } from '../../../src/drivers/test_hmm/dmirror.js';
import { DMIRROR_RANGE_BATCH, dmirrorRangeFault } from '../../../src/drivers/test_hmm/fault.js';
import { HMM_PFN_REQ_FAULT, HMM_PFN_VALID, HMM_PFN_WRITE } from '../../../src/hmm/modern/index.js';
import {
  MADV_DONTNEED,
  MADV_HUGEPAGE,
  MAP_FIXED,
  MAP_SHARED,
  PROT_NONE,
  PROT_READ,
  ZERO_PFN,
} from '../../../src/mm/index.js';
import { RandomStrategy, type Strategy } from '../../../src/sched/index.js';
import { Simulator } from '../../../src/sim/simulator.js';

const RW = 3;
const MAP = 0x22; // MAP_PRIVATE | MAP_ANONYMOUS
const BASE = 0x7e00_0000_0000;

function machine() {
  const sim = new Simulator({
    ramPages: 1024,
    kernel: 'v6.19',
    devices: [{ memoryPages: 16 }, { memoryPages: 16 }],
  });
  const p = sim.createProcess();
  const fd = sim.openDevice(0, p, { api: 'modern' });
  return { sim, p, fd, d: fd.driver as TestHmmDmirror };
}

/** ints i at int index i, as the selftests' "init ptr". */
function pattern(npages: number, base = 0): Uint8Array {
  const b = new Uint8Array(npages * PAGE_SIZE);
  for (let i = 0; i < b.length / 4; i++) new DataView(b.buffer).setInt32(i * 4, base + i, true);
  return b;
}

function errnoOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof HmmError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('HMM_DMIRROR_READ', () => {
  it('a cold read of written pages: cpages = npages in one fault round, the CPU bytes', () => {
    const { p, fd, sim } = machine();
    const n = 100; // more than one 32-page batch
    const a = p.mmap(n * PAGE_SIZE, RW, MAP);
    const data = pattern(n);
    p.write(a, data);
    const r = fd.read(a, n);
    expect([r.cpages, r.faults]).toEqual([n, 1]);
    expect(Buffer.from(r.data).equals(Buffer.from(data))).toBe(true);
    expect(sim.deviceCounters(0).pagesMirrored).toBe(n);
    const again = fd.read(a, n);
    expect([again.cpages, again.faults]).toEqual([n, 0]);
  });

  it('unpopulated anonymous memory reads as zeros through the zero page', () => {
    const { p, fd, d } = machine();
    const a = p.mmap(3 * PAGE_SIZE, RW, MAP);
    const r = fd.read(a, 3);
    expect([r.cpages, r.faults]).toEqual([3, 1]);
    expect(r.data.every((b) => b === 0)).toBe(true);
    expect(p.pte(a).pfn).toBe(ZERO_PFN);
    expect([d.pt.pfnOf(a / PAGE_SIZE), d.pt.isWritable(a / PAGE_SIZE)]).toEqual([ZERO_PFN, false]);
  });

  it('a partly mapped range: the pages before the first missing one count, then the fault fails (EFAULT)', () => {
    const { p, fd } = machine();
    const a = p.mmap(4 * PAGE_SIZE, RW, MAP);
    p.write(a, pattern(4));
    expect(fd.read(a, 2).cpages).toBe(2);
    p.munmap(a + 2 * PAGE_SIZE, 2 * PAGE_SIZE);
    expect(errnoOf(() => fd.read(a, 4))).toBe('EFAULT');
  });

  it('PROT_NONE memory: EFAULT', () => {
    const { p, fd } = machine();
    const a = p.mmap(2 * PAGE_SIZE, PROT_NONE, MAP);
    expect(errnoOf(() => fd.read(a, 2))).toBe('EFAULT');
  });

  it('an invalidation erases the device entries and the next read faults them back', () => {
    const { p, fd, d } = machine();
    const a = p.mmap(4 * PAGE_SIZE, RW, MAP);
    p.write(a, pattern(4));
    fd.read(a, 4);
    p.madvise(a + PAGE_SIZE, 2 * PAGE_SIZE, MADV_DONTNEED);
    expect(d.pt.size).toBe(2);
    const r = fd.read(a, 4);
    expect([r.cpages, r.faults]).toEqual([4, 1]);
    expect(Buffer.from(r.data.subarray(0, PAGE_SIZE)).equals(Buffer.from(pattern(1)))).toBe(true);
    expect(r.data.subarray(PAGE_SIZE, 3 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
  });

  it('the ioctl prologue: unaligned addr is EINVAL (driver entry), as is npages 0', () => {
    const { sim, p, d } = machine();
    const a = p.mmap(PAGE_SIZE, RW, MAP);
    expect(sim.run('read', d.read(a + 8, 1))).toBe(-EINVAL);
    expect(sim.run('read', d.read(a, 0))).toBe(-EINVAL);
  });
});

describe('HMM_DMIRROR_WRITE', () => {
  it('writes through to the CPU pages: cpages = npages, one fault round', () => {
    const { p, fd } = machine();
    const n = 40;
    const a = p.mmap(n * PAGE_SIZE, RW, MAP);
    const data = pattern(n, 7);
    const r = fd.write(a, data);
    expect([r.cpages, r.faults]).toEqual([n, 1]);
    expect(Buffer.from(p.read(a, n * PAGE_SIZE)).equals(Buffer.from(data))).toBe(true);
    expect(p.rss().anon).toBe(n);
  });

  it('after a read maps zero pages read-only, a write faults again for write (COW) and lands', () => {
    const { p, fd, d } = machine();
    const a = p.mmap(2 * PAGE_SIZE, RW, MAP);
    fd.read(a, 2);
    const r = fd.write(a, pattern(2, 1));
    expect([r.cpages, r.faults]).toEqual([2, 1]);
    expect(d.pt.isWritable(a / PAGE_SIZE)).toBe(true);
    expect(p.pte(a).pfn).not.toBe(ZERO_PFN);
    expect(Buffer.from(p.read(a, 2 * PAGE_SIZE)).equals(Buffer.from(pattern(2, 1)))).toBe(true);
  });

  it('read-only memory: EPERM, and nothing is written', () => {
    const { p, fd, d } = machine();
    const a = p.mmap(PAGE_SIZE, PROT_READ, MAP);
    expect(errnoOf(() => fd.write(a, pattern(1)))).toBe('EPERM');
    expect(d.pt.size).toBe(0);
  });

  it('takes whole pages, as the ioctl copies npages * PAGE_SIZE: a partial page is refused, the memory untouched', () => {
    const { p, fd } = machine();
    const a = p.mmap(PAGE_SIZE, RW, MAP);
    p.write(a, new Uint8Array(PAGE_SIZE).fill(9));
    expect(() => fd.write(a, Uint8Array.of(1, 2, 3))).toThrow(/'bytes'/);
    expect([...p.read(a, 4)]).toEqual([9, 9, 9, 9]);
  });
});

describe('READ and WRITE on other mappings', () => {
  it('a THP range: one fault round maps 512 pages of one huge page, writable', () => {
    const { sim, p, fd, d } = machine();
    const a = sim.run('mmap', p.task.mmapAt(BASE, 512 * PAGE_SIZE, RW, MAP | MAP_FIXED));
    p.madvise(a, 512 * PAGE_SIZE, MADV_HUGEPAGE);
    const data = pattern(512, 5);
    const r = fd.write(a, data);
    expect([r.cpages, r.faults]).toEqual([512, 1]);
    const head = p.pte(a);
    expect(head.order).toBe(9);
    expect(d.pt.pfnOf(a / PAGE_SIZE + 511)).toBe(head.pfn + 511);
    expect(Buffer.from(p.read(a, 512 * PAGE_SIZE)).equals(Buffer.from(data))).toBe(true);
  });

  it('a shared file mapping: the device reads what pwrite put in the page cache, and writes it back', () => {
    const { sim, p, fd } = machine();
    const f = sim.createFile(4 * PAGE_SIZE);
    f.pwrite(pattern(4, 11), 0);
    const a = p.mmap(4 * PAGE_SIZE, RW, MAP_SHARED, f);
    const r = fd.read(a, 4);
    expect([r.cpages, r.faults]).toEqual([4, 1]);
    expect(Buffer.from(r.data).equals(Buffer.from(pattern(4, 11)))).toBe(true);
    expect(fd.write(a, pattern(4, 12)).cpages).toBe(4);
    expect(Buffer.from(f.pread(4 * PAGE_SIZE, 0)).equals(Buffer.from(pattern(4, 12)))).toBe(true);
  });
});

describe('dmirror_range_fault', () => {
  it('stores each entry of a 32-page batch in the device page table, WRITE-tagged from HMM_PFN_WRITE', () => {
    const { sim, p, d } = machine();
    const a = p.mmap(DMIRROR_RANGE_BATCH * PAGE_SIZE, RW, MAP);
    p.write(a, pattern(1));
    const range = {
      notifier: d.notifier,
      notifierSeq: 0,
      start: a,
      end: a + DMIRROR_RANGE_BATCH * PAGE_SIZE,
      hmmPfns: new Float64Array(DMIRROR_RANGE_BATCH),
      defaultFlags: HMM_PFN_REQ_FAULT,
      pfnFlagsMask: 0,
      devPrivateOwner: d.mdevice,
    };
    expect(sim.run('fault', dmirrorRangeFault(d, range))).toBe(0);
    expect(range.hmmPfns[0]).toBe(p.pte(a).pfn + HMM_PFN_VALID + HMM_PFN_WRITE);
    expect(range.hmmPfns[1]).toBe(ZERO_PFN + HMM_PFN_VALID);
    expect(
      d.pt
        .mappings()
        .map((m) => [m.pfn, m.write])
        .slice(0, 2),
    ).toEqual([
      [p.pte(a).pfn, true],
      [ZERO_PFN, false],
    ]);
    expect(d.pt.size).toBe(DMIRROR_RANGE_BATCH);
  });

  it('an invalidation between hmm_range_fault and the mutex makes it walk again (read_retry)', () => {
    const { sim, p, d } = machine();
    const a = p.mmap(2 * PAGE_SIZE, RW, MAP);
    p.write(a, pattern(2));
    const stale = p.pte(a + PAGE_SIZE).pfn;
    const range = {
      notifier: d.notifier,
      notifierSeq: 0,
      start: a,
      end: a + 2 * PAGE_SIZE,
      hmmPfns: new Float64Array(2),
      defaultFlags: HMM_PFN_REQ_FAULT,
      pfnFlagsMask: 0,
      devPrivateOwner: d.mdevice,
    };
    // Run the fault thread until it is about to take dmirror->mutex, then zap page 1 to the end.
    let zapped = false;
    const strategy: Strategy = {
      pick(runnable) {
        const fault = runnable.findIndex((t) => t.name === 'fault');
        const zap = runnable.findIndex((t) => t.name === 'zap');
        const atMutex = fault >= 0 && runnable[fault]?.lastPoint === 'mutex_lock dmirror.mutex';
        return zap >= 0 && (atMutex || fault < 0) ? zap : Math.max(fault, 0);
      },
    };
    let ret: number | null = null;
    const ex = sim.executor(strategy);
    ex.spawn(
      'fault',
      (function* () {
        ret = yield* dmirrorRangeFault(d, range);
      })(),
    );
    ex.spawn(
      'zap',
      (function* () {
        yield* p.task.madvise(a + PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED);
        zapped = true;
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect([ret, zapped]).toEqual([0, true]);
    // the walk that ran before the zap saw `stale`; the retried one mapped the zero page
    expect([d.pt.pfnOf(a / PAGE_SIZE + 1), d.pt.isWritable(a / PAGE_SIZE + 1)]).toEqual([ZERO_PFN, false]);
    expect(stale).not.toBe(ZERO_PFN);
    expect(checkCoherence(sim.kernel, [d])).toBe(null);
  });

  it('after READ and WRITE the device entries agree with the CPU page table (coherence checker)', () => {
    const { sim, p, fd, d } = machine();
    const a = p.mmap(8 * PAGE_SIZE, RW, MAP);
    p.write(a, pattern(4));
    fd.read(a, 8);
    fd.write(a + 6 * PAGE_SIZE, pattern(2));
    expect(d.pt.size).toBe(8);
    expect(checkCoherence(sim.kernel, [d])).toBe(null);
  });

  it('READ racing MADV_DONTNEED and a CPU write under 30 random schedules: the device never keeps a stale page', () => {
    for (let seed = 0; seed < 30; seed++) {
      const { sim, p, fd, d } = machine();
      const a = p.mmap(8 * PAGE_SIZE, RW, MAP);
      p.write(a, pattern(8));
      const ex = sim.executor(new RandomStrategy(seed));
      let read: Uint8Array | null = null;
      ex.spawn(
        'device',
        (function* () {
          read = (yield* fd.task.read(a, 8)).data;
        })(),
      );
      ex.spawn(
        'cpu',
        (function* () {
          yield* p.task.madvise(a + 2 * PAGE_SIZE, 2 * PAGE_SIZE, MADV_DONTNEED);
          yield* p.task.write(a + 2 * PAGE_SIZE, Uint8Array.of(0xee));
        })(),
      );
      expect(ex.run().failure?.message ?? null, `seed ${seed}`).toBeNull();
      expect(checkCoherence(sim.kernel, [d]), `seed ${seed}`).toBe(null);
      // page 5 was never touched by the CPU thread: the device read it as written
      const got = read as unknown as Uint8Array;
      expect(
        Buffer.from(got.subarray(5 * PAGE_SIZE, 6 * PAGE_SIZE)).equals(
          Buffer.from(pattern(8).subarray(5 * PAGE_SIZE, 6 * PAGE_SIZE)),
        ),
        `seed ${seed}`,
      ).toBe(true);
    }
  });
});
