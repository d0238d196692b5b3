import { describe, expect, it } from 'vitest';
import { KernelBug, KernelWarning } from '../../src/core/assert.js';
import { EINVAL, HmmError } from '../../src/core/errno.js';
import { hmmDevmemAdd } from '../../src/hmm/seed/devmem.js';
import type { MemremapPagemap } from '../../src/mm/memremap.js';
import {
  memremapPages,
  memunmapPages,
  pageZoneDeviceData,
  requestFreeMemRegion,
  setPageZoneDeviceData,
  zoneDevicePageInit,
} from '../../src/mm/memremap.js';
import {
  MEMORY_DEVICE_COHERENT,
  MEMORY_DEVICE_PRIVATE,
  MEMORY_DEVICE_PUBLIC,
  ZONE_DEVICE,
} from '../../src/mm/page.js';
import type { Task } from '../../src/sched/index.js';
import { schedule } from '../../src/sched/index.js';
import { ModernDevice, movedToDevice } from '../migrate/modern_device.js';
import { fill, PG, roundRobin, setup, thrown } from './helpers.js';

const V619 = { kernel: 'v6.19' as const };

function pgmapFor(
  sim: ReturnType<typeof setup>['sim'],
  type: number,
  ops: MemremapPagemap['ops'],
  owner: unknown,
): MemremapPagemap {
  const r = requestFreeMemRegion(sim.kernel, 4 * PG);
  if (typeof r === 'number') throw new Error(String(r));
  return { type, owner, ops, range: r, pfnFirst: 0, pfnLast: 0 };
}

describe('mm/memremap: memremap_pages', () => {
  it('hot-plugs a reserved section-aligned range; every page starts free at refcount 0', () => {
    const { sim } = setup(V619);
    const dev = new ModernDevice(sim.kernel, 'private', 8);
    const s = sim.kernel.mem.store;
    expect(dev.first % s.sectionPages).toBe(0);
    expect(dev.first).toBeGreaterThan(sim.kernel.mem.ramPages);
    expect(dev.pgmap.pfnFirst).toBe(dev.first);
    expect(dev.pgmap.pfnLast).toBe(dev.first + 8);
    for (let pfn = dev.first; pfn < dev.first + 8; pfn++) {
      expect(s.zone[pfn]).toBe(ZONE_DEVICE);
      expect(s.refcount[pfn]).toBe(0);
      expect(s.pgmapOf(pfn)).toBe(dev.pgmap);
    }
    // A second region never overlaps the first.
    const dev2 = new ModernDevice(sim.kernel, 'coherent', 8);
    expect(dev2.first).toBeGreaterThanOrEqual(dev.first + s.sectionPages);
    expect(s.isDeviceCoherent(dev2.first)).toBe(true);
    expect(s.isDevicePrivate(dev2.first)).toBe(false);
  });

  it("the seed's hmm_devmem keeps v5.3's rule: its free pages idle at refcount 1", () => {
    const { sim } = setup(V619);
    const devmem = hmmDevmemAdd(sim.kernel, { free() {}, fault: () => 0 }, null, PG);
    if (typeof devmem === 'number') throw new Error(String(devmem));
    expect(sim.kernel.mem.store.refcount[devmem.pfnFirst]).toBe(1);
  });

  it('WARNs (KernelWarning) for a private pgmap without migrate_to_ram, folio_free or owner, and a coherent one without folio_free or owner', () => {
    const { sim } = setup(V619);
    const folioFree = () => {};
    const migrateToRam = () => 0;
    const cases: [number, MemremapPagemap['ops'], unknown, string][] = [
      [MEMORY_DEVICE_PRIVATE, { folioFree }, 'me', 'Missing migrate_to_ram method'],
      [MEMORY_DEVICE_PRIVATE, undefined, 'me', 'Missing migrate_to_ram method'],
      [MEMORY_DEVICE_PRIVATE, { folioFree, migrateToRam }, undefined, 'Missing owner'],
      [MEMORY_DEVICE_COHERENT, undefined, 'me', 'Missing folio_free method'],
      [MEMORY_DEVICE_COHERENT, { folioFree }, null, 'Missing owner'],
      [MEMORY_DEVICE_PUBLIC, { folioFree }, 'me', 'Invalid pgmap type 2'],
    ];
    for (const [type, ops, owner, text] of cases) {
      const e = thrown(KernelWarning, () => memremapPages(sim.kernel, pgmapFor(sim, type, ops, owner)));
      expect(e.message).toContain(text);
    }
    // A coherent pgmap needs no migrate_to_ram.
    expect(
      memremapPages(sim.kernel, pgmapFor(sim, MEMORY_DEVICE_COHERENT, { folioFree }, 'me')),
    ).toBeGreaterThan(0);
  });

  it('-EINVAL for a range not reserved, not page-aligned, or already hot-plugged', () => {
    const { sim } = setup(V619);
    const ops = { folioFree() {}, migrateToRam: () => 0 };
    const p = pgmapFor(sim, MEMORY_DEVICE_PRIVATE, ops, 'me');
    const beyond = { ...p, range: { start: p.range.end + 1, end: p.range.end + PG } };
    expect(memremapPages(sim.kernel, beyond)).toBe(-EINVAL);
    expect(memremapPages(sim.kernel, { ...p, range: { start: p.range.start + 1, end: p.range.end } })).toBe(
      -EINVAL,
    );
    expect(memremapPages(sim.kernel, { ...p, range: { start: PG, end: 2 * PG - 1 } })).toBe(-EINVAL);
    expect(memremapPages(sim.kernel, p)).toBe(p.range.start / PG);
    expect(memremapPages(sim.kernel, { ...p, pfnFirst: 0, pfnLast: 0 })).toBe(-EINVAL);
    expect(requestFreeMemRegion(sim.kernel, 0)).toBe(-EINVAL);
  });
});

describe('mm/memremap: refcounts of a device page', () => {
  it('zone_device_page_init gives 1 and the lock; the last put calls folio_free exactly once, at 0', () => {
    const { sim } = setup(V619);
    const dev = new ModernDevice(sim.kernel, 'private', 4);
    const mem = sim.kernel.mem;
    const pfn = dev.alloc();
    expect(sim.page(pfn)).toMatchObject({ refcount: 1, flags: expect.arrayContaining(['locked']) });
    mem.unlockPage(pfn);
    mem.getPage(pfn);
    mem.putPage(pfn);
    expect(dev.freed).toEqual([]);
    expect(mem.store.refcount[pfn]).toBe(1);
    mem.putPage(pfn);
    expect(dev.freed).toEqual([pfn]);
    expect(mem.store.refcount[pfn]).toBe(0);
    thrown(KernelBug, () => mem.putPage(pfn));
    thrown(KernelBug, () => mem.getPage(pfn));
    expect(dev.freed).toEqual([pfn]);
  });

  it('zone_device_page_init on a page in use is a KernelWarning', () => {
    const { sim } = setup(V619);
    const dev = new ModernDevice(sim.kernel, 'private', 4);
    const pfn = dev.alloc();
    thrown(KernelWarning, () => zoneDevicePageInit(sim.kernel, pfn));
  });

  it('zone_device_data is per page; a pfn outside ZONE_DEVICE is a KernelBug', () => {
    const { sim } = setup(V619);
    const dev = new ModernDevice(sim.kernel, 'private', 4);
    setPageZoneDeviceData(sim.kernel, dev.first + 1, 'rpage');
    expect(pageZoneDeviceData(sim.kernel, dev.first + 1)).toBe('rpage');
    expect(pageZoneDeviceData(sim.kernel, dev.first)).toBeUndefined();
    thrown(KernelBug, () => setPageZoneDeviceData(sim.kernel, 5, 'x'));
  });

  it('memunmap_pages sleeps until the last page in use is freed; no page may be handed out meanwhile', () => {
    const { sim } = setup(V619);
    const dev = new ModernDevice(sim.kernel, 'private', 4);
    const mem = sim.kernel.mem;
    const pfn = dev.alloc();
    mem.unlockPage(pfn);
    const order: string[] = [];
    const ex = sim.executor(roundRobin);
    ex.spawn(
      'memunmap',
      (function* (): Task {
        yield* memunmapPages(sim.kernel, dev.pgmap);
        order.push('unmapped');
      })(),
    );
    ex.spawn(
      'holder',
      (function* (): Task {
        yield* schedule('holding');
        thrown(KernelWarning, () => zoneDevicePageInit(sim.kernel, dev.first + 1));
        order.push('put');
        mem.putPage(pfn);
      })(),
    );
    const res = ex.run();
    expect(res.status, res.failure?.message).toBe('done');
    expect(order).toEqual(['put', 'unmapped']);
    expect(dev.freed).toEqual([pfn]);
    expect(mem.store.isZoneDevice(pfn)).toBe(false);
    expect(mem.store.pgmapOf(pfn)).toBeUndefined();
    expect(sim.stats().counters.memunmap_pages).toBe(1);
  });
});

/** A process with `n` pages (0x10, 0x11, ...) moved to a coherent device. */
function onCoherent(n = 2) {
  const r = movedToDevice('coherent', n, 0x10);
  for (let i = 1; i < n; i++) r.p.write(r.a + i * PG, fill(PG, 0x10 + i));
  return r;
}

describe('mm: device-coherent pages in the core', () => {
  it('are mapped by present PTEs like anonymous pages: rss, mapcount, refcount, the CPU reads and writes them', () => {
    const { sim, p, dev, a, old, args } = onCoherent();
    expect(args.cpages).toBe(2);
    const d = p.pte(a).pfn;
    expect(d).toBe(dev.first);
    expect(p.pte(a + PG).pfn).toBe(dev.first + 1);
    // The dirty bit went to the page at collect and moves with it (the model's migration entries
    // carry no dirty bit, so the new PTE is clean).
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true, dirty: false });
    expect(sim.page(d)).toMatchObject({ refcount: 1, mapcount: 1, zone: 'device' });
    expect(sim.page(d).flags).toEqual(expect.arrayContaining(['anon', 'dirty']));
    expect(sim.page(d).flags).not.toContain('locked');
    expect(p.rss().anon).toBe(2);
    expect(sim.page(old).refcount).toBe(0);
    expect(p.read(a + PG, 2)).toEqual(Uint8Array.of(0x11, 0x11));
    p.write(a, Uint8Array.of(7));
    expect(p.pte(a).pfn).toBe(d);
    expect(p.read(a, 2)).toEqual(Uint8Array.of(7, 0x10));
    expect(dev.faults).toEqual([]);
  });

  it('fork shares them copy-on-write; a write in the child copies into system memory', () => {
    const { sim, p, a } = onCoherent(1);
    const d = p.pte(a).pfn;
    const child = p.fork();
    expect(child.pte(a)).toMatchObject({ kind: 'present', pfn: d, write: false });
    expect(p.pte(a).write).toBe(false);
    expect(sim.page(d)).toMatchObject({ refcount: 2, mapcount: 2 });
    child.write(a, Uint8Array.of(9));
    const copy = child.pte(a).pfn;
    expect(copy).not.toBe(d);
    expect(sim.page(copy).zone).toBe('normal');
    expect(sim.page(d)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(child.read(a, 2)).toEqual(Uint8Array.of(9, 0x10));
    expect(p.read(a, 2)).toEqual(Uint8Array.of(0x10, 0x10));
    expect(child.rss().anon).toBe(1);
  });

  it('zap (munmap) drops the mapping, the rss and the last reference: folio_free once', () => {
    const { sim, p, dev, a } = onCoherent(2);
    const d0 = p.pte(a).pfn;
    const d1 = p.pte(a + PG).pfn;
    p.munmap(a, 2 * PG);
    expect(p.rss().anon).toBe(0);
    expect(dev.freed.sort()).toEqual([d0, d1].sort());
    expect(sim.page(d0)).toMatchObject({ refcount: 0, mapcount: 0 });
  });

  it('a long-term pin migrates the page to system memory first; data and mapping follow', () => {
    const { sim, p, dev, a } = onCoherent(2);
    const d = p.pte(a).pfn;
    const pin = p.pin(a, 1, { longterm: true, write: true });
    expect(pin.pages).toBe(1);
    const ram = pin.pfns[0] as number;
    expect(sim.page(ram).zone).toBe('normal');
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: ram, write: true });
    expect(sim.page(ram).refcount).toBe(1 + 1024);
    expect(dev.freed).toEqual([d]);
    expect(sim.page(d).refcount).toBe(0);
    expect(p.read(a, 2)).toEqual(Uint8Array.of(0x10, 0x10));
    expect(sim.stats().counters.gup_longterm_migrate_coherent).toBe(1);
    // The other page stays on the device.
    expect(sim.page(p.pte(a + PG).pfn).zone).toBe('device');
    pin.unpin();
    expect(sim.page(ram).refcount).toBe(1);
  });

  it('a long-term pin of a coherent page another pin holds is -EBUSY: the page cannot move, and every pin it took is dropped', () => {
    const { sim, p, dev, a } = onCoherent(1);
    const d = p.pte(a).pfn;
    const plain = p.pin(a, 1, { write: true });
    const e = thrown(HmmError, () => p.pin(a, 1, { longterm: true, write: true }));
    expect(e.code).toBe('EBUSY');
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: d, write: true });
    expect(sim.page(d)).toMatchObject({ refcount: 1 + 1024, mapcount: 1 });
    expect(sim.page(d).flags).not.toContain('locked');
    expect(dev.freed).toEqual([]);
    plain.unpin();
    expect(sim.page(d).refcount).toBe(1);
  });

  it('a plain pin leaves it where it is', () => {
    const { sim, p, dev, a } = onCoherent(1);
    const d = p.pte(a).pfn;
    const pin = p.pin(a, 1, { write: true });
    expect(pin.pfns).toEqual([d]);
    expect(sim.page(d).refcount).toBe(1 + 1024);
    expect(dev.freed).toEqual([]);
    pin.unpin();
    expect(sim.page(d).refcount).toBe(1);
  });
});

describe('mm: the CPU fault on a device-private entry (do_swap_page, v6.19)', () => {
  it('locks and references the page, calls migrate_to_ram, and the page goes back to its driver', () => {
    const { sim, p, dev, a } = movedToDevice('private', 1, 0x5a);
    const d = p.pte(a).pfn;
    expect(p.pte(a)).toMatchObject({ kind: 'device-private', write: true });
    expect(sim.page(d)).toMatchObject({ refcount: 1, mapcount: 1 });
    let seen: { refcount: number; locked: boolean } | null = null;
    dev.onFault = () => {
      seen = {
        refcount: sim.kernel.mem.store.refcount[d] as number,
        locked: sim.kernel.mem.store.isLocked(d),
      };
    };
    expect(p.read(a, 2)).toEqual(Uint8Array.of(0x5a, 0x5a));
    // Inside migrate_to_ram, after setup unmapped it: the core's reference and collect's.
    expect(seen).toEqual({ refcount: 2, locked: true });
    expect(dev.faults).toEqual([d]);
    expect(dev.freed).toEqual([d]);
    expect(sim.page(d)).toMatchObject({ refcount: 0, mapcount: 0 });
    expect(sim.page(d).flags).not.toContain('locked');
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true });
    expect(sim.page(p.pte(a).pfn)).toMatchObject({ refcount: 1, mapcount: 1, zone: 'normal' });
    expect(p.rss().anon).toBe(1);
  });
});
