import { describe, expect, it } from 'vitest';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, Simulator } from '../../../src/index.js';

const PAGE = 4096;

/**
 * The device's free list is built lazily (DmirrorDevice: pages never handed out are taken lowest
 * first, below the pages given back, which go LIFO), in the order the whole list built at creation
 * handed them out: the frames a migration gets and the free count must be the same.
 */
describe('DmirrorDevice free list', () => {
  it('hands out never-used pages lowest first, given-back pages last in first out, and counts both', () => {
    const sim = new Simulator({ seed: 1, ramPages: 1024, devices: [{ memoryPages: 8 }] });
    const p = sim.createProcess();
    const a = p.mmap(8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    for (let i = 0; i < 8; i++) p.write(a + i * PAGE, new Uint8Array([i + 1]));
    const fd = sim.openDevice(0, p);
    const mdevice = fd.dmirror.mdevice;
    const first = mdevice.devmem.pfnFirst;
    const frame = (i: number): number => fd.dmirror.pt.pfnOf(a / PAGE + i) - first;
    expect(mdevice.freeCount).toBe(8);
    fd.migrate(a, 3);
    expect([frame(0), frame(1), frame(2)]).toEqual([0, 1, 2]);
    expect([mdevice.freeCount, sim.deviceUsedPages(0), mdevice.calloc]).toEqual([5, 3, 3]);
    // the CPU takes pages 0 and 1 back: frames 0 then 1 are freed, so 1 is on top of the list
    expect(p.read(a, 1)[0]).toBe(1);
    expect(p.read(a + PAGE, 1)[0]).toBe(2);
    expect([mdevice.freeCount, mdevice.cfree]).toEqual([7, 2]);
    fd.migrate(a + 3 * PAGE, 4);
    expect([frame(3), frame(4), frame(5), frame(6)]).toEqual([1, 0, 3, 4]);
    expect(mdevice.freeCount).toBe(3);
  });
});
