/**
 * doAnonymousPages, the first-touch run HMM's fault loops take: on the same input its end state
 * must be exactly what handle_mm_fault page by page leaves (page tables, struct pages, rss, memcg
 * charges, vm counters), and it must stop where handle_mm_fault would do more than
 * do_anonymous_page.
 */

import { describe, expect, it } from 'vitest';
import { PMD_SIZE } from '../../src/core/addr.js';
import { doAnonymousPages, FAULT_FLAG_REMOTE, FAULT_FLAG_WRITE, handleMmFault } from '../../src/mm/fault.js';
import { MADV_HUGEPAGE } from '../../src/mm/madvise.js';
import type { MemCgroup } from '../../src/mm/memcg.js';
import { MAP_FIXED, MAP_PRIVATE } from '../../src/mm/mmap.js';
import type { Process } from '../../src/sim/process.js';
import type { Simulator, SimulatorOptions } from '../../src/sim/simulator.js';
import { ANON, mmapAt, newSim, PG, RW } from './helpers.js';

/** 2 MiB aligned: a fresh PMD span starts here. */
const BASE = 0x7e00_0000_0000;

interface Machine {
  sim: Simulator;
  p: Process;
  cg: MemCgroup;
}

function machine(pages: number, opts: SimulatorOptions = {}, limit = 1 << 20): Machine {
  const sim = newSim({ ramPages: 1024, ...opts });
  const cg = sim.createMemcg('cg', limit);
  const p = sim.createProcess({ memcg: cg });
  mmapAt(p, BASE, pages * PG, RW, ANON | MAP_FIXED);
  return { sim, p, cg };
}

/** Everything a fault can change: the arrays as one string of bytes each, the rest as values. */
function state(m: Machine): unknown {
  const k = m.p.mm.kernel;
  const s = k.mem.store;
  const arrays = { lo: k.pt.lo, hi: k.pt.hi, flags: s.flags, refcount: s.refcount, mapcount: s.mapcount };
  const more = { mapping: s.mapping, index: s.index, memcg: s.memcg };
  const bytes: Record<string, string> = {};
  for (const [name, a] of Object.entries({ ...arrays, ...more }))
    bytes[name] = Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  return {
    bytes,
    tables: k.pt.live,
    rss: [...m.p.mm.rss],
    usage: m.cg.usagePages,
    failcnt: m.cg.failcnt,
    free: k.mem.freePages,
    counters: k.counters.toJSON(),
    anonVma: m.p.mm.findVma(BASE)?.anonVma !== null,
  };
}

/** doAnonymousPages over [BASE + from, BASE + to) pages, in a thread holding mmap_sem for read. */
function fast(m: Machine, from: number, to: number, flags: number): number {
  const mm = m.p.mm;
  return m.sim.run(
    'fast',
    (function* () {
      yield* mm.mmapSem.downRead();
      const n = doAnonymousPages(mm, mm.findVma(BASE)!, BASE + from * PG, BASE + to * PG, flags);
      mm.mmapSem.upRead();
      return n;
    })(),
  );
}

/** handle_mm_fault on each of `n` pages from BASE + from, as the fault loops did before the run. */
function slow(m: Machine, from: number, n: number, flags: number): void {
  const mm = m.p.mm;
  m.sim.run(
    'slow',
    (function* () {
      yield* mm.mmapSem.downRead();
      for (let i = from; i < from + n; i++) yield* handleMmFault(mm, mm.findVma(BASE)!, BASE + i * PG, flags);
      mm.mmapSem.upRead();
    })(),
  );
}

const WRITE = FAULT_FLAG_REMOTE | FAULT_FLAG_WRITE;

/**
 * Two machines built alike (`prepare` runs on both): doAnonymousPages over pages [from, to) on one,
 * handle_mm_fault on the `expected` pages from `from` on the other; their end states must be equal.
 */
function compare(
  from: number,
  to: number,
  flags: number,
  expected: number,
  prepare = (_m: Machine) => {},
): Machine {
  const [a, b] = [machine(16), machine(16)];
  prepare(a);
  prepare(b);
  expect(fast(a, from, to, flags)).toBe(expected);
  slow(b, from, expected, flags);
  expect(state(a)).toEqual(state(b));
  return a;
}

describe('doAnonymousPages: the same end state as handle_mm_fault page by page', () => {
  it('write faults in a PMD with no PTE table: pages, charges, rss and pgfault alike', () => {
    const a = compare(0, 16, WRITE, 16);
    expect(a.p.rss().anon).toBe(16);
    expect(a.cg.usagePages).toBe(16);
    expect(a.sim.stats().counters.pgfault).toBe(16);
  });

  it('read faults map the zero page, allocating nothing', () => {
    const a = compare(0, 8, FAULT_FLAG_REMOTE, 8);
    expect(a.p.pte(BASE + 7 * PG)).toMatchObject({ kind: 'present', pfn: 0, special: true });
    expect(a.p.rss().anon).toBe(0);
  });

  it('stops before the first entry that is not none, and from there handle_mm_fault does the rest', () => {
    const a = compare(2, 8, WRITE, 3, (m) => m.p.write(BASE + 5 * PG, new Uint8Array([1])));
    expect(a.p.pte(BASE + 6 * PG).kind).toBe('none');
  });

  it('stops at the PMD boundary', () => {
    const m = machine(PMD_SIZE / PG + 4);
    expect(fast(m, PMD_SIZE / PG - 2, PMD_SIZE / PG + 4, WRITE)).toBe(2);
    expect(m.p.pte(BASE + PMD_SIZE).kind).toBe('none');
  });

  it('stops before a write the memcg cannot charge, so the fault that follows fails once, counted once', () => {
    const a = machine(8, {}, 3);
    expect(fast(a, 0, 8, WRITE)).toBe(3);
    expect(a.cg.failcnt).toBe(0);
    expect(a.cg.usagePages).toBe(3);
    const b = machine(8, {}, 3);
    slow(b, 0, 3, WRITE);
    expect(state(a)).toEqual(state(b));
  });

  it('stops before a write when RAM is exhausted', () => {
    const m = machine(8);
    const free = m.p.mm.kernel.mem.freePages;
    // leave two free pages
    const mem = m.p.mm.kernel.mem;
    for (let i = 0; i < free - 2; i++) expect(mem.allocPage()).toBeGreaterThan(0);
    expect(fast(m, 0, 8, WRITE)).toBe(2);
    expect(mem.freePages).toBe(0);
  });

  it('leaves a PMD that may take a THP to the PMD level, which then maps one', () => {
    const m = machine(PMD_SIZE / PG, { thp: 'madvise' });
    m.p.madvise(BASE, PMD_SIZE, MADV_HUGEPAGE);
    expect(fast(m, 0, 4, WRITE)).toBe(0);
    expect(m.sim.stats().counters.pgfault ?? 0).toBe(0);
    slow(m, 0, 1, WRITE);
    expect(m.p.rss().anon).toBe(PMD_SIZE / PG);
  });

  it('leaves a file VMA to handle_mm_fault', () => {
    const m = machine(4);
    const f = m.sim.createFile(4 * PG);
    mmapAt(m.p, BASE, 4 * PG, RW, MAP_PRIVATE | MAP_FIXED, f);
    expect(fast(m, 0, 4, WRITE)).toBe(0);
    expect(fast(m, 0, 4, FAULT_FLAG_REMOTE)).toBe(0);
    expect(m.p.pte(BASE).kind).toBe('none');
  });
});
