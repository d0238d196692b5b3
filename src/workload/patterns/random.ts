/**
 * Random access: HPCC RandomAccess ("ra" in UVMSmart's suite; NVIDIA's random_warp kernels). One
 * table fills the footprint; each launch makes as many updates as the table has pages, thread t
 * making its share at pages drawn from its own seeded stream, each a read-modify-write of the page
 * (RandomAccess XORs a table word). No spatial locality beyond the page: prefetched neighbours are
 * wasted, and oversubscribed, every policy misses. The host verifies the table at the end.
 */

import { Prng } from '../../core/prng.js';
import type { DevicePhase, Workload, WorkloadParams, WorkloadPhase } from './workload.js';
import { ArrayLayout, cpuSweep, pagesIn, readOf, writeOf } from './workload.js';

/** The seed of thread t's stream in iteration `it`: distinct per (seed, iteration, thread). */
function threadSeed(seed: number, it: number, t: number): number {
  return (seed ^ Math.imul(it + 1, 0x9e3779b1) ^ Math.imul(t + 1, 0x85ebca6b)) >>> 0;
}

/** HPCC RandomAccess (see the file comment). */
export function randomWorkload(p: WorkloadParams): Workload {
  const n = pagesIn(p.footprint);
  const layout = new ArrayLayout();
  const table = layout.add('table', n);
  const update = (it: number): DevicePhase => ({
    kind: 'device',
    name: 'random_update',
    threads: p.threads,
    *thread(t) {
      const prng = new Prng(threadSeed(p.seed, it, t));
      for (let i = t; i < n; i += p.threads) {
        const page = table + prng.below(n);
        yield readOf(page);
        yield writeOf(page);
      }
    },
  });
  return {
    name: 'random',
    imitates: 'HPCC RandomAccess (UVMSmart ra): read-modify-writes of uniformly random pages',
    arrays: layout.arrays,
    *phases(): Iterable<WorkloadPhase> {
      for (let it = 0; it < p.iterations; it++) yield update(it);
      yield cpuSweep('host verifies the table', table, n);
    },
  };
}
