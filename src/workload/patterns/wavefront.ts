/**
 * Wavefronts: Rodinia's nw (Needleman-Wunsch) and pathfinder. Work moves across the data in a front,
 * launch after launch, so each launch touches a narrow moving window and reuse is short-lived.
 *
 * - nw: the score matrix and the reference matrix, s x s page tiles each (32 x 32 ints). Rodinia
 *   launches one kernel per anti-diagonal of blocks, first growing (upper-left triangle,
 *   needle_cuda_shared_1) then shrinking (needle_cuda_shared_2); a block reads the score tiles
 *   above, left and above-left of it and its reference tile, and writes its score tile. The host
 *   then traces the alignment back from the bottom-right corner along the diagonal (reading the
 *   diagonal tiles and their left neighbours). `iterations` repeats the whole alignment.
 * - pathfinder: a wall of PATHFINDER_ROWS rows, each w pages wide, and two result rows (src, dst).
 *   Each launch advances PATHFINDER_PYRAMID rows (Rodinia's pyramid height): thread t takes
 *   column pages t, t + threads, ... and reads the src result there, the wall rows of the step, and
 *   writes dst; src and dst swap. The host reads the last result row. `iterations` repeats it.
 */

import type { AccessCode, DevicePhase, Workload, WorkloadParams, WorkloadPhase } from './workload.js';
import { ArrayLayout, cpuSweep, gridPhase, pagesIn, readOf, writeOf } from './workload.js';

/** Rodinia nw (see the file comment). */
export function nwWorkload(p: WorkloadParams): Workload {
  const s = Math.max(1, Math.floor(Math.sqrt(pagesIn(p.footprint) / 2)));
  const layout = new ArrayLayout();
  const score = layout.add('itemsets', s * s);
  const ref = layout.add('reference', s * s);
  const tile = function* (r: number, c: number): Iterable<AccessCode> {
    if (r > 0 && c > 0) yield readOf(score + (r - 1) * s + c - 1);
    if (r > 0) yield readOf(score + (r - 1) * s + c);
    if (c > 0) yield readOf(score + r * s + c - 1);
    yield readOf(ref + r * s + c);
    yield writeOf(score + r * s + c);
  };
  // Diagonal d holds the tiles (r, d - r); rows run from max(0, d - s + 1) to min(d, s - 1).
  const diagonal = (name: string, d: number): DevicePhase => {
    const r0 = Math.max(0, d - s + 1);
    const n = Math.min(d, s - 1) - r0 + 1;
    return gridPhase(name, p.threads, n, (k) => tile(r0 + k, d - r0 - k));
  };
  return {
    name: 'nw',
    imitates: 'Rodinia nw: one launch per anti-diagonal of score tiles, then a host traceback',
    arrays: layout.arrays,
    *phases(): Iterable<WorkloadPhase> {
      for (let it = 0; it < p.iterations; it++) {
        for (let d = 0; d < s; d++) yield diagonal('needle_cuda_shared_1', d);
        for (let d = s; d < 2 * s - 1; d++) yield diagonal('needle_cuda_shared_2', d);
        yield {
          kind: 'cpu',
          name: 'host traceback',
          *accesses() {
            for (let i = s - 1; i >= 0; i--) {
              yield readOf(score + i * s + i);
              if (i > 0) yield readOf(score + i * s + i - 1);
            }
          },
        };
      }
    },
  };
}

/** Rows of pathfinder's wall (Rodinia's default run uses 100; a multiple of the pyramid here). */
export const PATHFINDER_ROWS = 128;
/** Rows one launch advances (Rodinia's pyramid_height of 20, rounded to divide the rows). */
export const PATHFINDER_PYRAMID = 16;

/** Rodinia pathfinder (see the file comment). */
export function pathfinderWorkload(p: WorkloadParams): Workload {
  const w = Math.max(1, Math.floor(pagesIn(p.footprint) / (PATHFINDER_ROWS + 2)));
  const layout = new ArrayLayout();
  const wall = layout.add('wall', PATHFINDER_ROWS * w);
  const results = [layout.add('result_src', w), layout.add('result_dst', w)];
  return {
    name: 'pathfinder',
    imitates: 'Rodinia pathfinder: dynamic programming down a wall, a pyramid of rows per launch',
    arrays: layout.arrays,
    *phases(): Iterable<WorkloadPhase> {
      let [src, dst] = results as [number, number];
      for (let it = 0; it < p.iterations; it++)
        for (let row = 0; row < PATHFINDER_ROWS; row += PATHFINDER_PYRAMID) {
          const [from, to, first] = [src, dst, row];
          yield gridPhase('dynproc_kernel', p.threads, w, function* (j) {
            yield readOf(from + j);
            for (let r = first; r < first + PATHFINDER_PYRAMID; r++) yield readOf(wall + r * w + j);
            yield writeOf(to + j);
          });
          [src, dst] = [dst, src];
        }
      yield cpuSweep('host reads the result row', src, w);
    },
  };
}
