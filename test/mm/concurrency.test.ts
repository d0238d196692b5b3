import { describe, expect, it } from 'vitest';
import { SegvError } from '../../src/core/errno.js';
import { MADV_DONTNEED } from '../../src/mm/madvise.js';
import { PROT_READ } from '../../src/mm/mmap.js';
import { MmuNotifier, mmuNotifierRegister } from '../../src/mm/mmu_notifier.js';
import { DfsStrategy, RandomStrategy, type Strategy, schedule, type Task } from '../../src/sched/index.js';
import type { Process } from '../../src/sim/process.js';
import type { Simulator } from '../../src/sim/simulator.js';
import { ANON, fill, newSim, PG, RW } from './helpers.js';

/** A thread body that reports 'ok', or 'segv+<offset from base>' for a SegvError; anything else fails the run. */
function* outcome(body: Task, base: number): Task<string> {
  try {
    yield* body;
    return 'ok';
  } catch (e) {
    if (e instanceof SegvError && e.write) return `segv+${e.addr - base}`;
    throw e;
  }
}

interface Scenario {
  sim: Simulator;
  p: Process;
  a: number;
  results: string[];
}

/** A process with a 2-page anonymous mapping, page 0 written; a writer of both pages and an unmapper. */
function writeVsMunmap(strategy: Strategy): { s: Scenario; status: string; failure: string | null } {
  const sim = newSim({ ramPages: 16 });
  const p = sim.createProcess();
  const a = p.mmap(2 * PG, RW, ANON);
  p.write(a, fill(1, 1));
  const results: string[] = [];
  const ex = sim.executor(strategy);
  ex.spawn(
    'writer',
    (function* () {
      results.push(`writer ${yield* outcome(p.task.write(a + PG - 2, fill(4, 7)), a)}`);
    })(),
  );
  ex.spawn(
    'unmapper',
    (function* () {
      results.push(`unmapper ${yield* outcome(p.task.munmap(a, 2 * PG), a)}`);
    })(),
  );
  const r = ex.run();
  return { s: { sim, p, a, results }, status: r.status, failure: r.failure?.message ?? null };
}

/** What must hold after any interleaving: nothing mapped, nothing leaked, no stray tables. */
function checkClean({ sim, p, results }: Scenario): void {
  expect(results).toContain('unmapper ok');
  const w = results.find((x) => x.startsWith('writer'));
  // the write either finished before the munmap, or faulted at the first byte of one of its two pages
  expect(['writer ok', `writer segv+${PG - 2}`, `writer segv+${PG}`]).toContain(w);
  expect(p.vmas()).toEqual([]);
  expect(p.rss()).toEqual({ anon: 0, file: 0, shmem: 0, swapents: 0 });
  expect(sim.stats().usedPages).toBe(0);
  expect(sim.kernel.pt.live).toBe(1);
  expect(p.mm.mmapSem.isLocked()).toBe(false);
  p.exit();
  expect(sim.kernel.pt.live).toBe(0);
}

describe('concurrency: a CPU write racing munmap', () => {
  it('under RandomStrategy the writer either completes or gets SIGSEGV; nothing leaks or corrupts', () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const { s, status, failure } = writeVsMunmap(new RandomStrategy(seed));
      expect(failure).toBeNull();
      expect(status).toBe('done');
      checkClean(s);
      seen.add(s.results.join(', '));
    }
    // the schedules really interleave: more than one outcome shows up
    expect(seen.size).toBeGreaterThan(1);
  });

  it('under DfsStrategy every schedule with up to 2 preemptions is clean', () => {
    const dfs = new DfsStrategy(2);
    const outcomes = new Set<string>();
    while (dfs.nextExecution()) {
      const { s, status, failure } = writeVsMunmap(dfs);
      expect(failure).toBeNull();
      expect(status).toBe('done');
      checkClean(s);
      outcomes.add(s.results.find((x) => x.startsWith('writer')) ?? '');
    }
    expect(dfs.executions).toBeGreaterThan(5);
    expect(outcomes.has('writer ok')).toBe(true);
    expect([...outcomes].some((o) => o.includes('segv'))).toBe(true);
  });
});

describe('concurrency: faults racing each other and mprotect', () => {
  it('two threads writing the same untouched page allocate it once', () => {
    const dfs = new DfsStrategy(2);
    while (dfs.nextExecution()) {
      const sim = newSim({ ramPages: 8 });
      const p = sim.createProcess();
      const a = p.mmap(PG, RW, ANON);
      const ex = sim.executor(dfs);
      ex.spawn('T0', p.task.write(a, fill(1, 1)));
      ex.spawn('T1', p.task.write(a + 1, fill(1, 2)));
      expect(ex.run().status).toBe('done');
      expect(sim.stats().usedPages).toBe(1);
      expect(p.rss().anon).toBe(1);
      expect(sim.page(p.pte(a).pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
      expect([...p.read(a, 2)]).toEqual([1, 2]);
    }
    expect(dfs.executions).toBeGreaterThan(1);
  });

  it('a write racing mprotect(PROT_READ) either lands before it or is SIGSEGV; the page survives', () => {
    for (let seed = 0; seed < 25; seed++) {
      const sim = newSim({ ramPages: 8 });
      const p = sim.createProcess();
      const a = p.mmap(PG, RW, ANON);
      p.write(a, fill(1, 1));
      const pfn = p.pte(a).pfn;
      const ex = sim.executor(new RandomStrategy(seed));
      let w = '';
      ex.spawn(
        'writer',
        (function* () {
          w = yield* outcome(p.task.write(a, fill(1, 9)), a);
        })(),
      );
      ex.spawn('mprotect', p.task.mprotect(a, PG, PROT_READ));
      expect(ex.run().status).toBe('done');
      expect(['ok', 'segv+0']).toContain(w);
      expect(p.read(a, 1)[0]).toBe(w === 'ok' ? 9 : 1);
      expect(p.pte(a)).toMatchObject({ kind: 'present', pfn, write: false });
      expect(sim.page(pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
    }
  });

  it('a write racing fork: the child sees the old or the new byte, and COW keeps both sides consistent', () => {
    for (let seed = 0; seed < 25; seed++) {
      const sim = newSim({ ramPages: 8 });
      const p = sim.createProcess();
      const a = p.mmap(PG, RW, ANON);
      p.write(a, fill(1, 1));
      const ex = sim.executor(new RandomStrategy(seed));
      let child: Process | null = null;
      ex.spawn('writer', p.task.write(a, fill(1, 2)));
      ex.spawn(
        'forker',
        (function* () {
          child = yield* p.task.fork();
        })(),
      );
      expect(ex.run().status).toBe('done');
      const c = child as unknown as Process;
      expect(p.read(a, 1)[0]).toBe(2);
      expect([1, 2]).toContain(c.read(a, 1)[0]);
      const pfnP = p.pte(a).pfn;
      const pfnC = c.pte(a).pfn;
      const shared = pfnP === pfnC;
      expect(sim.page(pfnP)).toMatchObject(
        shared ? { refcount: 2, mapcount: 2 } : { refcount: 1, mapcount: 1 },
      );
      expect(sim.stats().usedPages).toBe(shared ? 1 : 2);
      c.exit();
      p.exit();
      expect(sim.stats().usedPages).toBe(0);
    }
  });
});

describe('concurrency: COW racing MADV_DONTNEED with a sleeping notifier (wp_page_copy pte_same recheck)', () => {
  it('every schedule ends with one consistent page and no leak', () => {
    const dfs = new DfsStrategy(2);
    const outcomes = new Set<string>();
    while (dfs.nextExecution()) {
      const sim = newSim({ ramPages: 8 });
      const p = sim.createProcess();
      const a = p.mmap(PG, RW, ANON);
      p.write(a, fill(1, 1));
      const child = p.fork();
      const old = p.pte(a).pfn;
      sim.run(
        'reg',
        mmuNotifierRegister(
          new MmuNotifier({
            *invalidateRangeStart() {
              yield* schedule('driver sleeps');
              return 0;
            },
          }),
          p.mm,
        ),
      );
      const ex = sim.executor(dfs);
      ex.spawn('writer', p.task.write(a, fill(1, 2)));
      ex.spawn('dontneed', p.task.madvise(a, PG, MADV_DONTNEED));
      const r = ex.run();
      expect(r.failure?.message ?? null).toBeNull();
      expect(r.status).toBe('done');
      // either the drop came last (nothing mapped, reads zero) or the write did (a page of our own holding 2)
      const pte = p.pte(a);
      outcomes.add(pte.kind);
      if (pte.kind === 'none') {
        expect(sim.stats().usedPages).toBe(1);
        expect(p.rss().anon).toBe(0);
        expect([...p.read(a, 1)]).toEqual([0]);
      } else {
        expect(pte).toMatchObject({ kind: 'present', write: true });
        expect(pte.pfn).not.toBe(old);
        expect(sim.page(pte.pfn)).toMatchObject({ refcount: 1, mapcount: 1 });
        expect(sim.stats().usedPages).toBe(2);
        expect(p.rss().anon).toBe(1);
        expect([...p.read(a, 1)]).toEqual([2]);
      }
      expect(sim.page(old)).toMatchObject({ refcount: 1, mapcount: 1 });
      expect([...child.read(a, 1)]).toEqual([1]);
      p.exit();
      child.exit();
      expect(sim.stats().usedPages).toBe(0);
    }
    expect(outcomes.size).toBeGreaterThan(1);
  });
});
