import { describe, expect, it } from 'vitest';
import { MIGRATE_PFN_MIGRATE, migratePfnFlags } from '../../src/mm/migrate.js';
import type { Strategy, Task } from '../../src/sched/index.js';
import { Completion, DfsStrategy, RandomStrategy } from '../../src/sched/index.js';
import type { Process } from '../../src/sim/process.js';
import { Simulator } from '../../src/sim/simulator.js';
import { type MigrateResult, TestDriver } from './driver.js';
import { ANON, anonWritten, PAGE_SIZE, RW } from './helpers.js';

const NPAGES = 2;

/** A migration to the device whose DMA copy yields, racing a CPU read of the same pages. */
function raceScenario(strategy: Strategy) {
  const sim = new Simulator({ ramPages: 32 });
  const drv = new TestDriver(sim.kernel);
  drv.yieldInCopy = true;
  const p = sim.createProcess();
  const { a, data } = anonWritten(p, NPAGES);
  const ex = sim.executor(strategy);
  let read: Uint8Array | null = null;
  ex.spawn('migrate', drv.toDeviceTask(p, a, NPAGES));
  ex.spawn(
    'cpu',
    (function* (): Task {
      read = yield* p.task.read(a, NPAGES * PAGE_SIZE);
    })(),
  );
  const res = ex.run();
  return { res, read: read as Uint8Array | null, sim, drv, p, a, data };
}

/** Every page is either in RAM or on the device, consistently with the driver's page table. */
function checkConsistent(s: ReturnType<typeof raceScenario>): void {
  const { sim, drv, p, a } = s;
  let onDevice = 0;
  for (let i = 0; i < NPAGES; i++) {
    const addr = a + i * PAGE_SIZE;
    const pte = p.pte(addr);
    const info = sim.page(pte.pfn);
    expect(info.flags).not.toContain('locked');
    if (pte.kind === 'device-private') {
      onDevice++;
      expect(drv.devPt.get(addr)).toBe(pte.pfn);
      expect(info).toMatchObject({ refcount: 2, mapcount: 1 });
    } else {
      expect(pte.kind).toBe('present');
      expect(drv.devPt.has(addr)).toBe(false);
      expect(info).toMatchObject({ refcount: 1, mapcount: 1 });
    }
  }
  expect(drv.allocated).toBe(onDevice);
  expect(p.rss().anon).toBe(NPAGES);
  expect(sim.kernel.mem.freePages).toBe(32 - (NPAGES - onDevice));
  expect(p.read(a, NPAGES * PAGE_SIZE)).toEqual(s.data);
}

describe('migrate_vma racing CPU faults', () => {
  it('a CPU access that meets a migration entry waits for the migration, then sees its result (DFS)', () => {
    const dfs = new DfsStrategy(2);
    let waited = 0;
    let executions = 0;
    while (dfs.nextExecution()) {
      const s = raceScenario(dfs);
      executions++;
      expect(s.res.status, s.res.failure?.message).toBe('done');
      expect(s.read).toEqual(s.data);
      if (s.sim.kernel.counters.get('migration_entry_wait') > 0) {
        waited++;
        // After the wait, the retried access found the page on the device and faulted it back.
        expect(s.drv.faults).toBeGreaterThan(0);
      }
      checkConsistent(s);
    }
    expect(executions).toBeGreaterThan(10);
    expect(waited).toBeGreaterThan(0);
  });

  it('the same under random schedules', () => {
    const strategy = new RandomStrategy(0x5eed);
    let waited = 0;
    for (let run = 0; run < 30; run++) {
      const s = raceScenario(strategy);
      expect(s.res.status, s.res.failure?.message).toBe('done');
      expect(s.read).toEqual(s.data);
      if (s.sim.kernel.counters.get('migration_entry_wait') > 0) waited++;
      checkConsistent(s);
    }
    expect(waited).toBeGreaterThan(0);
  });

  it('a CPU fault that fills a hole during alloc_and_copy wins: insert_page backs off', () => {
    const sim = new Simulator({ ramPages: 32 });
    const drv = new TestDriver(sim.kernel);
    const p = sim.createProcess();
    const a = p.mmap(PAGE_SIZE, RW, ANON);
    const go = new Completion('go');
    drv.onAllocAndCopy = () => go.waitForCompletion();
    const ex = sim.executor();
    let r: MigrateResult | null = null;
    ex.spawn(
      'migrate',
      (function* (): Task {
        r = yield* drv.toDeviceTask(p, a, 1);
      })(),
    );
    ex.spawn('cpu', cpuWriteThenComplete(p, a, go));
    expect(ex.run().status).toBe('done');
    const res = r as MigrateResult | null;
    expect(res?.ret).toBe(0);
    expect(migratePfnFlags(res!.src[0]!) & MIGRATE_PFN_MIGRATE).toBe(0);
    expect(p.pte(a)).toMatchObject({ kind: 'present', write: true });
    expect(p.read(a, 1)).toEqual(new Uint8Array([0x5a]));
    expect(drv.allocated).toBe(0);
    expect(drv.frees).toBe(1);
    expect(sim.kernel.mem.memcgs.root.usagePages).toBe(1);
  });

  it('a second migration of a range under migration collects nothing and calls no callback', () => {
    const sim = new Simulator({ ramPages: 32 });
    const drvA = new TestDriver(sim.kernel);
    const drvB = new TestDriver(sim.kernel);
    const p = sim.createProcess();
    const { a, data } = anonWritten(p, 2);
    const go = new Completion('go');
    drvA.onAllocAndCopy = () => go.waitForCompletion();
    const ex = sim.executor();
    let rb: MigrateResult | null = null;
    ex.spawn('A', drvA.toDeviceTask(p, a, 2));
    ex.spawn(
      'B',
      (function* (): Task {
        rb = yield* drvB.toDeviceTask(p, a, 2);
        go.complete();
      })(),
    );
    expect(ex.run().status).toBe('done');
    const res = rb as MigrateResult | null;
    expect(res?.ret).toBe(0);
    expect([...res!.src]).toEqual([0, 0]);
    expect(drvB.allocAndCopyCalls).toBe(0);
    expect(drvB.finalizeCalls).toBe(0);
    expect(p.pte(a).kind).toBe('device-private');
    expect(drvA.allocated).toBe(2);
    expect(p.read(a, 2 * PAGE_SIZE)).toEqual(data);
  });
});

function* cpuWriteThenComplete(p: Process, a: number, go: Completion): Task {
  yield* p.task.write(a, new Uint8Array([0x5a]));
  go.complete();
}
