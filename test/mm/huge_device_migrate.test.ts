/**
 * Device-private THP (v6.19) end to end on today's test_hmm: a 2 MiB THP collected as one
 * MIGRATE_PFN_COMPOUND entry behind a PMD migration entry, moved whole to a device folio mapped by
 * a device-private PMD, split by a partial munmap, moved as 512 pages when the folio allocation
 * fails, brought back whole by a CPU fault, and reported with order 9 by hmm_range_fault.
 */

import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../src/check/accounting.js';
import { coherenceViolations } from '../../src/check/coherence.js';
import { PAGE_SIZE, PMD_SIZE } from '../../src/core/addr.js';
import type { TestHmmDmirror } from '../../src/drivers/test_hmm/dmirror.js';
import {
  HMM_DMIRROR_FLAG_FAIL_ALLOC,
  HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL,
  HMM_DMIRROR_PROT_PMD,
  HMM_DMIRROR_PROT_WRITE,
} from '../../src/drivers/test_hmm/uapi.js';
import {
  HMM_PFN_ORDER_SHIFT,
  HMM_PFN_REQ_FAULT,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
  type HmmRange,
  hmmPfnToMapOrder,
  hmmPfnToPage,
  hmmRangeFault,
} from '../../src/hmm/modern/index.js';
import { MADV_HUGEPAGE } from '../../src/mm/madvise.js';
import {
  MIGRATE_PFN_COMPOUND,
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_VALID,
  MIGRATE_PFN_WRITE,
  MIGRATE_VMA_SELECT_COMPOUND,
  MIGRATE_VMA_SELECT_SYSTEM,
  type MigrateVma,
  migratePfn,
  migrateVmaFinalize,
  migrateVmaSetup,
} from '../../src/mm/migrate_device.js';
import { MAP_FIXED } from '../../src/mm/mmap.js';
import { mmuIntervalReadBegin } from '../../src/mm/mmu_interval_notifier.js';
import { HPAGE_PMD_NR } from '../../src/mm/page.js';
import { pteHiOf, SWP_DEVICE_WRITE, SWP_MIGRATION_WRITE, swpEntryLo } from '../../src/mm/pte.js';
import type { Task } from '../../src/sched/index.js';
import { Simulator } from '../../src/sim/simulator.js';
import { ANON, mmapAt, RW } from './helpers.js';

/** A 2 MiB-aligned address. */
const BASE = 0x4000_0000;

/** A machine with one private test_hmm device, a written THP at BASE (ptr[i] = i), and the mirror. */
function thpMachine() {
  const sim = new Simulator({
    ramPages: 4096,
    kernel: 'v6.19',
    devices: [{ kind: 'private', memoryPages: 2048 }],
  });
  const p = sim.createProcess();
  const fd = sim.openDevice(0, p, { api: 'modern' });
  mmapAt(p, BASE, PMD_SIZE, RW, ANON | MAP_FIXED);
  p.madvise(BASE, PMD_SIZE, MADV_HUGEPAGE);
  const data = new Uint8Array(PMD_SIZE);
  const v = new DataView(data.buffer);
  for (let i = 0; i < PMD_SIZE / 4; i++) v.setInt32(i * 4, i, true);
  p.write(BASE, data);
  return { sim, p, fd, dmirror: fd.driver as TestHmmDmirror, data, head: p.pte(BASE).pfn };
}

type M = ReturnType<typeof thpMachine>;

/** Byte equality of two large buffers (toEqual walks 2 MiB element by element). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** The PMD word at BASE as [lo, hi]. */
function pmdWord(m: M): [number, number] {
  const { pt } = m.sim.kernel;
  const slot = pt.pmdSlot(m.p.mm.pgd, BASE);
  return [pt.lo[slot] as number, pt.hi[slot] as number];
}

/** The PTE word at addr as [lo, hi]. */
function pteWord(m: M, addr: number): [number, number] {
  const { pt } = m.sim.kernel;
  const slot = pt.pteSlot(m.p.mm.pgd, addr);
  return [pt.lo[slot] as number, pt.hi[slot] as number];
}

/** The device folio mapped at BASE after a MIGRATE_TO_DEV of the THP. */
function migrated(m: M): number {
  expect(m.fd.migrate(BASE, HPAGE_PMD_NR).cpages).toBe(HPAGE_PMD_NR);
  const [lo, hi] = pmdWord(m);
  const head = (lo >>> 12) + (hi & 0x7ff) * 2 ** 20;
  expect([lo, hi]).toEqual([swpEntryLo(SWP_DEVICE_WRITE, head), pteHiOf(head)]);
  return head;
}

describe('migrate_vma_setup with SELECT_COMPOUND on a PMD-mapped THP (v6.19)', () => {
  it('collects one MIGRATE | COMPOUND | WRITE entry for the 512 pages and leaves a PMD migration entry', () => {
    const m = thpMachine();
    const args: MigrateVma = {
      vma: m.p.mm.vmaAt(BASE),
      src: new Float64Array(HPAGE_PMD_NR),
      dst: new Float64Array(HPAGE_PMD_NR),
      start: BASE,
      end: BASE + PMD_SIZE,
      pgmapOwner: m.dmirror.mdevice,
      flags: MIGRATE_VMA_SELECT_SYSTEM | MIGRATE_VMA_SELECT_COMPOUND,
      cpages: 0,
      npages: 0,
    };
    m.sim.run(
      'setup',
      (function* (): Task {
        yield* m.p.mm.mmapSem.downRead();
        expect(yield* migrateVmaSetup(args)).toBe(0);
        m.p.mm.mmapSem.upRead();
      })(),
    );
    const src = args.src as Float64Array;
    expect(args.npages).toBe(HPAGE_PMD_NR);
    expect(args.cpages).toBe(1);
    expect(src[0]).toBe(migratePfn(m.head) + MIGRATE_PFN_MIGRATE + MIGRATE_PFN_WRITE + MIGRATE_PFN_COMPOUND);
    expect(src[0] as number).toBe(
      m.head * 64 + MIGRATE_PFN_VALID + MIGRATE_PFN_MIGRATE + MIGRATE_PFN_WRITE + MIGRATE_PFN_COMPOUND,
    );
    expect([...src.subarray(1)].every((e) => e === 0)).toBe(true);
    expect(pmdWord(m)).toEqual([swpEntryLo(SWP_MIGRATION_WRITE, m.head), pteHiOf(m.head)]);
    // set_pmd_migration_entry dropped the entire mapping and its reference; collect holds one, locked.
    expect(m.sim.page(m.head)).toMatchObject({ refcount: 1, entireMapcount: 0 });
    expect(m.sim.page(m.head).flags).toContain('locked');
    expect(m.p.rss().anon).toBe(HPAGE_PMD_NR);
    migrateVmaFinalize(args); // nothing moved: the THP is mapped again
    expect(pmdWord(m)[0] & 0x80).toBe(0x80);
    expect(m.sim.page(m.head)).toMatchObject({ refcount: 1, entireMapcount: 1 });
    expect(same(m.p.read(BASE, PMD_SIZE), m.data)).toBe(true);
    expect(checkAccounting(m.sim.kernel)).toEqual([]);
  });
});

describe('test_hmm MIGRATE_TO_DEV of a THP', () => {
  it('maps an order-9 device folio with a device-private PMD: one mapping, one reference, 512 rss', () => {
    const m = thpMachine();
    const freeBefore = m.sim.kernel.mem.freePages;
    const dhead = migrated(m);
    expect(dhead % HPAGE_PMD_NR).toBe(0);
    expect(m.sim.page(dhead)).toMatchObject({ refcount: 1, entireMapcount: 1, mapcount: 0 });
    expect(m.sim.page(dhead).flags).toContain('head');
    expect(m.p.rss().anon).toBe(HPAGE_PMD_NR);
    // The system THP went back whole.
    expect(m.sim.kernel.mem.freePages).toBe(freeBefore + HPAGE_PMD_NR);
    expect(m.dmirror.mdevice.calloc).toBe(HPAGE_PMD_NR);
    expect(checkAccounting(m.sim.kernel)).toEqual([]);
    // SNAPSHOT: hmm_range_fault reports the device-private PMD with map order 9.
    const want = HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE | HMM_DMIRROR_PROT_PMD;
    const snap = m.fd.snapshot(BASE, HPAGE_PMD_NR).prot;
    expect(snap.length).toBe(HPAGE_PMD_NR);
    expect(snap.every((b) => b === want)).toBe(true);
    // The CPU's entry of each page: the device-private PMD, narrowed to the page (p.pte, and the
    // coherence checker and terminal-state hash through PageTablePool.pageEntry).
    expect(m.p.pte(BASE + 5 * PAGE_SIZE)).toMatchObject({
      kind: 'device-private',
      pfn: dhead + 5,
      order: 9,
      write: true,
    });
    expect(coherenceViolations(m.sim.kernel, [m.dmirror])).toEqual([]);
  });

  it('a partial munmap splits the device-private PMD: 511 device-private PTEs of the still-large folio', () => {
    const m = thpMachine();
    const dhead = migrated(m);
    m.p.munmap(BASE, PAGE_SIZE);
    expect(pteWord(m, BASE + PAGE_SIZE)).toEqual([
      swpEntryLo(SWP_DEVICE_WRITE, dhead + 1),
      pteHiOf(dhead + 1),
    ]);
    expect(pteWord(m, BASE + PMD_SIZE - PAGE_SIZE)).toEqual([
      swpEntryLo(SWP_DEVICE_WRITE, dhead + 511),
      pteHiOf(dhead + 511),
    ]);
    expect(m.sim.page(dhead)).toMatchObject({ refcount: 511, entireMapcount: 0, mapcount: 0 });
    expect(m.sim.page(dhead + 1)).toMatchObject({ mapcount: 1 });
    expect(m.p.rss().anon).toBe(511);
    expect(checkAccounting(m.sim.kernel)).toEqual([]);
    // A CPU read of one page splits the device folio and brings that page back alone.
    expect(m.p.read(BASE + 5 * PAGE_SIZE, 4)).toEqual(m.data.subarray(5 * PAGE_SIZE, 5 * PAGE_SIZE + 4));
    expect(m.sim.page(dhead).flags).not.toContain('head');
    expect(m.p.pte(BASE + 5 * PAGE_SIZE).kind).toBe('present');
    expect(same(m.p.read(BASE + PAGE_SIZE, PMD_SIZE - PAGE_SIZE), m.data.subarray(PAGE_SIZE))).toBe(true);
    expect(checkAccounting(m.sim.kernel)).toEqual([]);
  });

  it('HMM_DMIRROR_FLAG_FAIL_ALLOC: the folio allocation fails, 512 order-0 device pages take the THP', () => {
    const m = thpMachine();
    m.fd.setFlags(HMM_DMIRROR_FLAG_FAIL_ALLOC);
    expect(m.fd.migrate(BASE, HPAGE_PMD_NR).cpages).toBe(HPAGE_PMD_NR);
    const pfns = Array.from({ length: HPAGE_PMD_NR }, (_, i) => m.p.pte(BASE + i * PAGE_SIZE).pfn);
    for (const pfn of pfns) {
      expect(m.sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1, entireMapcount: 0 });
      expect(m.sim.page(pfn).flags).not.toContain('head');
    }
    expect(new Set(pfns).size).toBe(HPAGE_PMD_NR);
    expect(m.p.pte(BASE).kind).toBe('device-private');
    expect(m.dmirror.mdevice.calloc).toBe(HPAGE_PMD_NR);
    expect(checkAccounting(m.sim.kernel)).toEqual([]);
    expect(same(m.p.read(BASE, PMD_SIZE), m.data)).toBe(true);
  });
});

describe('hmm_range_fault on a device-private PMD of the caller', () => {
  it('reports every page VALID | WRITE with map order 9 and the subpage pfn', () => {
    const m = thpMachine();
    const dhead = migrated(m);
    const range: HmmRange = {
      notifier: m.dmirror.notifier,
      notifierSeq: m.sim.run('read_begin', mmuIntervalReadBegin(m.dmirror.notifier)),
      start: BASE,
      end: BASE + PMD_SIZE,
      hmmPfns: new Float64Array(HPAGE_PMD_NR),
      defaultFlags: HMM_PFN_REQ_FAULT,
      pfnFlagsMask: 0,
      devPrivateOwner: m.dmirror.mdevice,
    };
    const ret = m.sim.run(
      'hmm_range_fault',
      (function* (): Task<number> {
        yield* m.p.mm.mmapSem.downRead();
        const r = yield* hmmRangeFault(range);
        m.p.mm.mmapSem.upRead();
        return r;
      })(),
    );
    expect(ret).toBe(0);
    for (const i of [0, 1, 511]) {
      const e = range.hmmPfns[i] as number;
      expect(hmmPfnToMapOrder(e)).toBe(9);
      expect(hmmPfnToPage(e)).toBe(dhead + i);
      expect(e >= HMM_PFN_VALID).toBe(true);
    }
    expect(range.hmmPfns[7]).toBe(HMM_PFN_VALID + HMM_PFN_WRITE + 9 * 2 ** HMM_PFN_ORDER_SHIFT + dhead + 7);
    // Nothing faulted: the folio stays on the device.
    expect(m.sim.kernel.counters.get('device_private_fault') ?? 0).toBe(0);
  });
});

describe('a CPU fault on a device-private PMD (migrate_to_ram of order 9)', () => {
  it('a write to a PTE of a device THP that a fork child maps by its PMD splits the folio, the PMD too', () => {
    const m = thpMachine();
    const dhead = migrated(m);
    const child = m.p.fork();
    m.p.munmap(BASE + PMD_SIZE / 2, PMD_SIZE / 2); // the parent's PMD becomes 256 PTEs
    expect([m.p.pte(BASE).order, child.pte(BASE).order]).toEqual([0, 9]);
    // migrate_vma_split_folio -> split_folio: unmap_folio splits every PMD mapping, the child's too
    m.p.write(BASE + 2 * PAGE_SIZE, new Uint8Array(4).fill(0xee));
    expect(m.p.pte(BASE + 2 * PAGE_SIZE)).toMatchObject({ kind: 'present', order: 0, write: true });
    expect(child.pte(BASE + PAGE_SIZE)).toMatchObject({ kind: 'device-private', pfn: dhead + 1, order: 0 });
    expect(m.sim.page(dhead + 1).flags).not.toContain('tail');
    expect(checkAccounting(m.sim.kernel)).toEqual([]);
    expect(child.read(BASE + PAGE_SIZE, 4)).toEqual(m.data.subarray(PAGE_SIZE, PAGE_SIZE + 4));
    expect(checkAccounting(m.sim.kernel)).toEqual([]);
  });

  it("a fork child's fault migrates a device THP the parent maps by PTEs: try_to_migrate takes those too", () => {
    const m = thpMachine();
    migrated(m);
    const child = m.p.fork();
    m.p.munmap(BASE + PMD_SIZE / 2, PMD_SIZE / 2); // the parent's PMD becomes 256 PTEs
    expect(child.read(BASE + PAGE_SIZE, 4)).toEqual(m.data.subarray(PAGE_SIZE, PAGE_SIZE + 4));
    const head = child.pte(BASE).pfn;
    expect(child.pte(BASE)).toMatchObject({ kind: 'present', order: 9 });
    // the parent's 256 PTEs map the new system folio's subpages; the unmapped half stays none
    expect(m.p.pte(BASE + 7 * PAGE_SIZE)).toMatchObject({ kind: 'present', pfn: head + 7, order: 0 });
    expect(m.p.pte(BASE + 300 * PAGE_SIZE).kind).toBe('none');
    expect(m.sim.page(head + 7)).toMatchObject({ mapcount: 1, entireMapcount: 1 });
    expect(checkAccounting(m.sim.kernel)).toEqual([]);
    expect(m.p.read(BASE + 7 * PAGE_SIZE, 4)).toEqual(m.data.subarray(7 * PAGE_SIZE, 7 * PAGE_SIZE + 4));
  });

  it("a fork child's fault brings the THP back into the parent's anon_vma, where rmap finds it from both", () => {
    const m = thpMachine();
    migrated(m);
    const child = m.p.fork();
    expect([m.p.pte(BASE).kind, child.pte(BASE).kind]).toEqual(['device-private', 'device-private']);
    expect(child.read(BASE + PAGE_SIZE, 4)).toEqual(m.data.subarray(PAGE_SIZE, PAGE_SIZE + 4));
    // try_to_migrate unmapped the parent's PMD too: both map the new system THP, read-only (COW)
    const head = child.pte(BASE).pfn;
    expect(m.p.pte(BASE)).toMatchObject({ kind: 'present', pfn: head, order: 9, write: false });
    expect(m.sim.page(head)).toMatchObject({ entireMapcount: 2 });
    // remove_migration_pmd keeps the folio's ->mapping (the parent's anon_vma, which the child's
    // chain links); taking the child's own anon_vma left the parent's mapping unreachable by rmap
    expect(checkAccounting(m.sim.kernel)).toEqual([]);
    m.p.write(BASE + 2 * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(0xee));
    expect(checkAccounting(m.sim.kernel)).toEqual([]);
  });

  it('brings the 512 pages back as one THP mapped by a huge PMD', () => {
    const m = thpMachine();
    const dhead = migrated(m);
    const freedBefore = m.dmirror.mdevice.cfree;
    expect(m.p.read(BASE + 3 * PAGE_SIZE, 4)).toEqual(m.data.subarray(3 * PAGE_SIZE, 3 * PAGE_SIZE + 4));
    const [lo] = pmdWord(m);
    expect(lo & 0x81).toBe(0x81); // present, PSE
    const head = m.p.pte(BASE).pfn;
    expect(m.p.pte(BASE)).toMatchObject({ kind: 'present', order: 9 });
    expect(m.sim.page(head)).toMatchObject({ refcount: 1, entireMapcount: 1 });
    expect(m.sim.page(dhead)).toMatchObject({ refcount: 0 });
    expect(m.dmirror.mdevice.cfree).toBe(freedBefore + HPAGE_PMD_NR);
    expect(m.sim.kernel.counters.get('device_private_fault')).toBe(1);
    expect(same(m.p.read(BASE, PMD_SIZE), m.data)).toBe(true);
    expect(checkAccounting(m.sim.kernel)).toEqual([]);
  });
});
