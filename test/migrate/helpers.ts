import { PAGE_SIZE } from '../../src/core/addr.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/mm/mmap.js';
import type { Process } from '../../src/sim/process.js';
import { Simulator } from '../../src/sim/simulator.js';
import { TestDriver } from './driver.js';

export const RW = PROT_READ | PROT_WRITE;
export const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
export const SHMEM = MAP_SHARED | MAP_ANONYMOUS;
export { PAGE_SIZE };

/** Page i filled with bytes (seed + i + offset) & 0xff. */
export function pattern(npages: number, seed = 1): Uint8Array {
  const b = new Uint8Array(npages * PAGE_SIZE);
  for (let i = 0; i < b.length; i++) b[i] = (seed + i * 7 + (i >> 12)) & 0xff;
  return b;
}

export function setup(ramPages = 256, limit?: number): { sim: Simulator; drv: TestDriver; p: Process } {
  const sim = new Simulator({ ramPages });
  const drv = new TestDriver(sim.kernel, limit);
  const p = sim.createProcess();
  return { sim, drv, p };
}

/** An anonymous RW mapping of npages, written with `pattern(npages, seed)`. */
export function anonWritten(p: Process, npages: number, seed = 1): { a: number; data: Uint8Array } {
  const a = p.mmap(npages * PAGE_SIZE, RW, ANON);
  const data = pattern(npages, seed);
  p.write(a, data);
  return { a, data };
}

export function page(data: Uint8Array, i: number): Uint8Array {
  return data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
}
