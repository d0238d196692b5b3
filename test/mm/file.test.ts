import { describe, expect, it } from 'vitest';
import { KernelBug } from '../../src/core/assert.js';
import { ArgumentError, HmmError, SegvError } from '../../src/core/errno.js';
import { AddressSpace } from '../../src/mm/file.js';
import { MAP_PRIVATE, MAP_SHARED, PROT_READ } from '../../src/mm/mmap.js';
import { PG_swapbacked, PG_uptodate } from '../../src/mm/page.js';
import { PhysMem } from '../../src/mm/page_alloc.js';
import { bytes, fill, newSim, PG, RW, SHARED_ANON, setup, thrown } from './helpers.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

describe('mm/file: the page cache (find_or_create_page)', () => {
  it('a missing page is allocated zeroed, inserted at its index, charged, with one reference', () => {
    const mem = new PhysMem({ ramPages: 4 });
    const cg = mem.memcgs.create('cg', 10);
    const as = new AddressSpace(7, 'f', PG * 2 + 1, false, cg.id);
    expect(as.npages).toBe(3);
    expect(as.findPage(1)).toBe(-1);
    const pfn = as.findOrCreatePage(mem, 1, cg.id);
    expect(pfn).toBeGreaterThan(0);
    expect(as.findPage(1)).toBe(pfn);
    expect(as.findOrCreatePage(mem, 1, cg.id)).toBe(pfn);
    expect(mem.store.flags[pfn]).toBe(PG_uptodate);
    expect(mem.store.mapping[pfn]).toBe(7);
    expect(mem.store.index[pfn]).toBe(1);
    expect(mem.store.refcount[pfn]).toBe(1);
    expect(cg.usagePages).toBe(1);
    const shm = new AddressSpace(8, 's', PG, true, cg.id);
    expect(mem.store.flags[shm.findOrCreatePage(mem, 0, cg.id)]).toBe(PG_uptodate | PG_swapbacked);
  });

  it('returns -1 when memory or the memcg runs out, leaving no page behind', () => {
    const mem = new PhysMem({ ramPages: 2 });
    const cg = mem.memcgs.create('cg', 1);
    const as = new AddressSpace(1, 'f', 8 * PG, false, cg.id);
    expect(as.findOrCreatePage(mem, 0, cg.id)).toBeGreaterThan(0);
    expect(as.findOrCreatePage(mem, 1, cg.id)).toBe(-1);
    expect(mem.freePages).toBe(1);
    expect(as.findOrCreatePage(mem, 1, mem.memcgs.root.id)).toBeGreaterThan(0);
    expect(as.findOrCreatePage(mem, 2, mem.memcgs.root.id)).toBe(-1);
    expect(as.pages.size).toBe(2);
  });

  it('evict drops the cache references; evicting a mapped file is a BUG', () => {
    const mem = new PhysMem({ ramPages: 2 });
    const as = new AddressSpace(1, 'f', PG, false, 1);
    const pfn = as.findOrCreatePage(mem, 0, 1);
    as.mmaps.add({} as never);
    expect(thrown(KernelBug, () => as.evict(mem)).message).toBe('evict: f is still mapped');
    as.mmaps.clear();
    as.evict(mem);
    expect(as.pages.size).toBe(0);
    expect(mem.freePages).toBe(2);
    expect(mem.store.mapping[pfn]).toBe(0);
  });
});

describe('mm/file: pread and pwrite (SimFile)', () => {
  it('pwrite across page boundaries grows the file; pread is short at EOF and reads holes as zeros', () => {
    const sim = newSim();
    const f = sim.createFile(10);
    expect(f.size).toBe(10);
    expect(f.name).toBe('file1');
    expect(f.pwrite(text('abcdef'), PG - 3)).toBe(6);
    expect(f.size).toBe(PG + 3);
    expect(str(f.pread(6, PG - 3))).toBe('abcdef');
    expect([...f.pread(4, 0)]).toEqual([0, 0, 0, 0]);
    expect(f.pread(100, PG)).toHaveLength(3);
    expect(f.pread(5, 2 * PG)).toHaveLength(0);
    expect(f.mapping.pages.size).toBe(2);
    expect(sim.page(f.mapping.findPage(0)).flags).toEqual(['dirty']);
  });

  it('argument errors and ENOMEM', () => {
    const sim = newSim({ ramPages: 1 });
    expect(thrown(ArgumentError, () => sim.createFile(0)).argument).toBe('size');
    const f = sim.createFile(3 * PG);
    expect(thrown(ArgumentError, () => f.pwrite([1] as unknown as Uint8Array, 0)).argument).toBe('bytes');
    expect(thrown(ArgumentError, () => f.pwrite(bytes(1), -1)).argument).toBe('offset');
    expect(thrown(ArgumentError, () => f.pread(-1, 0)).argument).toBe('length');
    f.pwrite(bytes(1), 0);
    expect(thrown(HmmError, () => f.pwrite(bytes(1), PG)).code).toBe('ENOMEM');
  });

  it('a file extended by pwrite can be faulted beyond its old EOF', () => {
    const sim = newSim();
    const f = sim.createFile(PG);
    const p = sim.createProcess();
    const a = p.mmap(2 * PG, PROT_READ, MAP_SHARED, f);
    expect(thrown(SegvError, () => p.read(a + PG, 1)).signal).toBe('SIGBUS');
    f.pwrite(text('more'), PG);
    expect(str(p.read(a + PG, 4))).toBe('more');
  });

  it('a mapping at a file offset sees the pages from that offset', () => {
    const sim = newSim();
    const f = sim.createFile(4 * PG);
    f.pwrite(text('page2'), 2 * PG);
    const p = sim.createProcess();
    const a = p.mmap(PG, PROT_READ, MAP_PRIVATE, f, 2 * PG);
    expect(str(p.read(a, 5))).toBe('page2');
    expect(p.pte(a).pfn).toBe(f.mapping.findPage(2));
    expect(sim.kernel.mem.store.index[p.pte(a).pfn]).toBe(2);
  });
});

describe('mm/file: shmem objects (shmem_zero_setup)', () => {
  it('each MAP_SHARED|MAP_ANONYMOUS mapping gets its own inode, freed with its last mapping', () => {
    const { sim, p } = setup();
    const a = p.mmap(2 * PG, RW, SHARED_ANON);
    const b = p.mmap(PG, RW, SHARED_ANON);
    p.write(a, fill(2 * PG, 1));
    p.write(b, bytes(2));
    expect(p.vmas()).toHaveLength(2); // different inodes never merge
    const mappings = sim.kernel.mappings.size;
    p.munmap(a + PG, PG);
    // the inode is still mapped by the first page: its pages stay in its page cache
    expect(sim.stats().usedPages).toBe(3);
    expect(p.rss().shmem).toBe(2);
    p.munmap(a, PG);
    expect(sim.stats().usedPages).toBe(1);
    expect(sim.kernel.mappings.size).toBe(mappings - 1);
    expect([...p.read(b, 1)]).toEqual([2]);
  });

  it('a forked child keeps the shmem object alive after the parent unmaps it', () => {
    const { sim, p } = setup();
    const a = p.mmap(PG, RW, SHARED_ANON);
    p.write(a, bytes(5));
    const child = p.fork();
    p.munmap(a, PG);
    expect(sim.stats().usedPages).toBe(1);
    expect([...child.read(a, 1)]).toEqual([5]);
    child.exit();
    expect(sim.stats().usedPages).toBe(0);
  });
});
