/**
 * Dense matrix: PolyBench/GPU 2mm, D = alpha * A * B * C + beta * D, as two tiled matrix products
 * (tmp = A * B, then D = tmp * C + D). Five square matrices of s x s page tiles (32 x 32 floats);
 * thread t computes output tiles t, t + threads, ... (row-major), reading row i of the left matrix
 * and column j of the right one tile by tile (k = 0..s-1), as a shared-memory tiled kernel loads
 * them, then writing its tile (the second kernel reads D's tile first: beta * D). The host reads D
 * at the end. Reuse is heavy and regular: every tile of A and B is read s times per product.
 * A launch makes 2 s^3 accesses, so this generator is the slow one at large footprints.
 */

import type { Workload, WorkloadParams, WorkloadPhase } from './workload.js';
import { ArrayLayout, cpuSweep, gridPhase, pagesIn, readOf, writeOf } from './workload.js';

/** PolyBench 2mm (see the file comment). */
export function gemmWorkload(p: WorkloadParams): Workload {
  const s = Math.max(1, Math.floor(Math.sqrt(pagesIn(p.footprint) / 5)));
  const layout = new ArrayLayout();
  const [A, B, C, tmp, D] = ['A', 'B', 'C', 'tmp', 'D'].map((n) => layout.add(n, s * s)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const product = (name: string, left: number, right: number, out: number, accumulate: boolean) =>
    gridPhase(name, p.threads, s * s, function* (t) {
      const i = Math.floor(t / s);
      const j = t % s;
      if (accumulate) yield readOf(out + t);
      for (let k = 0; k < s; k++) {
        yield readOf(left + i * s + k);
        yield readOf(right + k * s + j);
      }
      yield writeOf(out + t);
    });
  return {
    name: 'gemm',
    imitates: 'PolyBench/GPU 2mm: two tiled matrix products, tmp = A*B and D = tmp*C + D',
    arrays: layout.arrays,
    *phases(): Iterable<WorkloadPhase> {
      for (let it = 0; it < p.iterations; it++) {
        yield product('mm2_kernel1', A, B, tmp, false);
        yield product('mm2_kernel2', tmp, C, D, true);
      }
      yield cpuSweep('host reads D', D, s * s);
    },
  };
}
