import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/core/addr.js';
import { FOLL_WRITE, getUserPages } from '../../src/mm/gup.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/mmap.js';
import type { Task } from '../../src/sched/index.js';
import { Simulator } from '../../src/sim/simulator.js';

/** hmm.rst: "device memory can never be pinned by a device driver nor through GUP". */
describe('GUP on device-private memory', () => {
  it('migrates the page back to system memory first, and pins the RAM page, never the device page', () => {
    const sim = new Simulator({ ramPages: 256, devices: [{ memoryPages: 16 }] });
    const p = sim.createProcess();
    const a = p.mmap(2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    p.write(a, new Uint8Array([5, 6, 7]));
    const fd = sim.openDevice(0, p);
    expect(fd.migrate(a, 2).cpages).toBe(2);
    const devPfn = p.pte(a).pfn;
    expect(p.pte(a).kind).toBe('device-private');
    expect(sim.page(devPfn).zone).toBe('device');

    const pins: number[] = [];
    const n = sim.run(
      'gup',
      (function* (): Task<number> {
        yield* p.mm.mmapSem.downRead();
        try {
          return yield* getUserPages(p.mm, a, 1, FOLL_WRITE, pins);
        } finally {
          p.mm.mmapSem.upRead();
        }
      })(),
    );
    expect(n).toBe(1);
    const ram = pins[0]!;
    expect(sim.page(ram).zone).toBe('normal');
    expect(p.pte(a)).toMatchObject({ kind: 'present', pfn: ram, write: true });
    // the mapping's reference plus the pin; the device page went back to its free list
    expect(sim.page(ram)).toMatchObject({ refcount: 2, mapcount: 1 });
    expect(sim.page(devPfn).refcount).toBe(1);
    expect(sim.device(0).cfree).toBe(1);
    expect([...p.read(a, 3)]).toEqual([5, 6, 7]);
    // the second page was not touched by GUP: still on the device
    expect(p.pte(a + PAGE_SIZE).kind).toBe('device-private');
    sim.kernel.mem.putPage(ram);
    fd.close();
    p.exit();
    expect(sim.device(0).freeCount).toBe(16);
    expect(sim.stats().freePages).toBe(256);
  });
});
