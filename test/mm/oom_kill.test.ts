import { describe, expect, it } from 'vitest';
import { MAP_LOCKED, MAP_PRIVATE, MAP_SHARED, PROT_READ } from '../../src/mm/mmap.js';
import { oomReapTaskMm } from '../../src/mm/oom_kill.js';
import { schedule } from '../../src/sched/index.js';
import {
  ANON,
  type Event,
  fill,
  mmapAt,
  newSim,
  PG,
  RW,
  record,
  roundRobin,
  SHARED_ANON,
  starts,
} from './helpers.js';

describe('mm/oom_kill: __oom_reap_task_mm', () => {
  it('tears down private mappings with non-blockable invalidations and skips shared, locked and pfnmap VMAs', () => {
    const sim = newSim();
    const f = sim.createFile(2 * PG);
    const p = sim.createProcess();
    const anon = mmapAt(p, 0x1000_0000, 2 * PG, RW, ANON);
    const priv = mmapAt(p, 0x2000_0000, 2 * PG, RW, MAP_PRIVATE, f);
    const shm = mmapAt(p, 0x3000_0000, PG, RW, SHARED_ANON);
    const shf = mmapAt(p, 0x4000_0000, PG, RW, MAP_SHARED, f);
    const lck = mmapAt(p, 0x5000_0000, PG, RW, ANON | MAP_LOCKED);
    const pfn = p.mmapSpecial(PG, PROT_READ, 'pfnmap');
    p.write(anon, fill(2 * PG, 1));
    p.write(priv, fill(1, 1)); // a COW copy
    p.read(priv + PG, 1); // a page-cache page
    p.write(shm, fill(1, 1));
    p.write(shf, fill(1, 1));
    p.write(lck, fill(1, 1));
    expect(p.rss()).toEqual({ anon: 4, file: 2, shmem: 1, swapents: 0 });
    const { log } = record(p);

    expect(sim.run('oom_reaper', oomReapTaskMm(p.mm))).toBe(true);
    expect(starts(log)).toEqual([
      ['CLEAR', anon, anon + 2 * PG],
      ['CLEAR', priv, priv + 2 * PG],
    ]);
    expect(log.filter((e: Event) => e.blockable !== undefined).every((e) => e.blockable === false)).toBe(
      true,
    );
    expect(p.pte(anon).kind).toBe('none');
    expect(p.pte(priv).kind).toBe('none');
    expect(p.pte(priv + PG).kind).toBe('none');
    expect(p.pte(shm).kind).toBe('present');
    expect(p.pte(shf).kind).toBe('present');
    expect(p.pte(lck).kind).toBe('present');
    expect(p.pte(pfn)).toMatchObject({ kind: 'present', special: true });
    expect(p.rss()).toEqual({ anon: 1, file: 1, shmem: 1, swapents: 0 });
    // the VMAs themselves stay: the victim still exits normally
    expect(p.vmas()).toHaveLength(6);
    expect(sim.stats().counters.oom_reap).toBe(1);
    p.exit();
    expect(sim.stats().usedPages).toBe(2); // the regular file's page cache
  });

  it('gives up (returns false) without reaping when mmap_sem cannot be taken', () => {
    const sim = newSim();
    const p = sim.createProcess();
    const a = p.mmap(PG, RW, ANON);
    p.write(a, fill(1, 1));
    const ex = sim.executor(roundRobin);
    let reaped: boolean | null = null;
    ex.spawn(
      'victim',
      (function* () {
        yield* p.mm.mmapSem.downWrite();
        yield* schedule('holding mmap_sem');
        yield* schedule('holding mmap_sem');
        p.mm.mmapSem.upWrite();
      })(),
    );
    ex.spawn(
      'oom_reaper',
      (function* () {
        yield* schedule('wait');
        reaped = yield* oomReapTaskMm(p.mm);
      })(),
    );
    expect(ex.run().status).toBe('done');
    expect(reaped).toBe(false);
    expect(p.pte(a).kind).toBe('present');
    expect(p.rss().anon).toBe(1);
  });
});
