import { describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/core/errno.js';
import { MemCgroup, MemcgTable } from '../../src/mm/memcg.js';
import { MAP_PRIVATE, PROT_READ } from '../../src/mm/mmap.js';
import { ANON, bytes, fill, newSim, PG, RW, SHARED_ANON, thrown } from './helpers.js';

describe('mm/memcg: try_charge and uncharge', () => {
  it('charges up to the limit, fails past it counting failcnt, tracks the peak', () => {
    const cg = new MemCgroup(1, 'cg', 3);
    expect(cg.tryCharge(2)).toBe(true);
    expect(cg.tryCharge(2)).toBe(false);
    expect(cg.failcnt).toBe(1);
    expect(cg.usagePages).toBe(2);
    expect(cg.tryCharge(1)).toBe(true);
    expect(cg.maxUsagePages).toBe(3);
    cg.uncharge(3);
    expect(cg.usagePages).toBe(0);
    expect(cg.maxUsagePages).toBe(3);
  });

  it('the table has an unlimited root, hands out ids in order and rejects a negative limit', () => {
    const t = new MemcgTable();
    expect(t.root).toMatchObject({ id: 1, name: 'root', limitPages: Number.POSITIVE_INFINITY });
    const a = t.create('a', 0);
    expect(a.id).toBe(2);
    expect(t.get(2)).toBe(a);
    expect(t.get(0)).toBeUndefined();
    expect(t.all().map((g) => g.name)).toEqual(['root', 'a']);
    expect(a.tryCharge(1)).toBe(false);
    expect(thrown(ArgumentError, () => t.create('bad', -1)).argument).toBe('limitPages');
    expect(thrown(ArgumentError, () => t.create('nan', Number.NaN)).argument).toBe('limitPages');
  });
});

describe('mm/memcg: what gets charged to whom', () => {
  it('anonymous pages, page-cache pages a process faults in and its COW copies are charged to its memcg', () => {
    const sim = newSim();
    const cg = sim.createMemcg('job', 100);
    const root = sim.kernel.mem.memcgs.root;
    const f = sim.createFile(2 * PG);
    f.pwrite(bytes(1), 0); // charged to root: no task brought it in
    const p = sim.createProcess({ memcg: cg });
    const a = p.mmap(2 * PG, RW, ANON);
    p.write(a, bytes(1));
    const m = p.mmap(2 * PG, PROT_READ, MAP_PRIVATE, f);
    p.read(m, PG * 2);
    expect(cg.usagePages).toBe(2); // one anonymous page, one page-cache page (page 1)
    expect(sim.page(f.mapping.findPage(0)).memcg).toBe('root');
    expect(sim.page(f.mapping.findPage(1)).memcg).toBe('job');
    expect(root.usagePages).toBe(1);
    p.mprotect(m, 2 * PG, RW);
    p.write(m, bytes(2));
    expect(cg.usagePages).toBe(3);
    expect(sim.page(p.pte(m).pfn).memcg).toBe('job');
  });

  it('freeing uncharges: munmap of anonymous pages, the last unmap of shmem; page cache stays charged', () => {
    const sim = newSim();
    const cg = sim.createMemcg('job', 100);
    const p = sim.createProcess({ memcg: cg });
    const a = p.mmap(4 * PG, RW, ANON);
    p.write(a, fill(4 * PG, 1));
    const s = p.mmap(2 * PG, RW, SHARED_ANON);
    p.write(s, fill(2 * PG, 1));
    const f = sim.createFile(PG);
    const m = p.mmap(PG, PROT_READ, MAP_PRIVATE, f);
    p.read(m, 1);
    expect(cg.usagePages).toBe(7);
    p.munmap(a, 2 * PG);
    expect(cg.usagePages).toBe(5);
    p.munmap(s, PG); // the shmem inode is still mapped: its pages stay
    expect(cg.usagePages).toBe(5);
    p.exit();
    expect(cg.usagePages).toBe(1); // the regular file's page-cache page
    expect(cg.maxUsagePages).toBe(7);
  });

  it('a memcg limit fails only the process in that memcg; the charge failure frees the new page', () => {
    const sim = newSim();
    const small = sim.createMemcg('small', 1);
    const p = sim.createProcess({ memcg: small });
    const q = sim.createProcess();
    const a = p.mmap(2 * PG, RW, ANON);
    const b = q.mmap(2 * PG, RW, ANON);
    p.write(a, bytes(1));
    const used = sim.stats().usedPages;
    expect(() => p.write(a + PG, bytes(1))).toThrow(/ENOMEM/);
    expect(sim.stats().usedPages).toBe(used);
    q.write(b, fill(2 * PG, 1));
    expect(small).toMatchObject({ usagePages: 1, failcnt: 1 });
  });
});

describe('mm/memcg: COW under a limit', () => {
  it('a COW copy that cannot be charged fails the write with ENOMEM and leaves the page shared', () => {
    const sim = newSim();
    const cg = sim.createMemcg('cg', 1);
    const p = sim.createProcess({ memcg: cg });
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    const pfn = p.pte(a).pfn;
    const child = p.fork();
    expect(() => child.write(a, bytes(2))).toThrow(/ENOMEM/);
    expect(cg.failcnt).toBe(1);
    expect(child.pte(a)).toMatchObject({ pfn, write: false });
    expect(sim.page(pfn)).toMatchObject({ refcount: 2, mapcount: 2 });
    expect([...child.read(a, 1)]).toEqual([1]);
  });
});
