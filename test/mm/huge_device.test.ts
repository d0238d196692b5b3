/**
 * Non-present PMD entries (v6.19): a PMD migration entry and a device-private PMD entry, made by
 * hand on a real THP's folio (the core makes neither yet), through zap, fork and mprotect.
 * The migration entry is left as set_pmd_migration_entry leaves it: no entire mapping, and the
 * folio's one reference is the migration's. The device-private entry still maps the folio.
 */

import { describe, expect, it } from 'vitest';
import { checkAccounting } from '../../src/check/accounting.js';
import { PMD_SIZE } from '../../src/core/addr.js';
import { handleMmFault } from '../../src/mm/fault.js';
import { MADV_HUGEPAGE } from '../../src/mm/madvise.js';
import { MAP_FIXED, PROT_READ } from '../../src/mm/mmap.js';
import { MEMORY_DEVICE_PRIVATE } from '../../src/mm/page.js';
import {
  pteHiOf,
  SWP_DEVICE_READ,
  SWP_DEVICE_WRITE,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_WRITE,
  swpEntryLo,
} from '../../src/mm/pte.js';
import { folioRemoveRmapPmd } from '../../src/mm/rmap.js';
import type { Process } from '../../src/sim/process.js';
import { Simulator } from '../../src/sim/simulator.js';
import { ANON, mmapAt, PG, RW } from './helpers.js';

const HPAGE = PMD_SIZE;
/** A 2 MiB-aligned address. */
const BASE = 0x4000_0000;

interface Thp {
  sim: Simulator;
  p: Process;
  head: number;
}

/** A written THP at BASE whose PMD is then replaced by `type`'s entry for its head. */
function swapPmdThp(type: number): Thp {
  const sim = new Simulator({ ramPages: 4096, devices: [] });
  const p = sim.createProcess();
  mmapAt(p, BASE, HPAGE, RW, ANON | MAP_FIXED);
  p.madvise(BASE, HPAGE, MADV_HUGEPAGE);
  p.write(BASE, Uint8Array.of(1));
  const head = p.pte(BASE).pfn;
  const { pt } = sim.kernel;
  if (type === SWP_MIGRATION_READ || type === SWP_MIGRATION_WRITE) folioRemoveRmapPmd(p.mm, head);
  pt.set(pt.pmdSlot(p.mm.pgd, BASE), swpEntryLo(type, head), pteHiOf(head));
  return { sim, p, head };
}

/** The PMD word at BASE as [lo, hi]. */
function pmdWord(t: Thp, p = t.p): [number, number] {
  const { pt } = t.sim.kernel;
  const slot = pt.pmdSlot(p.mm.pgd, BASE);
  return [pt.lo[slot] as number, pt.hi[slot] as number];
}

const word = (type: number, head: number): [number, number] => [swpEntryLo(type, head), pteHiOf(head)];

describe('zap_huge_pmd on a non-present PMD (v6.19)', () => {
  it('a migration PMD goes with its 512 rss; the folio keeps the migration reference', () => {
    const t = swapPmdThp(SWP_MIGRATION_WRITE);
    expect(t.p.rss().anon).toBe(512);
    t.p.munmap(BASE, HPAGE);
    expect(t.p.rss().anon).toBe(0);
    expect(t.sim.page(t.head)).toMatchObject({ refcount: 1, entireMapcount: 0 });
  });

  it('a device-private PMD drops its entire mapping and reference: the folio is freed', () => {
    const t = swapPmdThp(SWP_DEVICE_WRITE);
    expect(t.sim.page(t.head)).toMatchObject({ refcount: 1, entireMapcount: 1 });
    t.p.munmap(BASE, HPAGE);
    expect(t.p.rss().anon).toBe(0);
    expect(t.sim.page(t.head)).toMatchObject({ refcount: 0, entireMapcount: 0 });
  });
});

describe('copy_huge_pmd on a non-present PMD (v6.19)', () => {
  // [write type, read type, folio refcount and entire mapcount after fork]
  const cases = [
    [SWP_MIGRATION_WRITE, SWP_MIGRATION_READ, 1, 0],
    [SWP_DEVICE_WRITE, SWP_DEVICE_READ, 2, 2],
  ] as const;
  it('a write entry turns read in parent and child; the child gets 512 rss; device-private adds a mapping', () => {
    for (const [type, read, refcount, entireMapcount] of cases) {
      const t = swapPmdThp(type);
      const c = t.p.fork();
      expect(pmdWord(t)).toEqual(word(read, t.head));
      expect(pmdWord(t, c)).toEqual(word(read, t.head));
      expect([t.p.rss().anon, c.rss().anon]).toEqual([512, 512]);
      expect(t.sim.page(t.head)).toMatchObject({ refcount, entireMapcount });
    }
  });

  it("the child's device-private copy unmaps on its own", () => {
    const t = swapPmdThp(SWP_DEVICE_WRITE);
    const c = t.p.fork();
    c.munmap(BASE, HPAGE);
    expect(t.sim.page(t.head)).toMatchObject({ refcount: 1, entireMapcount: 1 });
    expect([t.p.rss().anon, c.rss().anon]).toEqual([512, 0]);
  });
});

describe('change_huge_pmd on a non-present PMD (v6.19)', () => {
  it('mprotect turns a write migration or device-private PMD read, never back, and leaves counts alone', () => {
    for (const [type, read] of [
      [SWP_MIGRATION_WRITE, SWP_MIGRATION_READ],
      [SWP_DEVICE_WRITE, SWP_DEVICE_READ],
    ] as const) {
      const t = swapPmdThp(type);
      const before = t.sim.page(t.head);
      t.p.mprotect(BASE, HPAGE, PROT_READ);
      expect(pmdWord(t)).toEqual(word(read, t.head));
      t.p.mprotect(BASE, HPAGE, RW); // the entry stays read: write comes back only at fault time
      expect(pmdWord(t)).toEqual(word(read, t.head));
      expect(t.sim.page(t.head)).toEqual(before);
      expect(t.p.rss().anon).toBe(512);
    }
  });

  it('a part of a device-private PMD splits it into 512 device-private PTEs first (__split_huge_pmd_locked)', () => {
    const t = swapPmdThp(SWP_DEVICE_WRITE);
    t.p.mprotect(BASE, PG, PROT_READ);
    const { pt } = t.sim.kernel;
    const pte = (i: number) => {
      const slot = pt.pteSlot(t.p.mm.pgd, BASE + i * PG);
      return [pt.lo[slot], pt.hi[slot]];
    };
    expect(pte(0)).toEqual(word(SWP_DEVICE_READ, t.head));
    expect(pte(1)).toEqual(word(SWP_DEVICE_WRITE, t.head + 1));
    expect(pte(511)).toEqual(word(SWP_DEVICE_WRITE, t.head + 511));
    expect(t.sim.page(t.head)).toMatchObject({ refcount: 512, mapcount: 1, entireMapcount: 0 });
    expect(t.sim.page(t.head + 511)).toMatchObject({ mapcount: 1 });
    expect(t.p.rss().anon).toBe(512);
  });

  it('a partial munmap of a migration PMD leaves 511 migration PTEs and the folio untouched', () => {
    const t = swapPmdThp(SWP_MIGRATION_WRITE);
    t.p.munmap(BASE, PG);
    const { pt } = t.sim.kernel;
    const slot = pt.pteSlot(t.p.mm.pgd, BASE + PG);
    expect([pt.lo[slot], pt.hi[slot]]).toEqual(word(SWP_MIGRATION_WRITE, t.head + 1));
    expect(t.sim.page(t.head)).toMatchObject({ refcount: 1, entireMapcount: 0 });
    expect(t.p.rss().anon).toBe(511);
  });
});

describe('the accounting checker counts non-present PMDs', () => {
  it('a migration PMD: 512 rss and a folio under migration, before and after fork', () => {
    const t = swapPmdThp(SWP_MIGRATION_WRITE);
    expect(checkAccounting(t.sim.kernel)).toEqual([]);
    t.p.fork();
    expect(checkAccounting(t.sim.kernel)).toEqual([]);
  });

  it('a device-private PMD: an entire mapping and 512 rss; a RAM folio behind it is reported', () => {
    const t = swapPmdThp(SWP_DEVICE_WRITE);
    t.p.fork();
    expect(checkAccounting(t.sim.kernel)).toEqual(
      [1, 2].map(
        (id) =>
          `mm ${id} 0x40000000 (PMD device-private-read pfn=${t.head}): pfn ${t.head} is not device private`,
      ),
    );
  });

  it('once a migration PMD is zapped, only the migration holds its folio: unreachable to the checker', () => {
    const t = swapPmdThp(SWP_MIGRATION_WRITE);
    t.p.munmap(BASE, HPAGE);
    expect(checkAccounting(t.sim.kernel)).toEqual([
      `compound pfn ${t.head}: leaked: allocated (refcount 1) but unreachable`,
    ]);
  });
});

describe('a CPU fault on a non-present PMD (v6.19 __handle_mm_fault)', () => {
  /** handle_mm_fault for a read of BASE + 5 pages; its return code. */
  const faultAt = (t: Thp): number => {
    const vma = t.p.mm.vmaAt(BASE);
    if (vma === null) throw new Error('no VMA');
    return t.sim.run('fault', handleMmFault(t.p.mm, vma, BASE + 5 * PG, 0));
  };

  it('a migration PMD waits (pmd_migration_entry_wait) and leaves the entry for the retry', () => {
    const t = swapPmdThp(SWP_MIGRATION_READ);
    expect(faultAt(t)).toBe(0);
    expect(t.sim.kernel.counters.get('migration_entry_wait')).toBe(1);
    expect(pmdWord(t)).toEqual(word(SWP_MIGRATION_READ, t.head));
  });

  it("a device-private PMD calls the pgmap's migrate_to_ram on the head, referenced across the call", () => {
    const t = swapPmdThp(SWP_MIGRATION_READ);
    const seen: number[][] = [];
    const s = t.sim.kernel.mem.store;
    const first = s.addDeviceRegion(1024, {
      type: MEMORY_DEVICE_PRIVATE,
      pfnFirst: 0,
      pfnLast: 0,
      ops: {
        folioFree() {},
        migrateToRam(vmf) {
          seen.push([vmf.pfn, vmf.address, s.refcount[vmf.pfn] as number]);
          return 0x0002; // VM_FAULT_SIGBUS: what a driver returns when it cannot migrate
        },
      },
    });
    const head = first + ((512 - (first % 512)) % 512);
    const { pt } = t.sim.kernel;
    pt.set(pt.pmdSlot(t.p.mm.pgd, BASE), swpEntryLo(SWP_DEVICE_WRITE, head), pteHiOf(head));
    expect(faultAt(t)).toBe(0); // refcount 0: get_page_unless_zero fails, the access retries
    expect(seen).toEqual([]);
    s.refcount[head] = 1; // the mapping's reference, as migration would leave it
    expect(faultAt(t)).toBe(0x0002);
    expect(seen).toEqual([[head, BASE + 5 * PG, 2]]);
    expect(s.refcount[head]).toBe(1);
    expect(t.sim.kernel.counters.get('device_private_fault')).toBe(2);
  });
});
