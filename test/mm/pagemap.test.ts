import { describe, expect, it } from 'vitest';
import { TASK_SIZE } from '../../src/core/addr.js';
import { ArgumentError, HmmError } from '../../src/core/errno.js';
import { MAP_PRIVATE, MAP_SHARED, PROT_NONE, PROT_READ } from '../../src/mm/mmap.js';
import { mincore } from '../../src/mm/pagemap.js';
import { pteHiOf, SWP_HWPOISON, SWP_MIGRATION_READ, SWP_SWAPFILE, swpEntryLo } from '../../src/mm/pte.js';
import type { Process } from '../../src/sim/process.js';
import { ANON, bytes, fill, newSim, PG, RW, SHARED_ANON, setup, thrown } from './helpers.js';

const PRESENT = 0x8000_0000; // bit 63
const SWAP = 0x4000_0000; // bit 62
const FILE = 0x2000_0000; // bit 61
const EXCLUSIVE = 0x0100_0000; // bit 56
/** The high word with these bits set, as the unsigned value a Uint32Array holds. */
const hiw = (...bits: number[]) => bits.reduce((a, b) => a | b, 0) >>> 0;

/** [lo, hi] words of page i. */
function entries(p: Process, addr: number, n: number): [number, number][] {
  const w = p.pagemap(addr, n);
  return Array.from({ length: n }, (_, i) => [w[2 * i] as number, w[2 * i + 1] as number]);
}

function setPte(p: Process, addr: number, lo: number, hi: number): void {
  const { pt } = p.sim.kernel;
  pt.set(pt.pteSlotAlloc(p.mm.pgd, addr), lo, hi);
}

describe('mm/pagemap: /proc/pid/pagemap entries', () => {
  it('anonymous pages: present + exclusive + pfn; the zero page: present, pfn 0, no flags; none: 0', () => {
    const { p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, bytes(1));
    p.read(a + PG, 1);
    const pfn = p.pte(a).pfn;
    expect(entries(p, a, 3)).toEqual([
      [pfn, hiw(PRESENT, EXCLUSIVE)],
      [0, PRESENT],
      [0, 0],
    ]);
  });

  it('a page mapped twice loses the exclusive bit; file and shmem pages carry the file bit', () => {
    const sim = newSim();
    const f = sim.createFile(PG);
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    const m = p.mmap(PG, PROT_READ, MAP_PRIVATE, f);
    p.read(m, 1);
    const s = p.mmap(PG, RW, SHARED_ANON);
    p.write(s, bytes(1));
    expect(entries(p, m, 1)).toEqual([[f.mapping.findPage(0), hiw(PRESENT, FILE, EXCLUSIVE)]]);
    expect(entries(p, s, 1)).toEqual([[p.pte(s).pfn, hiw(PRESENT, FILE, EXCLUSIVE)]]);
    const child = p.fork();
    expect(entries(p, a, 1)).toEqual([[p.pte(a).pfn, PRESENT]]);
    expect(entries(child, a, 1)).toEqual([[p.pte(a).pfn, PRESENT]]);
    const q = sim.createProcess();
    const qm = q.mmap(PG, PROT_READ, MAP_SHARED, f);
    q.read(qm, 1);
    expect(entries(p, m, 1)).toEqual([[f.mapping.findPage(0), hiw(PRESENT, FILE)]]);
  });

  it('a PROT_NONE page is still present', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, bytes(1));
    p.mprotect(a, PG, PROT_NONE);
    expect(entries(p, a, 1)).toEqual([[p.pte(a).pfn, hiw(PRESENT, EXCLUSIVE)]]);
  });

  it('swap-type entries: the swap bit and type | offset << 5', () => {
    const { p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    setPte(p, a, swpEntryLo(SWP_SWAPFILE, 5), pteHiOf(5));
    setPte(p, a + PG, swpEntryLo(SWP_HWPOISON, 2 ** 30), pteHiOf(2 ** 30));
    setPte(p, a + 2 * PG, swpEntryLo(SWP_MIGRATION_READ, 9), pteHiOf(9));
    const big = SWP_HWPOISON + 2 ** 30 * 32;
    expect(entries(p, a, 3)).toEqual([
      [SWP_SWAPFILE | (5 << 5), SWAP],
      [big % 2 ** 32, hiw(SWAP, Math.floor(big / 2 ** 32))],
      [SWP_MIGRATION_READ | (9 << 5), SWAP],
    ]);
    // put the entries back to none so nothing dangles
    for (let i = 0; i < 3; i++) setPte(p, a + i * PG, 0, 0);
  });

  it('pages outside any VMA and holes between VMAs read 0, overwriting whatever the buffer held', () => {
    const { p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, fill(3 * PG, 1));
    p.munmap(a + PG, PG);
    const out = new Uint32Array(10).fill(0xdead);
    p.pagemap(a - PG, 5, out);
    expect([...out.slice(0, 2)]).toEqual([0, 0]);
    expect(out[3]).toBe(hiw(PRESENT, EXCLUSIVE));
    expect([...out.slice(4, 6)]).toEqual([0, 0]);
    expect(out[7]).toBe(hiw(PRESENT, EXCLUSIVE));
    expect([...out.slice(8, 10)]).toEqual([0, 0]);
  });

  it('argument errors: unaligned address, zero pages, a short buffer', () => {
    const { p } = setup();
    const a = p.mmap(PG, RW, ANON);
    expect(thrown(ArgumentError, () => p.pagemap(a + 4, 1)).argument).toBe('addr');
    expect(thrown(ArgumentError, () => p.pagemap(a, 0)).argument).toBe('npages');
    expect(thrown(ArgumentError, () => p.pagemap(a, 2, new Uint32Array(3))).argument).toBe('out');
  });
});

describe('mm/pagemap: mincore', () => {
  it('reports present entries, the zero page, protnone entries and cached file pages as resident', () => {
    const sim = newSim();
    const f = sim.createFile(3 * PG);
    f.pwrite(bytes(1), 0);
    const p = sim.createProcess();
    const a = p.mmap(4 * PG, RW, ANON);
    p.write(a, bytes(1));
    p.read(a + PG, 1);
    p.write(a + 2 * PG, bytes(1));
    p.mprotect(a + 2 * PG, PG, PROT_NONE);
    expect([...p.mincore(a, 4 * PG)]).toEqual([1, 1, 1, 0]);
    // page 0 is in the page cache though not mapped; page 1 is a hole in the file; page 2 mapped
    const m = p.mmap(3 * PG, PROT_READ, MAP_PRIVATE, f);
    p.read(m + 2 * PG, 1);
    expect([...p.mincore(m, 3 * PG)]).toEqual([1, 0, 1]);
  });

  it('a swap entry is not resident, a migration entry is', () => {
    const { p } = setup();
    const a = p.mmap(2 * PG, RW, ANON);
    setPte(p, a, swpEntryLo(SWP_SWAPFILE, 5), pteHiOf(5));
    setPte(p, a + PG, swpEntryLo(SWP_MIGRATION_READ, 5), pteHiOf(5));
    expect([...p.mincore(a, 2 * PG)]).toEqual([0, 1]);
    setPte(p, a, 0, 0);
    setPte(p, a + PG, 0, 0);
  });

  it('a hole is ENOMEM; the pages before it were filled in; an unaligned address is EINVAL', () => {
    const { p } = setup();
    const a = p.mmap(3 * PG, RW, ANON);
    p.write(a, fill(3 * PG, 1));
    p.munmap(a + 2 * PG, PG);
    const vec = new Uint8Array(3).fill(9);
    expect(thrown(HmmError, () => p.mincore(a, 3 * PG, vec)).code).toBe('ENOMEM');
    expect([...vec]).toEqual([1, 1, 9]);
    expect(thrown(HmmError, () => p.mincore(a - PG, PG)).code).toBe('ENOMEM');
    expect(thrown(ArgumentError, () => p.mincore(a + 1, PG)).argument).toBe('addr');
    expect(mincore(p.mm, a + 1, PG, new Uint8Array(1))).toBe(-22);
    expect(mincore(p.mm, TASK_SIZE - PG, 2 * PG, new Uint8Array(2))).toBe(-12);
  });
});

describe('mm/pagemap: walkPtes (raw entries, no side effects)', () => {
  it('reports each page’s 64-bit PTE as (lo, hi) words, 0 where no table exists, and changes nothing', () => {
    const { p } = setup();
    const a = p.mmap(4 * PG, RW, ANON);
    p.write(a, fill(PG, 7));
    p.read(a + PG, 1);
    setPte(p, a + 2 * PG, swpEntryLo(SWP_MIGRATION_READ, 5), pteHiOf(5));
    const out = p.walkPtes(a, 4);
    const pfn0 = p.pte(a).pfn;
    // page 0: present | rw | user | accessed | dirty with its pfn; page 1: the zero page, special, read-only
    expect(out[0]! >>> 12).toBe(pfn0);
    expect(out[0]! & 0xfff).toBe(0x67);
    expect([out[2]! >>> 12, out[2]! & 0xfff]).toEqual([0, 0x225]);
    expect([out[4], out[5]]).toEqual([swpEntryLo(SWP_MIGRATION_READ, 5), pteHiOf(5)]);
    expect([out[6], out[7]]).toEqual([0, 0]);
    setPte(p, a + 2 * PG, 0, 0);
    const far = p.mmap(PG, RW, ANON);
    expect([...p.walkPtes(far, 1)]).toEqual([0, 0]);
    expect(p.pte(a + PG).kind).toBe('present');
  });
});
