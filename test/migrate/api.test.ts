import { describe, expect, it } from 'vitest';
import { KernelBug } from '../../src/core/assert.js';
import { ArgumentError, EINVAL, ENOMEM, ERANGE } from '../../src/core/errno.js';
import type { HmmDevmem, HmmDevmemOps } from '../../src/hmm/seed/devmem.js';
import {
  DEVMEM_STRUCT_PAGES_MAX,
  hmmDevmemAdd,
  hmmDevmemOf,
  hmmDevmemPageGetDrvdata,
  hmmDevmemPageSetDrvdata,
  hmmVmaAllocLockedPage,
  PA_SECTION_SIZE,
} from '../../src/hmm/seed/devmem.js';
import type { MigrateVmaOps } from '../../src/mm/migrate.js';
import {
  MIGRATE_PFN_ERROR,
  MIGRATE_PFN_LOCKED,
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_VALID,
  MIGRATE_PFN_WRITE,
  migratePfn,
  migratePfnClear,
  migratePfnFlags,
  migratePfnSet,
  migratePfnToPage,
  migrateVma,
} from '../../src/mm/migrate.js';
import { PROT_READ } from '../../src/mm/mmap.js';
import { PAGES_PER_SECTION } from '../../src/mm/page.js';
import type { Vma } from '../../src/mm/vma.js';
import { VM_HUGETLB } from '../../src/mm/vma.js';
import type { Task } from '../../src/sched/index.js';
import type { Process } from '../../src/sim/process.js';
import { Simulator } from '../../src/sim/simulator.js';
import { TestDriver } from './driver.js';
import { anonWritten, PAGE_SIZE, setup } from './helpers.js';

const noopOps: HmmDevmemOps = { free: () => {}, fault: () => 0 };

describe('migrate pfn entries', () => {
  it('encodes pfn and flags exactly, also past 32 bits', () => {
    expect(migratePfn(5)).toBe((5 << 6) | MIGRATE_PFN_VALID);
    expect(migratePfnToPage(migratePfn(5) | MIGRATE_PFN_MIGRATE)).toBe(5);
    expect(migratePfnToPage(MIGRATE_PFN_MIGRATE)).toBe(-1);
    expect(migratePfnToPage(MIGRATE_PFN_ERROR)).toBe(-1);
    const big = 2 ** 30 + 3;
    let e = migratePfnSet(migratePfn(big), MIGRATE_PFN_LOCKED | MIGRATE_PFN_WRITE);
    expect(migratePfnToPage(e)).toBe(big);
    expect(migratePfnFlags(e)).toBe(MIGRATE_PFN_VALID | MIGRATE_PFN_LOCKED | MIGRATE_PFN_WRITE);
    e = migratePfnClear(e, MIGRATE_PFN_WRITE);
    expect(migratePfnFlags(e)).toBe(MIGRATE_PFN_VALID | MIGRATE_PFN_LOCKED);
    expect(migratePfnToPage(e)).toBe(big);
  });
});

describe('migrate_vma argument checks', () => {
  function countingOps(): MigrateVmaOps & { calls: number } {
    const ops = {
      calls: 0,
      allocAndCopy: () => {
        ops.calls++;
      },
      finalizeAndMap: () => {
        ops.calls++;
      },
    };
    return ops;
  }

  function* locked<T>(p: Process, body: () => Task<T>): Task<T> {
    yield* p.mm.mmapSem.downRead();
    try {
      return yield* body();
    } finally {
      p.mm.mmapSem.upRead();
    }
  }

  it('returns -EINVAL for every bad argument and never calls back', () => {
    const { sim, p } = setup();
    const { a } = anonWritten(p, 2);
    const vma = p.mm.vmaAt(a) as Vma;
    const ops = countingOps();
    const s = new Float64Array(4);
    const d = new Float64Array(4);
    const pfnmap = p.mmapSpecial(PAGE_SIZE, PROT_READ, 'pfnmap');
    const mixed = p.mmapSpecial(PAGE_SIZE, PROT_READ, 'mixedmap');
    const run = (v: Vma | null, start: number, end: number, o: MigrateVmaOps | null = ops) =>
      sim.run(
        'mv',
        locked(p, () => migrateVma(o, v, start, end, s, d, null)),
      );
    const end = a + 2 * PAGE_SIZE;
    expect(run(null, a, end)).toBe(-EINVAL);
    expect(run(vma, a, end, null)).toBe(-EINVAL);
    expect(
      sim.run(
        'mv',
        locked(p, () => migrateVma(ops, vma, a, end, null, d, null)),
      ),
    ).toBe(-EINVAL);
    expect(
      sim.run(
        'mv',
        locked(p, () => migrateVma(ops, vma, a, end, s, null, null)),
      ),
    ).toBe(-EINVAL);
    expect(run(vma, a, a)).toBe(-EINVAL);
    expect(run(vma, a + PAGE_SIZE, a)).toBe(-EINVAL);
    expect(run(vma, a + 100, a + 200)).toBe(-EINVAL); // both round down to a
    expect(run(vma, a - PAGE_SIZE, end)).toBe(-EINVAL);
    expect(run(vma, a, end + PAGE_SIZE)).toBe(-EINVAL);
    expect(run(vma, end, end + PAGE_SIZE)).toBe(-EINVAL);
    expect(run(p.mm.vmaAt(pfnmap), pfnmap, pfnmap + PAGE_SIZE)).toBe(-EINVAL);
    expect(run(p.mm.vmaAt(mixed), mixed, mixed + PAGE_SIZE)).toBe(-EINVAL);
    vma.flags |= VM_HUGETLB;
    expect(run(vma, a, end)).toBe(-EINVAL);
    vma.flags &= ~VM_HUGETLB;
    expect(ops.calls).toBe(0);
    // Unaligned bounds are rounded down to pages.
    expect(run(vma, a + 100, end + 100)).toBe(0);
    expect(ops.calls).toBe(2);
  });

  it('requires mmap_sem and src/dst arrays long enough for the range', () => {
    const { sim, p } = setup();
    const { a } = anonWritten(p, 2);
    const vma = p.mm.vmaAt(a) as Vma;
    const ops = countingOps();
    const short = new Float64Array(1);
    expect(() =>
      sim.run(
        'nolock',
        migrateVma(ops, vma, a, a + 2 * PAGE_SIZE, new Float64Array(2), new Float64Array(2), null),
      ),
    ).toThrow(KernelBug);
    expect(() =>
      sim.run(
        'short',
        locked(p, () => migrateVma(ops, vma, a, a + 2 * PAGE_SIZE, short, new Float64Array(2), null)),
      ),
    ).toThrow(/src\/dst/);
    expect(ops.calls).toBe(0);
  });

  it('a callback that modifies src is a WARN', () => {
    const { sim, p } = setup();
    const { a } = anonWritten(p, 1);
    const vma = p.mm.vmaAt(a) as Vma;
    const bad: MigrateVmaOps = {
      allocAndCopy: (_v, src) => {
        src[0] = 0;
      },
      finalizeAndMap: () => {},
    };
    expect(() =>
      sim.run(
        'bad',
        locked(p, () =>
          migrateVma(bad, vma, a, a + PAGE_SIZE, new Float64Array(1), new Float64Array(1), null),
        ),
      ),
    ).toThrow(/modified src/);
  });
});

describe('hmm_devmem', () => {
  it('hmmDevmemAdd rounds up to sections, places regions above RAM, and reports errors as -errno', () => {
    const sim = new Simulator({ ramPages: 100 });
    const k = sim.kernel;
    expect(hmmDevmemAdd(k, noopOps, null, 0)).toBe(-EINVAL);
    expect(hmmDevmemAdd(k, noopOps, null, -4096)).toBe(-EINVAL);
    expect(hmmDevmemAdd(k, noopOps, null, 1.5)).toBe(-EINVAL);
    expect(hmmDevmemAdd(k, noopOps, null, Number.NaN)).toBe(-EINVAL);
    expect(hmmDevmemAdd(k, noopOps, null, 2 ** 46)).toBe(-ERANGE);
    expect(hmmDevmemAdd(k, noopOps, null, DEVMEM_STRUCT_PAGES_MAX * PAGE_SIZE)).toBe(-ENOMEM);

    const a = hmmDevmemAdd(k, noopOps, 'dev-a', 1) as HmmDevmem;
    expect(typeof a).toBe('object');
    expect(a.npages).toBe(PAGES_PER_SECTION);
    expect(a.pfnFirst % PAGES_PER_SECTION).toBe(0);
    expect(a.pfnFirst).toBeGreaterThan(100);
    expect(a.device).toBe('dev-a');
    expect(a.resource).toMatchObject({ start: a.pfnFirst * PAGE_SIZE, end: a.pfnLast * PAGE_SIZE - 1 });
    const b = hmmDevmemAdd(k, noopOps, 'dev-b', PA_SECTION_SIZE + 1) as HmmDevmem;
    expect(b.npages).toBe(2 * PAGES_PER_SECTION);
    expect(b.pfnFirst).toBeGreaterThanOrEqual(a.pfnLast);
    for (const pfn of [a.pfnFirst, a.pfnLast - 1, b.pfnFirst]) {
      expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 0, zone: 'device', flags: ['reserved'] });
      expect(k.mem.store.isDevicePrivate(pfn)).toBe(true);
    }
    expect(hmmDevmemOf(k, a.pfnFirst)).toBe(a);
    expect(hmmDevmemOf(k, b.pfnLast - 1)).toBe(b);
    expect(hmmDevmemOf(k, 5)).toBe(null);
  });

  it('per-page driver data', () => {
    const sim = new Simulator({ ramPages: 16 });
    const d = hmmDevmemAdd(sim.kernel, noopOps, null, 1) as HmmDevmem;
    hmmDevmemPageSetDrvdata(d, d.pfnFirst + 3, 0xabc);
    expect(hmmDevmemPageGetDrvdata(d, d.pfnFirst + 3)).toBe(0xabc);
    expect(hmmDevmemPageGetDrvdata(d, d.pfnFirst + 4)).toBeUndefined();
    expect(() => hmmDevmemPageSetDrvdata(d, 3, 1)).toThrow(ArgumentError);
    expect(() => hmmDevmemPageGetDrvdata(d, d.pfnLast)).toThrow(ArgumentError);
  });

  it('hmmVmaAllocLockedPage gives a locked, uncharged page, or -1 when RAM is gone', () => {
    const sim = new Simulator({ ramPages: 2 });
    const p = sim.createProcess();
    const { a } = anonWritten(p, 1);
    const vma = p.mm.vmaAt(a) as Vma;
    const pfn = hmmVmaAllocLockedPage(p.mm, vma, a);
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 0, memcg: null, flags: ['locked'] });
    expect(hmmVmaAllocLockedPage(p.mm, vma, a)).toBe(-1);
  });

  it('the free callback runs at refcount 1 with page->mapping already cleared', () => {
    const sim = new Simulator({ ramPages: 32 });
    const drv = new TestDriver(sim.kernel);
    const seen: Array<{ pfn: number; mapping: number; refcount: number }> = [];
    const free = drv.devmemOps.free;
    (drv.devmemOps as { free: HmmDevmemOps['free'] }).free = (devmem, pfn) => {
      const s = sim.kernel.mem.store;
      seen.push({ pfn, mapping: s.mapping[pfn]!, refcount: s.refcount[pfn]! });
      free(devmem, pfn);
    };
    const p = sim.createProcess();
    const { a } = anonWritten(p, 1);
    sim.run('migrate', drv.toDeviceTask(p, a, 1));
    const dev = p.pte(a).pfn;
    expect(sim.kernel.mem.store.mapping[dev]).not.toBe(0);
    p.munmap(a, PAGE_SIZE);
    expect(seen).toEqual([{ pfn: dev, mapping: 0, refcount: 1 }]);
  });

  it('the fault callback runs with mmap_sem held for read and its VM_FAULT code is the fault result', () => {
    const sim = new Simulator({ ramPages: 32 });
    const drv = new TestDriver(sim.kernel);
    const p = sim.createProcess();
    const { a } = anonWritten(p, 1);
    sim.run('migrate', drv.toDeviceTask(p, a, 1));
    let held: string | null = null;
    (drv.devmemOps as { fault: HmmDevmemOps['fault'] }).fault = (_d, vma) => {
      held = (vma.mm as Process['mm']).mmapSem.readers > 0 ? 'read' : 'none';
      return 0x0002; // VM_FAULT_SIGBUS
    };
    expect(() => p.read(a, 1)).toThrow(/SIGBUS/);
    expect(held).toBe('read');
    expect(p.pte(a).kind).toBe('device-private');
  });
});
