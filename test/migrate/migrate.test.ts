import { describe, expect, it } from 'vitest';
import { SegvError } from '../../src/core/errno.js';
import { FOLL_WRITE, getUserPages } from '../../src/mm/gup.js';
import {
  MIGRATE_PFN_DEVICE,
  MIGRATE_PFN_LOCKED,
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_VALID,
  MIGRATE_PFN_WRITE,
  migratePfnFlags,
  migratePfnToPage,
} from '../../src/mm/migrate.js';
import { MAP_PRIVATE, MAP_SHARED, PROT_READ } from '../../src/mm/mmap.js';
import { Simulator } from '../../src/sim/simulator.js';
import { TestDriver } from './driver.js';
import { ANON, anonWritten, PAGE_SIZE, page, pattern, RW, SHMEM, setup } from './helpers.js';

describe('migrate_vma: anonymous memory to device memory and back', () => {
  it('moves the bytes exactly, keeps rss and memcg, and frees what it leaves', () => {
    const { sim, drv, p } = setup();
    const mem = sim.kernel.mem;
    const root = mem.memcgs.root;
    const { a, data } = anonWritten(p, 4);
    const rss = p.rss();
    const usage = root.usagePages;
    const free = mem.freePages;
    const ramPfns = [0, 1, 2, 3].map((i) => p.pte(a + i * PAGE_SIZE).pfn);

    const r = sim.run('migrate', drv.toDeviceTask(p, a, 4));
    expect(r.ret).toBe(0);
    for (let i = 0; i < 4; i++) {
      const f = migratePfnFlags(r.src[i]!);
      expect(f).toBe(MIGRATE_PFN_VALID | MIGRATE_PFN_MIGRATE | MIGRATE_PFN_LOCKED | MIGRATE_PFN_WRITE);
      expect(migratePfnToPage(r.src[i]!)).toBe(ramPfns[i]);
      const pte = p.pte(a + i * PAGE_SIZE);
      expect(pte.kind).toBe('device-private');
      expect(pte.write).toBe(true);
      expect(drv.devmem.contains(pte.pfn)).toBe(true);
      expect(drv.deviceData(a + i * PAGE_SIZE)).toEqual(page(data, i));
      const info = sim.page(pte.pfn);
      expect(info).toMatchObject({ refcount: 2, mapcount: 1, memcg: 'root', zone: 'device' });
      expect(info.flags).not.toContain('locked');
    }
    expect(p.rss()).toEqual(rss);
    expect(root.usagePages).toBe(usage);
    expect(mem.freePages).toBe(free + 4);
    for (const pfn of ramPfns) expect(sim.page(pfn).flags).toContain('buddy');

    const back = sim.run('evict', drv.toRamTask(p, a, 4));
    expect(back.ret).toBe(0);
    for (let i = 0; i < 4; i++) {
      const pte = p.pte(a + i * PAGE_SIZE);
      expect(pte.kind).toBe('present');
      expect(pte.write).toBe(true);
      expect(sim.page(pte.pfn)).toMatchObject({ refcount: 1, mapcount: 1, memcg: 'root', zone: 'normal' });
    }
    expect(drv.faults).toBe(0);
    expect(drv.frees).toBe(4);
    expect(drv.allocated).toBe(0);
    expect(p.rss()).toEqual(rss);
    expect(root.usagePages).toBe(usage);
    expect(mem.freePages).toBe(free);
    expect(p.read(a, 4 * PAGE_SIZE)).toEqual(data);
  });

  it('a CPU access to a device page runs the fault callback, which migrates that page back', () => {
    const { sim, drv, p } = setup();
    const { a, data } = anonWritten(p, 3);
    sim.run('migrate', drv.toDeviceTask(p, a, 3));
    expect(p.read(a + PAGE_SIZE + 10, 100)).toEqual(data.subarray(PAGE_SIZE + 10, PAGE_SIZE + 110));
    expect(drv.faults).toBe(1);
    expect(sim.kernel.counters.get('hmm_devmem_fault')).toBe(1);
    expect(p.pte(a + PAGE_SIZE).kind).toBe('present');
    expect(p.pte(a).kind).toBe('device-private');
    expect(p.pte(a + 2 * PAGE_SIZE).kind).toBe('device-private');
    // A write faults the next page back, writable, and lands in system memory.
    p.write(a + 2 * PAGE_SIZE, new Uint8Array([0xee]));
    expect(drv.faults).toBe(2);
    expect(p.pte(a + 2 * PAGE_SIZE)).toMatchObject({ kind: 'present', write: true });
    const expected = data.slice();
    expected[2 * PAGE_SIZE] = 0xee;
    expect(p.read(a, 3 * PAGE_SIZE)).toEqual(expected);
    expect(drv.faults).toBe(3);
    expect(drv.allocated).toBe(0);
  });

  it('holes and the zero page are filled in an anonymous VMA (insert_page), charged like a fault', () => {
    const { sim, drv, p } = setup();
    const root = sim.kernel.mem.memcgs.root;
    const a = p.mmap(3 * PAGE_SIZE, RW, ANON);
    p.read(a, 1); // page 0: the zero page
    const data = pattern(1, 9);
    p.write(a + 2 * PAGE_SIZE, data); // page 2: a real page; page 1 stays a hole
    expect(p.pte(a)).toMatchObject({ kind: 'present', special: true, pfn: 0 });
    expect(p.pte(a + PAGE_SIZE).kind).toBe('none');
    const usage = root.usagePages;

    const r = sim.run('migrate', drv.toDeviceTask(p, a, 3));
    expect(migratePfnFlags(r.src[0]!)).toBe(MIGRATE_PFN_MIGRATE);
    expect(migratePfnFlags(r.src[1]!)).toBe(MIGRATE_PFN_MIGRATE);
    expect(migratePfnFlags(r.src[2]!) & MIGRATE_PFN_MIGRATE).toBeTruthy();
    for (let i = 0; i < 3; i++) {
      expect(p.pte(a + i * PAGE_SIZE)).toMatchObject({ kind: 'device-private', write: true });
    }
    expect(p.rss().anon).toBe(3);
    expect(root.usagePages).toBe(usage + 2);
    const dev = p.pte(a + PAGE_SIZE).pfn;
    expect(sim.page(dev)).toMatchObject({ refcount: 2, mapcount: 1, memcg: 'root' });
    expect(sim.page(dev).flags).toEqual(expect.arrayContaining(['anon', 'swapbacked']));

    const expected = new Uint8Array(3 * PAGE_SIZE);
    expected.set(data, 2 * PAGE_SIZE);
    expect(p.read(a, 3 * PAGE_SIZE)).toEqual(expected);
    expect(drv.faults).toBe(3);
    expect(root.usagePages).toBe(usage + 2);
  });

  it('an insert into a read-only anonymous VMA makes a read-only device entry', () => {
    const { sim, drv, p } = setup();
    const a = p.mmap(PAGE_SIZE, PROT_READ, ANON);
    sim.run('migrate', drv.toDeviceTask(p, a, 1));
    expect(p.pte(a)).toMatchObject({ kind: 'device-private', write: false });
  });

  it('file and shmem pages never move to device-private memory, nor do their holes', () => {
    const { sim, drv, p } = setup();
    const file = sim.createFile(4 * PAGE_SIZE);
    file.pwrite(pattern(2), 0);
    const shared = p.mmap(4 * PAGE_SIZE, RW, MAP_SHARED, file);
    p.read(shared, 1); // page 0 mapped from the page cache; pages 1-3 holes
    const priv = p.mmap(4 * PAGE_SIZE, RW, MAP_PRIVATE, file);
    p.read(priv, 1); // page-cache page mapped read-only
    p.write(priv + PAGE_SIZE, new Uint8Array([7])); // a private COW copy: anonymous
    const shm = p.mmap(2 * PAGE_SIZE, RW, SHMEM);
    p.write(shm, new Uint8Array([5]));
    const free = sim.kernel.mem.freePages;

    const r1 = sim.run('shared', drv.toDeviceTask(p, shared, 4));
    const r2 = sim.run('private', drv.toDeviceTask(p, priv, 4));
    const r3 = sim.run('shmem', drv.toDeviceTask(p, shm, 2));
    for (const r of [r1, r2, r3]) expect(r.ret).toBe(0);
    expect(p.pte(shared).kind).toBe('present');
    for (let i = 1; i < 4; i++) expect(p.pte(shared + i * PAGE_SIZE).kind).toBe('none');
    expect(p.pte(priv).kind).toBe('present');
    expect(p.pte(priv + PAGE_SIZE).kind).toBe('device-private'); // the anonymous COW copy moved
    // A private file mapping is not an anonymous VMA (vma_is_anonymous): its holes are not filled.
    for (let i = 2; i < 4; i++) expect(p.pte(priv + i * PAGE_SIZE).kind).toBe('none');
    expect(p.pte(shm)).toMatchObject({ kind: 'present', write: true });
    expect(p.pte(shm + PAGE_SIZE).kind).toBe('none');
    // Everything the driver allocated for the pages that did not move went back to it.
    expect(drv.allocated).toBe(1);
    expect(drv.frees).toBe(4 + 3 + 2);
    expect(sim.kernel.mem.freePages).toBe(free + 1);
    expect(p.read(shared, 2)).toEqual(pattern(2).subarray(0, 2));
    expect(p.read(shm, 1)).toEqual(new Uint8Array([5]));
    expect(p.read(priv + PAGE_SIZE, 1)).toEqual(new Uint8Array([7]));
  });

  it('skips pages pinned by get_user_pages, and moves them once unpinned', () => {
    const { sim, drv, p } = setup();
    const { a, data } = anonWritten(p, 3);
    const pins: number[] = [];
    sim.run(
      'gup',
      (function* () {
        yield* p.mm.mmapSem.downRead();
        try {
          return yield* getUserPages(p.mm, a + PAGE_SIZE, 1, FOLL_WRITE, pins);
        } finally {
          p.mm.mmapSem.upRead();
        }
      })(),
    );
    const pinned = pins[0]!;
    expect(pinned).toBe(p.pte(a + PAGE_SIZE).pfn);
    const r = sim.run('migrate', drv.toDeviceTask(p, a, 3));
    expect(r.src[1]).toBe(0);
    expect(p.pte(a).kind).toBe('device-private');
    expect(p.pte(a + PAGE_SIZE)).toMatchObject({ kind: 'present', pfn: pinned, write: true });
    expect(p.pte(a + 2 * PAGE_SIZE).kind).toBe('device-private');
    expect(sim.page(pinned)).toMatchObject({ refcount: 2, mapcount: 1 });
    expect(sim.page(pinned).flags).not.toContain('locked');

    sim.kernel.mem.putPage(pinned);
    sim.run('again', drv.toDeviceTask(p, a, 3));
    expect(p.pte(a + PAGE_SIZE).kind).toBe('device-private');
    expect(p.read(a, 3 * PAGE_SIZE)).toEqual(data);
  });

  it('skips a page someone else holds locked (best effort, no waiting)', () => {
    const { sim, drv, p } = setup();
    const { a, data } = anonWritten(p, 2);
    const mem = sim.kernel.mem;
    const locked = p.pte(a).pfn;
    expect(mem.trylockPage(locked)).toBe(true);
    const r = sim.run('migrate', drv.toDeviceTask(p, a, 2));
    expect(r.ret).toBe(0);
    expect(r.src[0]).toBe(0);
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: locked, write: true });
    expect(p.pte(a + PAGE_SIZE).kind).toBe('device-private');
    expect(sim.page(locked)).toMatchObject({ refcount: 1, mapcount: 1 });
    expect(mem.store.isLocked(locked)).toBe(true);
    mem.unlockPage(locked);
    expect(p.read(a, 2 * PAGE_SIZE)).toEqual(data);
  });

  it('returns 0 without calling the callbacks when nothing can be migrated', () => {
    const { sim, drv, p } = setup();
    const { a } = anonWritten(p, 2);
    const mem = sim.kernel.mem;
    const pfns = [p.pte(a).pfn, p.pte(a + PAGE_SIZE).pfn];
    for (const pfn of pfns) mem.trylockPage(pfn);
    const r = sim.run('migrate', drv.toDeviceTask(p, a, 2));
    expect(r.ret).toBe(0);
    expect([...r.src]).toEqual([0, 0]);
    expect(drv.allocAndCopyCalls).toBe(0);
    expect(drv.finalizeCalls).toBe(0);
    for (const pfn of pfns) {
      mem.unlockPage(pfn);
      expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    }
  });

  it('returns 0 when the driver declines everything, and nothing changes', () => {
    const { sim, drv, p } = setup(256, 0);
    const { a, data } = anonWritten(p, 2);
    const pfns = [p.pte(a).pfn, p.pte(a + PAGE_SIZE).pfn];
    const r = sim.run('migrate', drv.toDeviceTask(p, a, 2));
    expect(r.ret).toBe(0);
    expect(drv.allocAndCopyCalls).toBe(1);
    expect(drv.finalizeCalls).toBe(1);
    for (let i = 0; i < 2; i++) {
      expect(migratePfnFlags(r.src[i]!) & MIGRATE_PFN_MIGRATE).toBe(0);
      expect(p.pte(a + i * PAGE_SIZE)).toMatchObject({ kind: 'present', pfn: pfns[i], write: true });
      expect(sim.page(pfns[i]!)).toMatchObject({ refcount: 1, mapcount: 1, flags: ['anon', 'swapbacked'] });
    }
    expect(p.read(a, 2 * PAGE_SIZE)).toEqual(data);
  });

  it('a device page whose migration back finds no RAM stays on the device: the driver reports SIGBUS', () => {
    const sim = new Simulator({ ramPages: 4 });
    const drv = new TestDriver(sim.kernel);
    const p = sim.createProcess();
    const { a, data } = anonWritten(p, 2);
    sim.run('migrate', drv.toDeviceTask(p, a, 2));
    const filler = p.mmap(4 * PAGE_SIZE, RW, ANON);
    p.write(filler, new Uint8Array(4 * PAGE_SIZE).fill(1)); // all RAM in use
    expect(sim.kernel.mem.freePages).toBe(0);
    let err: unknown;
    try {
      p.read(a, 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SegvError);
    expect((err as SegvError).signal).toBe('SIGBUS');
    expect(p.pte(a).kind).toBe('device-private');
    expect(drv.deviceData(a)).toEqual(page(data, 0));
    p.munmap(filler, 4 * PAGE_SIZE);
    expect(p.read(a, 2 * PAGE_SIZE)).toEqual(data);
  });
});

describe('migrate_vma: accounting', () => {
  it('rss and memcg are unchanged both ways, and migrating back cannot fail on the memcg limit', () => {
    const sim = new Simulator({ ramPages: 64 });
    const drv = new TestDriver(sim.kernel);
    const cg = sim.createMemcg('cg', 4);
    const p = sim.createProcess({ memcg: cg });
    const { a, data } = anonWritten(p, 4);
    expect(cg.usagePages).toBe(4);
    const failcnt = cg.failcnt;
    const rss = p.rss();

    sim.run('migrate', drv.toDeviceTask(p, a, 4));
    expect(cg.usagePages).toBe(4);
    expect(p.rss()).toEqual(rss);
    for (let i = 0; i < 4; i++) expect(sim.page(p.pte(a + i * PAGE_SIZE).pfn).memcg).toBe('cg');

    // The cgroup is at its limit: a new page cannot be charged, a hole cannot be filled on the device...
    const b = p.mmap(PAGE_SIZE, RW, ANON);
    sim.run('hole', drv.toDeviceTask(p, b, 1));
    expect(p.pte(b).kind).toBe('none');
    expect(cg.failcnt).toBe(failcnt + 1);
    expect(drv.allocated).toBe(4);

    // ...but migrating back moves the charge with the page: a fault, then an eviction.
    expect(p.read(a, PAGE_SIZE)).toEqual(page(data, 0));
    sim.run('evict', drv.toRamTask(p, a, 4));
    for (let i = 0; i < 4; i++) {
      const pte = p.pte(a + i * PAGE_SIZE);
      expect(pte.kind).toBe('present');
      expect(sim.page(pte.pfn).memcg).toBe('cg');
    }
    expect(cg.usagePages).toBe(4);
    expect(cg.failcnt).toBe(failcnt + 1);
    expect(p.rss()).toEqual(rss);
    expect(p.read(a, 4 * PAGE_SIZE)).toEqual(data);
  });

  it('munmap and exit of device-backed memory run the free callback and leak nothing', () => {
    const sim = new Simulator({ ramPages: 64 });
    const drv = new TestDriver(sim.kernel);
    const cg = sim.createMemcg('cg', 64);
    const free0 = sim.kernel.mem.freePages;
    const p = sim.createProcess({ memcg: cg });
    const { a } = anonWritten(p, 3);
    const b = p.mmap(2 * PAGE_SIZE, RW, ANON); // holes
    sim.run('m1', drv.toDeviceTask(p, a, 3));
    sim.run('m2', drv.toDeviceTask(p, b, 2));
    expect(drv.allocated).toBe(5);
    const devPfns = [0, 1, 2].map((i) => p.pte(a + i * PAGE_SIZE).pfn);

    p.munmap(a, 3 * PAGE_SIZE);
    expect(drv.frees).toBe(3);
    for (const pfn of devPfns) {
      expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 0, memcg: null, flags: ['reserved'] });
      expect(sim.kernel.mem.store.mapping[pfn]).toBe(0);
    }
    const child = p.fork();
    p.exit();
    expect(drv.frees).toBe(3);
    child.exit();
    expect(drv.frees).toBe(5);
    expect(drv.allocated).toBe(0);
    expect(drv.backing.size).toBe(0);
    expect(cg.usagePages).toBe(0);
    expect(sim.kernel.mem.freePages).toBe(free0);
  });
});

describe('migrate_vma: pages mapped in several processes', () => {
  it('unmaps a page from every process that maps it (try_to_unmap) and maps the device page in each', () => {
    const { sim, drv, p } = setup();
    const { a, data } = anonWritten(p, 2);
    const child = p.fork();
    const pfn = p.pte(a).pfn;
    expect(child.pte(a).pfn).toBe(pfn);
    expect(sim.page(pfn).mapcount).toBe(2);

    const r = sim.run('migrate', drv.toDeviceTask(p, a, 2));
    expect(migratePfnFlags(r.src[0]!) & MIGRATE_PFN_WRITE).toBe(0); // fork write-protected it
    for (const q of [p, child]) {
      for (let i = 0; i < 2; i++)
        expect(q.pte(a + i * PAGE_SIZE)).toMatchObject({ kind: 'device-private', write: false });
    }
    const dev = p.pte(a).pfn;
    expect(child.pte(a).pfn).toBe(dev);
    expect(sim.page(dev)).toMatchObject({ refcount: 3, mapcount: 2 });
    expect(sim.page(pfn).flags).toContain('buddy');
    expect(p.rss()).toEqual(child.rss());

    // The child's CPU access migrates it back for both.
    expect(child.read(a, 2 * PAGE_SIZE)).toEqual(data);
    expect(drv.faults).toBe(2);
    const back = child.pte(a).pfn;
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: back, write: false });
    expect(sim.page(back).mapcount).toBe(2);
    expect(drv.allocated).toBe(0);
    // COW still works on the migrated-back page.
    p.write(a, new Uint8Array([0x42]));
    expect(p.pte(a).pfn).not.toBe(back);
    expect(child.read(a, 1)).toEqual(data.subarray(0, 1));
  });

  it('fork after migration duplicates device-private entries, write-protected on both sides', () => {
    const { sim, drv, p } = setup();
    const { a, data } = anonWritten(p, 2);
    sim.run('migrate', drv.toDeviceTask(p, a, 2));
    const dev = p.pte(a).pfn;
    expect(p.pte(a).write).toBe(true);
    const child = p.fork();
    for (const q of [p, child]) {
      expect(q.pte(a)).toMatchObject({ kind: 'device-private', write: false, pfn: dev });
      expect(q.rss().anon).toBe(2);
    }
    expect(sim.page(dev)).toMatchObject({ refcount: 3, mapcount: 2 });
    // A write by the parent faults the page back (both mappings become RAM), then COWs it.
    p.write(a, new Uint8Array([1, 2, 3]));
    expect(child.pte(a).kind).toBe('present');
    expect(child.read(a, 3)).toEqual(data.subarray(0, 3));
    expect(p.read(a, 3)).toEqual(new Uint8Array([1, 2, 3]));
    expect(drv.frees).toBe(1);
  });
});

describe('migrate_vma: struct-page migration of file pages between RAM pages', () => {
  it('replaces the page in the page cache and moves its charge (migrate_page with a mapping)', () => {
    const { sim, p } = setup();
    const mem = sim.kernel.mem;
    const file = sim.createFile(PAGE_SIZE);
    file.pwrite(pattern(1, 3), 0);
    const a = p.mmap(PAGE_SIZE, RW, MAP_SHARED, file);
    p.read(a, 1);
    const old = p.pte(a).pfn;
    const drv = new TestDriver(sim.kernel);
    const ops = {
      allocAndCopy: (_v: unknown, src: Float64Array, dst: Float64Array) => {
        const n = mem.allocPage();
        mem.trylockPage(n);
        mem.copyPage(n, migratePfnToPage(src[0]!));
        dst[0] = n * 64 + MIGRATE_PFN_VALID + MIGRATE_PFN_LOCKED;
      },
      finalizeAndMap: () => {},
    };
    const r = sim.run('move', drv.migrate(p, a, 1, ops));
    expect(migratePfnFlags(r.src[0]!) & MIGRATE_PFN_MIGRATE).toBeTruthy();
    const now = p.pte(a).pfn;
    expect(now).not.toBe(old);
    expect(file.mapping.findPage(0)).toBe(now);
    expect(sim.page(now)).toMatchObject({ refcount: 2, mapcount: 1, memcg: 'root' });
    expect(sim.page(old).flags).toContain('buddy');
    expect(p.pte(a).write).toBe(true);
    expect(file.pread(PAGE_SIZE, 0)).toEqual(pattern(1, 3));
  });
});

describe('migrate_vma: device entries and other swap entries at collect', () => {
  it('collects device-private entries (VALID|DEVICE|WRITE) and keeps a declined one in place', () => {
    const { sim, drv, p } = setup();
    const { a } = anonWritten(p, 2);
    sim.run('migrate', drv.toDeviceTask(p, a, 1));
    const r = sim.run('again', drv.toDeviceTask(p, a, 2));
    const dev = p.pte(a).pfn;
    // The driver declined the device page (it is already there), so MIGRATE was cleared.
    expect(migratePfnFlags(r.src[0]!)).toBe(
      MIGRATE_PFN_VALID | MIGRATE_PFN_DEVICE | MIGRATE_PFN_WRITE | MIGRATE_PFN_LOCKED,
    );
    expect(migratePfnToPage(r.src[0]!)).toBe(dev);
    expect(p.pte(a)).toMatchObject({ kind: 'device-private', write: true, pfn: dev });
    expect(sim.page(dev)).toMatchObject({ refcount: 2, mapcount: 1 });
    expect(p.pte(a + PAGE_SIZE).kind).toBe('device-private');
    expect(drv.allocated).toBe(2);
  });
});
